// The architecture numbers of an AutoencoderKL (diffusers `vae/config.json`), read from the config or
// derived from the weights. Its own header so the key tables (vae_keys.h) and the model (vae.h) both use
// it without including each other.
#pragma once

#include "io/tensor_store.h"

#include <filesystem>
#include <string>
#include <vector>

namespace swd {

// diffusers `vae/config.json` (the fields the architecture depends on). Defaults are SD3's.
// SD1.5 / SDXL add two 1x1 convolutions: quant_conv (2L -> 2L) after the encoder, post_quant_conv (L -> L)
// before the decoder; SD3 has neither.
struct VaeConfig {
    int inChannels = 3;
    int outChannels = 3;
    int latentChannels = 16;
    std::vector<int> blockOutChannels = {128, 256, 512, 512};
    int layersPerBlock = 2;
    int normNumGroups = 32;
    bool midBlockAttention = true;
    double scalingFactor = 1.5305;
    double shiftFactor = 0.0609;
    bool useQuantConv = false;      // quant_conv after the encoder (SD1.5 / SDXL)
    bool usePostQuantConv = false;  // post_quant_conv before the decoder (SD1.5 / SDXL)
    // diffusers' SDXL pipeline decodes in fp32 when the VAE is fp16 and this is set (the SDXL VAE overflows
    // in fp16). The real SD3 and SD1.5 configs also carry it (true) but their pipelines ignore it, so the
    // loader honours it only when asked (VaeLoadOptions::honourForceUpcast).
    bool forceUpcast = true;

    // The SD3 / SD3.5 VAE (identical for Medium and Large).
    static VaeConfig sd3() { return {}; }
    // The SD1.5 VAE (runwayml/stable-diffusion-v1-5 vae/config.json; no scaling_factor there, so diffusers'
    // default 0.18215) and the SDXL one (stabilityai/stable-diffusion-xl-base-1.0: 0.13025, force_upcast).
    static VaeConfig sd15();
    static VaeConfig sdxl();
    // Reads a diffusers AutoencoderKL config.json (SD3, SD1.5 or SDXL); rejects architectures this class does
    // not implement (other block types or activations, per-channel latent statistics) naming the field.
    static VaeConfig fromJson(const std::filesystem::path& configJson);
    // Derives channels, levels, layers per block and the quant convs from the tensor shapes (either key
    // layout). norm_num_groups, scaling and shift are not in the weights: SD3's values without quant convs,
    // diffusers' defaults (0.18215, shift 0, as SD1.5) with them; an SDXL caller must set 0.13025 itself.
    static VaeConfig fromWeights(const TensorStore& weights);

    int numLevels() const { return static_cast<int>(blockOutChannels.size()); }
    // Pixels per latent pixel: 2^(levels − 1) (8 for SD3).
    int downsampleFactor() const { return 1 << (numLevels() - 1); }
    // Throws BadInput naming `origin` when the numbers cannot describe a working model.
    void validate(const std::string& origin) const;
    bool operator==(const VaeConfig& other) const;
};

}  // namespace swd
