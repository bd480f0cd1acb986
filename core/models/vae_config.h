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

    // The SD3 / SD3.5 VAE (identical for Medium and Large).
    static VaeConfig sd3() { return {}; }
    // Reads a diffusers AutoencoderKL config.json; rejects architectures this class does not implement
    // (quant convs, other block types or activations) with a message naming the field.
    static VaeConfig fromJson(const std::filesystem::path& configJson);
    // Derives channels, levels and layers per block from the tensor shapes (either key layout).
    // norm_num_groups, scaling and shift are not in the weights: SD3's values are used.
    static VaeConfig fromWeights(const TensorStore& weights);

    int numLevels() const { return static_cast<int>(blockOutChannels.size()); }
    // Pixels per latent pixel: 2^(levels − 1) (8 for SD3).
    int downsampleFactor() const { return 1 << (numLevels() - 1); }
    // Throws BadInput naming `origin` when the numbers cannot describe a working model.
    void validate(const std::string& origin) const;
    bool operator==(const VaeConfig& other) const;
};

}  // namespace swd
