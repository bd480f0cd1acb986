// Pairing: everything one run needs (the base model's transformer, VAE, text encoders and tokenizers,
// and the SwD adapter of the preset; for SD 1.5 / SDXL the UNet, VAE, CLIP-L (+ OpenCLIP bigG) and, for
// sid presets, the SiD generator that replaces the base's UNet), located but not loaded. A run with a missing
// part fails here, before anything is loaded, with a message that lists what is missing and every place
// looked.
#pragma once

#include "catalog/model_discovery.h"
#include "sampling/schedule.h"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace swd {

// What the user named on the command line / in the settings, ahead of anything discovered.
struct ModelSetOverrides {
    std::optional<std::filesystem::path> model;    // --model: a diffusers folder or single-file checkpoint
    std::optional<std::filesystem::path> adapter;  // --adapter: a PEFT folder or a LoRA file
};

// One file or folder of a model set, for the run's metadata.
struct ModelSetPart {
    std::string role;  // "transformer" / "unet", "vae", "clip_l", "clip_g", "t5", "adapter"
    std::filesystem::path path;
    std::string source;  // "stabilityai/stable-diffusion-3.5-medium@<revision>:transformer",
                         // "sd3.5_medium.safetensors"
    std::uint64_t bytes = 0;
};

struct ModelSet {  // everything one run needs, located but not loaded
    ModelFamily family = ModelFamily::Any;
    std::string displayName;  // "SD3.5 Medium + yresearch/swd-medium-6-steps"
    bool realSize = true;     // false for a tiny model of the same architecture (tests, demo)
    ComponentDims transformerDims;

    // Paths are what TensorStore::open takes (file, index json or component folder); a prefix selects a
    // component inside a single-file checkpoint ("model.diffusion_model.", "first_stage_model.").
    // `transformer` is the denoiser: the MMDiT (SD3), the UNet or the SiD generator (a .pkl) for SD 1.5 /
    // SDXL.
    std::filesystem::path transformer;
    std::string transformerPrefix;
    // The architecture of a denoiser whose file carries none (a SiD generator pickle, a lone UNet file):
    // the base model's unet/config.json; empty when `transformer` is a folder with its own config.
    std::filesystem::path denoiserConfig;
    WeightLayout transformerLayout = WeightLayout::Diffusers;  // SingleFile: original names (joint_blocks.*)
    std::filesystem::path vae;
    std::string vaePrefix;
    WeightLayout vaeLayout = WeightLayout::Diffusers;
    std::filesystem::path clipL, clipG, t5;  // t5 may be empty: no T5-XXL found (prompts encoded without it)
    std::string clipLPrefix, clipGPrefix, t5Prefix;
    std::filesystem::path clipVocab, clipMerges, t5Spiece, t5TokenizerJson;  // tokenizer files
    std::string tokenizerOrigin;
    std::optional<std::filesystem::path> adapter;  // PEFT folder or LoRA file
    std::optional<LoraInfo> adapterInfo;           // rank, alpha, scale of the adapter

    std::vector<ModelSetPart> parts;
    std::vector<std::string> notes;  // worth telling the user (no T5, tokenizers shipped with swd)

    // For metadata: the family, then per part its name (HF repo@revision and path, or the file name)
    // and size, e.g. "SD3.5 Medium; transformer=stabilityai/...@<rev>:transformer (4939327872 B); ...".
    std::string identity() const;
};

// The outcome of pairing: the set, or what is missing and the full message saying so.
struct ModelSetPlan {
    std::optional<ModelSet> set;
    std::vector<std::string> missing;  // one line per missing part: what it is and where to get it
    std::vector<std::string>
        missingParts;  // the same, short: "SD3.5 Large transformer", "CLIP-G", "adapter <repo>"
    std::vector<std::string> unusable;  // found, would have fit, but broken or the wrong model (with why)
    std::string message;                // the whole explanation (empty when `set` is there)
};

// Pairs a preset with what discovery found. Throws BadInput only for overrides that do not exist or
// are unusable; a missing part is reported in the plan.
ModelSetPlan planModelSet(const Schedule& preset, const DiscoveryResult& found,
                          const ModelSetOverrides& user = {});

// Like planModelSet, but throws BadInput with the plan's message when a part is missing. This is what
// the engine calls before loading anything.
ModelSet resolveModelSet(const Schedule& preset, const DiscoveryResult& found,
                         const ModelSetOverrides& user = {});

// The folders where the tokenizers shipped with the application may be, in search order: beside the
// executable (<exe>/../share/swd-studio/tokenizers), the install prefix, the source tree (tests/data).
std::vector<std::filesystem::path> bundledTokenizerDirs();
// The first complete set of shipped tokenizer files (clip/vocab.json, clip/merges.txt, t5/spiece.model;
// without needT5 the CLIP files are enough: SD 1.5 / SDXL).
std::optional<TokenizerFiles> findBundledTokenizers(bool needT5 = true);

}  // namespace swd
