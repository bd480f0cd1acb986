// The configuration of an SD3 / SD3.5 MMDiT (diffusers' SD3Transformer2DModel config.json), inferred from
// a checkpoint's names and shapes when there is no config, and the two weight layouts: diffusers
// (`transformer/`, separate q/k/v) and the original single file (`model.diffusion_model.*`, fused qkv,
// (shift, scale) halves of norm_out and of the last block's context norm in the other order).
#pragma once

#include "io/tensor_store.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace swd {

enum class MMDiTLayout { Diffusers, SingleFile };
const char* mmditLayoutName(MMDiTLayout layout);

struct MMDiTConfig {
    int sampleSize = 128;  // only the base of a generated pos-embed table; unused when the file has one
    int patchSize = 2;
    int inChannels = 16;
    int outChannels = 16;
    int numLayers = 24;
    int numHeads = 24;
    int headDim = 64;
    int jointAttentionDim = 4096;
    int captionProjectionDim = 1536;  // = hidden size in every SD3 model
    int pooledProjectionDim = 2048;
    int posEmbedMaxSize = 384;
    bool qkNorm = true;                    // per-head RMSNorm of q and k ("rms_norm"); SD3.0 has none
    std::vector<int> dualAttentionLayers;  // MMDiT-X blocks with a second, image-only attention

    int hidden() const { return numHeads * headDim; }
    bool isDual(int layer) const;
    // The last block's context stream only feeds the joint attention (no output, no MLP).
    bool contextPreOnly(int layer) const { return layer == numLayers - 1; }
    // The largest latent height / width the stored pos-embed table covers (pos_embed_max_size · patch).
    int maxLatentSide() const { return posEmbedMaxSize * patchSize; }
    // "24 layers, 24 heads x 64 (hidden 1536), qk rms_norm, dual attention in 13 layers, pos 384".
    std::string describe() const;

    // The published architectures (HF transformer/config.json): SD3.5 Medium (MMDiT-X), SD3.5 Large,
    // SD3 Medium.
    static MMDiTConfig sd35Medium();
    static MMDiTConfig sd35Large();
    static MMDiTConfig sd3Medium();

    // From diffusers' config.json content; `origin` names it in errors. Unknown keys are ignored.
    static MMDiTConfig fromJson(const nlohmann::json& json, const std::string& origin);
    static MMDiTConfig fromJsonFile(const std::filesystem::path& configJson);
    // From the names and shapes of a checkpoint in either layout (head dim from the qk-norm weight, else 64).
    static MMDiTConfig infer(const TensorStore& weights);
    // Which layout the names are in (diffusers `transformer_blocks.*` or original `joint_blocks.*`).
    static MMDiTLayout detectLayout(const TensorStore& weights);

    // Throws BadInput when the numbers cannot describe a model (zero sizes, dual layer out of range...).
    void validate(const std::string& origin) const;
    bool operator==(const MMDiTConfig& other) const;
    bool operator!=(const MMDiTConfig& other) const { return !(*this == other); }
};

using ParameterList = std::vector<std::pair<std::string, std::vector<int64_t>>>;

// Every tensor a checkpoint of this config holds in `layout` (names without the single file's
// "model.diffusion_model." prefix), with its shape, in the reference's order.
ParameterList mmditParameters(const MMDiTConfig& config, MMDiTLayout layout);

}  // namespace swd
