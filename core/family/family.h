// The model-family seam. A family (SD3/3.5 MMDiT today; SD1.5 and SDXL UNets next) says what its models
// are made of and how they are sampled; the session, the CLI, schedule validation and the UI ask it
// instead of switching on the model. Torch-free: the UI reads latent formats, samplers and limits here.
// The components themselves (text conditioner, denoiser, VAE) are behind FamilyModels
// (family/family_models.h), which createModels() makes for a located model set.
//
// Adding a family: a folder core/families/<name>/ with its Family and FamilyModels, and one line in
// family/family_registry.cpp.
#pragma once

#include "pipeline/cost_model.h"
#include "sampling/schedule.h"
#include "util/kinds.h"

#include <array>
#include <memory>
#include <string>
#include <vector>

namespace swd {

struct ModelSet;
struct FamilyLoadOptions;
class FamilyModels;

// How the denoiser's latents relate to the VAE's: decode(latent / scaling + shift), and the RGB
// projection that previews a latent without the VAE (rgb = factors^T · latent + bias, in [-1, 1]).
struct LatentFormat {
    int channels = 16;
    double scalingFactor = 1.5305;
    double shiftFactor = 0.0609;
    int downsample = 8;                            // image pixels per latent pixel
    std::vector<std::array<float, 3>> rgbFactors;  // one row per channel
    std::array<float, 3> rgbBias{};
};

// One model variant a family runs, as the catalog finds, checks and names it.
struct ModelVariant {
    ModelFamily model;
    const char* manifestModel;    // the manifests' model id ("sd35_medium")
    const char* sizeManifest;     // the manifest whose dimensions are the real size ("sd35_medium.diffusers")
    const char* repo;             // Hugging Face repository of the base model
    const char* singleFile;       // its single-file checkpoint
    const char* adapterManifest;  // the released SwD adapter's manifest ("" when there is none)
};

// What a schedule lists per step, by sampler: SwD's growing scales and sigmas, a flow-matching grid at
// one scale, or DDPM integer timesteps (SiD).
enum class ScheduleKind { ScaleWise, FlowGrid, DdpmTimesteps };

class Family {
public:
    virtual ~Family() = default;

    virtual const char* id() const = 0;    // "sd3"
    virtual const char* name() const = 0;  // "Stable Diffusion 3 / 3.5 (MMDiT)"
    // The model variants (ModelFamily values) this family runs: Any, and each of variants().
    virtual bool serves(ModelFamily model) const = 0;
    // The variants, in the order discovery prefers them when a preset names none.
    virtual const std::vector<ModelVariant>& variants() const = 0;
    virtual const LatentFormat& latentFormat() const = 0;
    // The samplers, in the order the UI offers them, and what each one's schedule lists.
    virtual std::vector<SamplerKind> samplers() const = 0;
    virtual ScheduleKind scheduleKind(SamplerKind sampler) const = 0;
    // Largest latent side a variant's denoiser takes (0: no limit known), and its cost-model shape.
    virtual int maxLatentSide(ModelFamily model) const = 0;
    virtual DenoiserShape costShape(ModelFamily model) const = 0;
    // The components of a located model set, not loaded yet.
    virtual std::unique_ptr<FamilyModels> createModels(const ModelSet& models,
                                                       const FamilyLoadOptions& options) const = 0;
};

// Every registered family, and the one that serves a model variant (Any: the first, SD3). Throws
// Unsupported for a variant no family serves.
const std::vector<const Family*>& registeredFamilies();
const Family& familyFor(ModelFamily model);
// Every registered variant, in the families' order and each family's preference; the one of `model`
// (nullptr for Any); the one whose manifests name it `manifestModel`.
std::vector<ModelVariant> registeredVariants();
const ModelVariant* findVariant(ModelFamily model);
const ModelVariant* findVariantByManifest(const std::string& manifestModel);

// Every problem of a schedule for the family that runs it: the generic checks (validateSchedule) with the
// family's limits, and a sampler the family does not have. limits.maxLatentSide > 0 overrides the
// variant's (the loaded model's own table).
std::vector<ScheduleIssue> validateForFamily(const Schedule& schedule, ScheduleLimits limits = {});

}  // namespace swd
