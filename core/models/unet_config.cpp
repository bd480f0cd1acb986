#include "models/unet_config.h"

#include "util/error.h"
#include "util/json_reader.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>

namespace swd {

namespace {

using Shapes = std::vector<std::pair<std::string, std::vector<int64_t>>>;

const char* downName(UnetConfig::DownType t) {
    return t == UnetConfig::DownType::CrossAttn ? "CrossAttnDownBlock2D" : "DownBlock2D";
}
const char* upName(UnetConfig::UpType t) {
    return t == UnetConfig::UpType::CrossAttn ? "CrossAttnUpBlock2D" : "UpBlock2D";
}

// A key that must be absent, null or equal to what this implementation runs.
template <typename T>
void requireValue(const JsonField& root, const char* key, const T& supported, const char* what) {
    const auto f = root.find(key);
    if (!f) return;
    bool ok = false;
    if constexpr (std::is_same_v<T, bool>) {
        ok = f->json().is_boolean() && f->asBool() == supported;
    } else if constexpr (std::is_same_v<T, double>) {
        ok = f->json().is_number() && f->asDouble() == supported;
    } else {
        ok = f->json().is_string() && f->asString() == std::string(supported);
    }
    if (!ok)
        throwUnsupported("{} is {}; this UNet implementation only runs {} (SD1.5 / SDXL UNets)", f->where(),
                         describeJson(f->json()), what);
}

void requireNull(const JsonField& root, const char* key) {
    if (const auto f = root.find(key))
        throwUnsupported(
            "{} is {}; this UNet implementation only runs it unset (null), as SD1.5 / SDXL have it",
            f->where(), describeJson(f->json()));
}

// An int, or a list with one int per level (diffusers accepts either).
std::vector<int> perLevel(const JsonField& root, const char* key, int fallback, std::size_t levels) {
    const auto f = root.find(key);
    if (!f) return std::vector<int>(levels, fallback);
    if (f->json().is_array()) {
        for (const auto& e : f->elements())
            if (!e.json().is_number_integer())
                throwUnsupported("{} holds {}; only one integer per level is supported", f->where(),
                                 describeJson(e.json()));
        auto v = f->asIntList(1, 1 << 16);
        if (v.size() != levels)
            throwBadInput("{} has {} entries but there are {} down blocks; give one per level or one integer",
                          f->where(), v.size(), levels);
        return v;
    }
    return std::vector<int>(levels, f->asInt(1, 1 << 16));
}

std::vector<std::string> blockTypes(const JsonField& root, const char* key,
                                    const std::vector<std::string>& fallback) {
    const auto f = root.find(key);
    if (!f) return fallback;
    std::vector<std::string> out;
    for (const auto& e : f->elements()) out.push_back(e.asString());
    return out;
}

void readBlockTypes(const JsonField& root, UnetConfig& c) {
    const auto down =
        blockTypes(root, "down_block_types",
                   {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"});
    const auto up =
        blockTypes(root, "up_block_types",
                   {"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"});
    for (std::size_t i = 0; i < down.size(); ++i) {
        if (down[i] == "CrossAttnDownBlock2D") {
            c.downBlockTypes.push_back(UnetConfig::DownType::CrossAttn);
        } else if (down[i] == "DownBlock2D") {
            c.downBlockTypes.push_back(UnetConfig::DownType::Plain);
        } else {
            throwUnsupported(
                "{}: field \"down_block_types[{}]\" is {}; supported: CrossAttnDownBlock2D, DownBlock2D",
                root.label(), i, quoteForMessage(down[i]));
        }
    }
    for (std::size_t i = 0; i < up.size(); ++i) {
        if (up[i] == "CrossAttnUpBlock2D") {
            c.upBlockTypes.push_back(UnetConfig::UpType::CrossAttn);
        } else if (up[i] == "UpBlock2D") {
            c.upBlockTypes.push_back(UnetConfig::UpType::Plain);
        } else {
            throwUnsupported(
                "{}: field \"up_block_types[{}]\" is {}; supported: CrossAttnUpBlock2D, UpBlock2D",
                root.label(), i, quoteForMessage(up[i]));
        }
    }
}

// Fields whose only supported value is diffusers' default (what SD1.5 and SDXL use).
void rejectUnsupported(const JsonField& root) {
    if (const auto cls = root.stringOr("_class_name", "UNet2DConditionModel"); cls != "UNet2DConditionModel")
        throwUnsupported("{}: field \"_class_name\" is {}, expected UNet2DConditionModel", root.label(),
                         quoteForMessage(cls));
    requireValue(root, "center_input_sample", false, "false");
    requireValue(root, "mid_block_type", "UNetMidBlock2DCrossAttn", "\"UNetMidBlock2DCrossAttn\"");
    requireValue(root, "only_cross_attention", false, "false");
    requireValue(root, "downsample_padding", 1.0, "1");
    requireValue(root, "mid_block_scale_factor", 1.0, "1");
    requireValue(root, "act_fn", "silu", "\"silu\"");
    requireValue(root, "dual_cross_attention", false, "false");
    requireValue(root, "resnet_time_scale_shift", "default", "\"default\"");
    requireValue(root, "resnet_skip_time_act", false, "false");
    requireValue(root, "resnet_out_scale_factor", 1.0, "1.0");
    requireValue(root, "time_embedding_type", "positional", "\"positional\"");
    requireValue(root, "conv_in_kernel", 3.0, "3");
    requireValue(root, "conv_out_kernel", 3.0, "3");
    requireValue(root, "attention_type", "default", "\"default\"");
    requireValue(root, "class_embeddings_concat", false, "false");
    for (const char* key :
         {"num_attention_heads", "reverse_transformer_layers_per_block", "encoder_hid_dim",
          "encoder_hid_dim_type", "class_embed_type", "num_class_embeds", "time_embedding_dim",
          "time_embedding_act_fn", "timestep_post_act", "time_cond_proj_dim", "cross_attention_norm"})
        requireNull(root, key);
    if (const auto f = root.find("mid_block_only_cross_attention");
        f && !(f->json().is_boolean() && !f->asBool()))
        throwUnsupported("{} is {}; only null or false is supported", f->where(), describeJson(f->json()));
    if (const auto f = root.find("layers_per_block"); f && f->json().is_array())
        throwUnsupported("{} is a list; only one integer for every level is supported", f->where());
    if (const auto f = root.find("cross_attention_dim"); f && f->json().is_array())
        throwUnsupported("{} is a list; only one integer for every level is supported", f->where());
}

void readAddedEmbedding(const JsonField& root, UnetConfig& c) {
    const auto add = root.find("addition_embed_type");
    if (!add) return;
    if (!add->json().is_string() || add->asString() != "text_time")
        throwUnsupported("{} is {}; supported: null (SD1.5) or \"text_time\" (SDXL)", add->where(),
                         describeJson(add->json()));
    c.textTimeEmbedding = true;
    c.additionTimeEmbedDim = root.require("addition_time_embed_dim").asInt(2, 1 << 16);
    c.projectionClassEmbeddingsInputDim =
        root.require("projection_class_embeddings_input_dim").asInt(1, 1 << 20);
}

}  // namespace

UnetConfig UnetConfig::sd15() {
    UnetConfig c;
    c.sampleSize = 64;
    c.downBlockTypes = {DownType::CrossAttn, DownType::CrossAttn, DownType::CrossAttn, DownType::Plain};
    c.upBlockTypes = {UpType::Plain, UpType::CrossAttn, UpType::CrossAttn, UpType::CrossAttn};
    c.blockOutChannels = {320, 640, 1280, 1280};
    c.normNumGroups = 32;
    c.crossAttentionDim = 768;
    c.numHeads = {8, 8, 8, 8};
    c.transformerLayers = {1, 1, 1, 1};
    return c;
}

UnetConfig UnetConfig::sdxl() {
    UnetConfig c;
    c.sampleSize = 128;
    c.downBlockTypes = {DownType::Plain, DownType::CrossAttn, DownType::CrossAttn};
    c.upBlockTypes = {UpType::CrossAttn, UpType::CrossAttn, UpType::Plain};
    c.blockOutChannels = {320, 640, 1280};
    c.normNumGroups = 32;
    c.crossAttentionDim = 2048;
    c.numHeads = {5, 10, 20};
    c.transformerLayers = {1, 2, 10};
    c.useLinearProjection = true;
    c.textTimeEmbedding = true;
    c.additionTimeEmbedDim = 256;
    c.projectionClassEmbeddingsInputDim = 2816;
    return c;
}

UnetConfig UnetConfig::fromJson(const nlohmann::json& j, const std::string& origin) {
    if (!j.is_object()) throwBadInput("{}: a UNet config must be a JSON object", origin);
    const JsonField root(j, origin);
    rejectUnsupported(root);
    UnetConfig c;
    readBlockTypes(root, c);
    c.sampleSize = root.intOr("sample_size", 64, 1, 1 << 16);
    c.inChannels = root.intOr("in_channels", 4, 1, 1 << 16);
    c.outChannels = root.intOr("out_channels", 4, 1, 1 << 16);
    c.flipSinToCos = root.boolOr("flip_sin_to_cos", true);
    c.freqShift = root.doubleOr("freq_shift", 0.0);
    if (const auto f = root.find("block_out_channels")) {
        c.blockOutChannels = f->asIntList(1, 1 << 16);
    } else {
        c.blockOutChannels = {320, 640, 1280, 1280};
    }
    const std::size_t levels = c.blockOutChannels.size();
    c.layersPerBlock = root.intOr("layers_per_block", 2, 1, 64);
    c.normNumGroups = root.intOr("norm_num_groups", 32, 1, 1 << 16);
    c.normEps = root.doubleOr("norm_eps", 1e-5);
    c.crossAttentionDim = root.intOr("cross_attention_dim", 1280, 1, 1 << 20);
    c.numHeads = perLevel(root, "attention_head_dim", 8, levels);
    c.transformerLayers = perLevel(root, "transformer_layers_per_block", 1, levels);
    c.useLinearProjection = root.boolOr("use_linear_projection", false);
    c.upcastAttention = root.boolOr("upcast_attention", false);
    readAddedEmbedding(root, c);
    c.validate(origin);
    return c;
}

UnetConfig UnetConfig::fromJson(const std::filesystem::path& configJson) {
    return fromJson(readJsonFile(configJson, "UNet config"), configJson.string());
}

void UnetConfig::validate(const std::string& origin) const {
    const std::size_t levels = blockOutChannels.size();
    if (levels < 1 || levels > 8)
        throwBadInput("{}: block_out_channels must list 1 to 8 levels, found {}", origin, levels);
    if (downBlockTypes.size() != levels || upBlockTypes.size() != levels)
        throwBadInput(
            "{}: down_block_types ({}) and up_block_types ({}) must have one entry per block_out_channels "
            "level ({})",
            origin, downBlockTypes.size(), upBlockTypes.size(), levels);
    if (numHeads.size() != levels || transformerLayers.size() != levels)
        throwBadInput("{}: attention_head_dim and transformer_layers_per_block need one value per level ({})",
                      origin, levels);
    if (inChannels < 1 || outChannels < 1 || layersPerBlock < 1 || crossAttentionDim < 1 || normNumGroups < 1)
        throwBadInput(
            "{}: in/out channels, layers_per_block, cross_attention_dim and norm_num_groups must be "
            "positive",
            origin);
    if (!(normEps > 0.0) || !std::isfinite(normEps)) throwBadInput("{}: norm_eps must be positive", origin);
    if (blockOutChannels[0] % 2 != 0)
        throwBadInput("{}: block_out_channels[0] = {} must be even (its sinusoidal timestep embedding)",
                      origin, blockOutChannels[0]);
    for (std::size_t i = 0; i < levels; ++i) {
        const int ch = blockOutChannels[i];
        if (ch % normNumGroups != 0)
            throwBadInput("{}: block_out_channels[{}] = {} is not divisible by norm_num_groups {}", origin, i,
                          ch, normNumGroups);
        if (ch % numHeads[i] != 0)
            throwBadInput(
                "{}: block_out_channels[{}] = {} is not divisible by its {} attention heads "
                "(attention_head_dim)",
                origin, i, ch, numHeads[i]);
    }
    if (textTimeEmbedding &&
        (additionTimeEmbedDim < 2 || additionTimeEmbedDim % 2 != 0 || textEmbedDim() < 1))
        throwBadInput(
            "{}: addition_time_embed_dim ({}) must be even and projection_class_embeddings_input_dim ({}) "
            "larger than 6 x addition_time_embed_dim (6 time ids + the pooled text embedding)",
            origin, additionTimeEmbedDim, projectionClassEmbeddingsInputDim);
}

bool UnetConfig::operator==(const UnetConfig& o) const {
    return inChannels == o.inChannels && outChannels == o.outChannels && flipSinToCos == o.flipSinToCos &&
           freqShift == o.freqShift && downBlockTypes == o.downBlockTypes && upBlockTypes == o.upBlockTypes &&
           blockOutChannels == o.blockOutChannels && layersPerBlock == o.layersPerBlock &&
           normNumGroups == o.normNumGroups && normEps == o.normEps &&
           crossAttentionDim == o.crossAttentionDim && numHeads == o.numHeads &&
           transformerLayers == o.transformerLayers && useLinearProjection == o.useLinearProjection &&
           textTimeEmbedding == o.textTimeEmbedding && additionTimeEmbedDim == o.additionTimeEmbedDim &&
           projectionClassEmbeddingsInputDim == o.projectionClassEmbeddingsInputDim;
}

std::string UnetConfig::describe() const {
    std::vector<std::string> down, up;
    for (auto t : downBlockTypes) down.push_back(downName(t));
    for (auto t : upBlockTypes) up.push_back(upName(t));
    return fmt::format(
        "{} levels [{}] ({} / {}), {} layers per block, heads [{}], transformer layers [{}], {} proj, "
        "cross_attention_dim {}, groups {}{}",
        numLevels(), fmt::join(blockOutChannels, ", "), fmt::join(down, ", "), fmt::join(up, ", "),
        layersPerBlock, fmt::join(numHeads, ", "), fmt::join(transformerLayers, ", "),
        useLinearProjection ? "linear" : "conv", crossAttentionDim, normNumGroups,
        textTimeEmbedding ? fmt::format(", text_time ({} + 6 x {})", textEmbedDim(), additionTimeEmbedDim)
                          : "");
}

// ---------------------------------------------------------------------------------------------------
// Parameter list, in the order diffusers registers the modules (so equal to a state_dict's order).

namespace {

void addNorm(Shapes& s, const std::string& n, int64_t c) {
    s.push_back({n + ".weight", {c}});
    s.push_back({n + ".bias", {c}});
}
void addLinear(Shapes& s, const std::string& n, int64_t out, int64_t in, bool bias = true) {
    s.push_back({n + ".weight", {out, in}});
    if (bias) s.push_back({n + ".bias", {out}});
}
void addConv(Shapes& s, const std::string& n, int64_t out, int64_t in, int64_t k) {
    s.push_back({n + ".weight", {out, in, k, k}});
    s.push_back({n + ".bias", {out}});
}

void addResnet(Shapes& s, const std::string& n, int64_t in, int64_t out, int64_t temb) {
    addNorm(s, n + ".norm1", in);
    addConv(s, n + ".conv1", out, in, 3);
    addLinear(s, n + ".time_emb_proj", out, temb);
    addNorm(s, n + ".norm2", out);
    addConv(s, n + ".conv2", out, out, 3);
    if (in != out) addConv(s, n + ".conv_shortcut", out, in, 1);
}

void addTransformer(Shapes& s, const std::string& n, int64_t c, int layers, const UnetConfig& cfg) {
    addNorm(s, n + ".norm", c);
    auto proj = [&](const std::string& name) {
        if (cfg.useLinearProjection) {
            addLinear(s, name, c, c);
        } else {
            addConv(s, name, c, c, 1);
        }
    };
    proj(n + ".proj_in");
    for (int l = 0; l < layers; ++l) {
        const std::string b = n + ".transformer_blocks." + std::to_string(l);
        addNorm(s, b + ".norm1", c);
        for (const char* p : {".attn1.to_q", ".attn1.to_k", ".attn1.to_v"}) addLinear(s, b + p, c, c, false);
        addLinear(s, b + ".attn1.to_out.0", c, c);
        addNorm(s, b + ".norm2", c);
        addLinear(s, b + ".attn2.to_q", c, c, false);
        addLinear(s, b + ".attn2.to_k", c, cfg.crossAttentionDim, false);
        addLinear(s, b + ".attn2.to_v", c, cfg.crossAttentionDim, false);
        addLinear(s, b + ".attn2.to_out.0", c, c);
        addNorm(s, b + ".norm3", c);
        addLinear(s, b + ".ff.net.0.proj", 8 * c, c);
        addLinear(s, b + ".ff.net.2", c, 4 * c);
    }
    proj(n + ".proj_out");
}

}  // namespace

std::vector<std::pair<std::string, std::vector<int64_t>>> UnetConfig::parameterShapes() const {
    Shapes s;
    const int levels = numLevels();
    const int64_t temb = timeEmbedDim();
    const auto& ch = blockOutChannels;
    addConv(s, "conv_in", ch[0], inChannels, 3);
    addLinear(s, "time_embedding.linear_1", temb, ch[0]);
    addLinear(s, "time_embedding.linear_2", temb, temb);
    if (textTimeEmbedding) {
        addLinear(s, "add_embedding.linear_1", temb, projectionClassEmbeddingsInputDim);
        addLinear(s, "add_embedding.linear_2", temb, temb);
    }
    int64_t prev = ch[0];
    for (int i = 0; i < levels; ++i) {
        const std::string blk = "down_blocks." + std::to_string(i);
        const int64_t out = ch[static_cast<std::size_t>(i)];
        if (downBlockTypes[static_cast<std::size_t>(i)] == DownType::CrossAttn)
            for (int j = 0; j < layersPerBlock; ++j)
                addTransformer(s, blk + ".attentions." + std::to_string(j), out,
                               transformerLayers[static_cast<std::size_t>(i)], *this);
        for (int j = 0; j < layersPerBlock; ++j)
            addResnet(s, blk + ".resnets." + std::to_string(j), j == 0 ? prev : out, out, temb);
        if (i < levels - 1) addConv(s, blk + ".downsamplers.0.conv", out, out, 3);
        prev = out;
    }
    int64_t outCh = ch.back();
    for (int i = 0; i < levels; ++i) {
        const std::string blk = "up_blocks." + std::to_string(i);
        const auto rev = [&](int k) {
            return static_cast<int64_t>(ch[static_cast<std::size_t>(levels - 1 - k)]);
        };
        const int64_t prevOut = outCh;
        outCh = rev(i);
        const int64_t input = rev(std::min(i + 1, levels - 1));
        const int n = layersPerBlock + 1;
        if (upBlockTypes[static_cast<std::size_t>(i)] == UpType::CrossAttn)
            for (int j = 0; j < n; ++j)
                addTransformer(s, blk + ".attentions." + std::to_string(j), outCh,
                               transformerLayers[static_cast<std::size_t>(levels - 1 - i)], *this);
        for (int j = 0; j < n; ++j) {
            const int64_t skip = j == n - 1 ? input : outCh;
            const int64_t in = j == 0 ? prevOut : outCh;
            addResnet(s, blk + ".resnets." + std::to_string(j), in + skip, outCh, temb);
        }
        if (i < levels - 1) addConv(s, blk + ".upsamplers.0.conv", outCh, outCh, 3);
    }
    addTransformer(s, "mid_block.attentions.0", ch.back(), transformerLayers.back(), *this);
    addResnet(s, "mid_block.resnets.0", ch.back(), ch.back(), temb);
    addResnet(s, "mid_block.resnets.1", ch.back(), ch.back(), temb);
    addNorm(s, "conv_norm_out", ch[0]);
    addConv(s, "conv_out", outChannels, ch[0], 3);
    return s;
}

}  // namespace swd
