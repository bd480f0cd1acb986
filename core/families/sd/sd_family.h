// Stable Diffusion 1.5 and SDXL (UNet, epsilon prediction on the DDPM schedule): the families SiD distils.
// Their models are CLIP-L (and OpenCLIP bigG for SDXL), the UNet — the base model's, or a SiD generator
// that replaces it — and the 4-channel VAE; their samplers are SiD's few-step loop and the pipelines'
// Euler discrete scheduler with CFG (sampling/ddpm.h). One class, one instance per variant: the two differ
// in numbers (latent scaling, text encoders, time ids), not in code.
#pragma once

#include "family/family.h"

namespace swd {

class SdFamily final : public Family {
public:
    explicit SdFamily(ModelFamily variant);

    const char* id() const override;
    const char* name() const override;
    bool serves(ModelFamily model) const override { return model == m_variant; }
    const std::vector<ModelVariant>& variants() const override { return m_variants; }
    const LatentFormat& latentFormat() const override { return m_format; }
    std::vector<SamplerKind> samplers() const override;
    ScheduleKind scheduleKind(SamplerKind sampler) const override;
    int maxLatentSide(ModelFamily model) const override;
    DenoiserShape costShape(ModelFamily model) const override;
    std::unique_ptr<FamilyModels> createModels(const ModelSet& models,
                                               const FamilyLoadOptions& options) const override;

    bool isXl() const { return m_variant == ModelFamily::SDXL; }

private:
    ModelFamily m_variant;
    std::vector<ModelVariant> m_variants;
    LatentFormat m_format;
};

}  // namespace swd
