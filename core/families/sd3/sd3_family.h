// Stable Diffusion 3 / 3.5 (MMDiT, flow matching): the family SwD distils. Its models are the three text
// encoders (CLIP-L, CLIP-G, T5-XXL), the MMDiT transformer with the optional SwD LoRA adapter, and the
// 16-channel VAE; its samplers are SwD's scale-wise sampler and the flow-matching Euler sampler.
#pragma once

#include "family/family.h"

namespace swd {

class Sd3Family final : public Family {
public:
    const char* id() const override { return "sd3"; }
    const char* name() const override { return "Stable Diffusion 3 / 3.5 (MMDiT)"; }
    bool serves(ModelFamily model) const override;
    const std::vector<ModelVariant>& variants() const override;
    const LatentFormat& latentFormat() const override;
    std::vector<SamplerKind> samplers() const override;
    ScheduleKind scheduleKind(SamplerKind sampler) const override;
    int maxLatentSide(ModelFamily model) const override;
    DenoiserShape costShape(ModelFamily model) const override;
    std::unique_ptr<FamilyModels> createModels(const ModelSet& models,
                                               const FamilyLoadOptions& options) const override;
};

}  // namespace swd
