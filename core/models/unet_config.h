// The configuration of diffusers' UNet2DConditionModel (a `unet/config.json`) as far as the SD1.5 and SDXL
// UNets use it, and every parameter (name, shape) a model of that configuration has. Values the
// implementation (unet.h) does not run are refused when reading a config, naming the field.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace swd {

struct UnetConfig {
    enum class DownType { CrossAttn, Plain };  // CrossAttnDownBlock2D / DownBlock2D
    enum class UpType { CrossAttn, Plain };    // CrossAttnUpBlock2D / UpBlock2D

    int sampleSize = 64;  // informative only (the default latent side)
    int inChannels = 4;
    int outChannels = 4;
    bool flipSinToCos = true;
    double freqShift = 0.0;
    std::vector<DownType> downBlockTypes;  // one per level
    std::vector<UpType> upBlockTypes;      // one per level, deepest first
    std::vector<int> blockOutChannels;
    int layersPerBlock = 2;
    int normNumGroups = 32;
    double normEps = 1e-5;
    int crossAttentionDim = 768;
    // Per level: attention heads (diffusers' `attention_head_dim`, which is the head COUNT in SD configs)
    // and transformer layers of each attention block. The mid block uses the last level's values.
    std::vector<int> numHeads;
    std::vector<int> transformerLayers;
    bool useLinearProjection = false;  // proj_in/out as Linear (SDXL) instead of 1x1 conv (SD1.5)
    bool upcastAttention = false;      // no effect here: attention scores are always fp32
    // addition_embed_type "text_time" (SDXL): pooled text + sinusoids of the time ids.
    bool textTimeEmbedding = false;
    int additionTimeEmbedDim = 0;
    int projectionClassEmbeddingsInputDim = 0;

    int numLevels() const { return static_cast<int>(blockOutChannels.size()); }
    int timeEmbedDim() const { return 4 * blockOutChannels.at(0); }
    // Width of the pooled text embedding that `text_time` expects next to 6 time ids.
    int textEmbedDim() const { return projectionClassEmbeddingsInputDim - 6 * additionTimeEmbedDim; }
    bool midHasAttention() const { return true; }  // UNetMidBlock2DCrossAttn is the only mid block

    // runwayml/stable-diffusion-v1-5 and stabilityai/stable-diffusion-xl-base-1.0 `unet/config.json`.
    static UnetConfig sd15();
    static UnetConfig sdxl();

    // diffusers' config.json content; absent keys take diffusers' constructor defaults, unknown keys are
    // ignored, values this implementation does not support are refused naming the field. `origin`
    // names the file in messages.
    static UnetConfig fromJson(const nlohmann::json& json, const std::string& origin);
    static UnetConfig fromJson(const std::filesystem::path& configJson);

    // Throws BadInput naming `origin` when the numbers cannot describe a working model.
    void validate(const std::string& origin) const;
    bool operator==(const UnetConfig& other) const;
    bool operator!=(const UnetConfig& other) const { return !(*this == other); }
    // "3 levels [320, 640, 1280], heads [5, 10, 20], transformer layers [1, 2, 10], linear proj, ...".
    std::string describe() const;

    // Every parameter in diffusers' state_dict order with its shape.
    std::vector<std::pair<std::string, std::vector<int64_t>>> parameterShapes() const;
};

}  // namespace swd
