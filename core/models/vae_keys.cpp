#include "models/vae_keys.h"

#include "models/vae_config.h"
#include "util/error.h"

#include <string_view>

namespace swd {

namespace {

bool startsWith(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

// Reads the decimal number at the start of `s` and the rest after the following '.'.
bool splitIndex(std::string_view s, int& index, std::string_view& rest) {
    std::size_t i = 0;
    index = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') index = index * 10 + (s[i++] - '0');
    if (i == 0 || i >= s.size() || s[i] != '.') return false;
    rest = s.substr(i + 1);
    return true;
}

// Inside a resnet: diffusers `conv_shortcut` is LDM `nin_shortcut`; everything else is the same.
std::string resnetPart(std::string_view rest) {
    if (startsWith(rest, "conv_shortcut.")) return "nin_shortcut." + std::string(rest.substr(14));
    return std::string(rest);
}

// The mid block of `side` ("encoder." / "decoder."): `rest` is what follows "mid_block.".
std::string midPart(std::string_view rest) {
    int index = 0;
    std::string_view tail;
    if (startsWith(rest, "resnets.") && splitIndex(rest.substr(8), index, tail))
        return "mid.block_" + std::to_string(index + 1) + "." + resnetPart(tail);
    if (startsWith(rest, "attentions.0.")) {
        const std::string_view a = rest.substr(13);
        if (startsWith(a, "group_norm.")) return "mid.attn_1.norm." + std::string(a.substr(11));
        if (startsWith(a, "to_q.")) return "mid.attn_1.q." + std::string(a.substr(5));
        if (startsWith(a, "to_k.")) return "mid.attn_1.k." + std::string(a.substr(5));
        if (startsWith(a, "to_v.")) return "mid.attn_1.v." + std::string(a.substr(5));
        if (startsWith(a, "to_out.0.")) return "mid.attn_1.proj_out." + std::string(a.substr(9));
    }
    return "mid_block." + std::string(rest);  // not a VAE name: left as is (reported as missing)
}

using Shape = std::vector<int64_t>;
using ParamList = std::vector<std::pair<std::string, Shape>>;

void addConv(ParamList& out, const std::string& name, int64_t cout, int64_t cin, int64_t k,
             bool bias = true) {
    out.push_back({name + ".weight", {cout, cin, k, k}});
    if (bias) out.push_back({name + ".bias", {cout}});
}

void addNorm(ParamList& out, const std::string& name, int64_t c) {
    out.push_back({name + ".weight", {c}});
    out.push_back({name + ".bias", {c}});
}

void addResnet(ParamList& out, const std::string& name, int64_t cin, int64_t cout) {
    addNorm(out, name + ".norm1", cin);
    addConv(out, name + ".conv1", cout, cin, 3);
    addNorm(out, name + ".norm2", cout);
    addConv(out, name + ".conv2", cout, cout, 3);
    if (cin != cout) addConv(out, name + ".conv_shortcut", cout, cin, 1);
}

void addMid(ParamList& out, const std::string& side, int64_t c, bool attention) {
    addResnet(out, side + "mid_block.resnets.0", c, c);
    if (attention) {
        const std::string a = side + "mid_block.attentions.0.";
        addNorm(out, a + "group_norm", c);
        for (const char* p : {"to_q", "to_k", "to_v", "to_out.0"}) {
            out.push_back({a + p + ".weight", {c, c}});
            out.push_back({a + p + ".bias", {c}});
        }
    }
    addResnet(out, side + "mid_block.resnets.1", c, c);
}

}  // namespace

const char* vaeLayoutName(VaeLayout layout) {
    return layout == VaeLayout::Diffusers ? "diffusers" : "LDM (single-file)";
}

VaeLayout detectVaeLayout(const TensorStore& weights) {
    const auto names = weights.names();
    bool diffusers = false, ldm = false;
    for (const auto& n : names) {
        if (startsWith(n, "decoder.mid_block.") || startsWith(n, "decoder.up_blocks.") ||
            startsWith(n, "encoder.down_blocks."))
            diffusers = true;
        if (startsWith(n, "decoder.mid.") || startsWith(n, "decoder.up.") || startsWith(n, "encoder.down."))
            ldm = true;
    }
    if (diffusers && ldm)
        throwBadInput(
            "{}: mixes diffusers VAE names (decoder.up_blocks.*) with LDM names (decoder.up.*); "
            "a checkpoint must use one layout",
            weights.describe());
    if (diffusers) return VaeLayout::Diffusers;
    if (ldm) return VaeLayout::Ldm;
    throwBadInput(
        "{}: holds no VAE tensors (expected decoder.up_blocks.* as in a diffusers vae/ folder, or "
        "decoder.up.* as under first_stage_model. in a single-file checkpoint)",
        weights.describe());
}

TensorStore vaeWeightsView(const TensorStore& weights) {
    if (weights.has("decoder.conv_in.weight")) return weights;
    for (const char* prefix : {"first_stage_model.", "vae."}) {
        const TensorStore view = weights.withPrefix(prefix);
        if (view.has("decoder.conv_in.weight")) return view;
    }
    throwBadInput(
        "{}: has no VAE (looked for decoder.conv_in.weight, first_stage_model.decoder.conv_in.weight "
        "and vae.decoder.conv_in.weight); pass a diffusers vae/ folder or a checkpoint that "
        "includes the VAE",
        weights.describe());
}

std::vector<std::pair<std::string, std::vector<int64_t>>> vaeParameterShapes(const VaeConfig& config,
                                                                             bool withEncoder) {
    ParamList out;
    const auto& ch = config.blockOutChannels;
    const int levels = config.numLevels();
    const int64_t top = ch.back();
    if (withEncoder) {
        addConv(out, "encoder.conv_in", ch[0], config.inChannels, 3);
        for (int i = 0; i < levels; ++i) {
            int64_t cin = i == 0 ? ch[0] : ch[static_cast<std::size_t>(i) - 1];
            const int64_t cout = ch[static_cast<std::size_t>(i)];
            const std::string block = "encoder.down_blocks." + std::to_string(i);
            for (int j = 0; j < config.layersPerBlock; ++j) {
                addResnet(out, block + ".resnets." + std::to_string(j), cin, cout);
                cin = cout;
            }
            if (i < levels - 1) addConv(out, block + ".downsamplers.0.conv", cout, cout, 3);
        }
        addMid(out, "encoder.", top, config.midBlockAttention);
        addNorm(out, "encoder.conv_norm_out", top);
        addConv(out, "encoder.conv_out", 2 * config.latentChannels, top, 3);
    }
    addConv(out, "decoder.conv_in", top, config.latentChannels, 3);
    addMid(out, "decoder.", top, config.midBlockAttention);
    int64_t prev = top;
    for (int i = 0; i < levels; ++i) {
        const int64_t cout = ch[static_cast<std::size_t>(levels - 1 - i)];
        const std::string block = "decoder.up_blocks." + std::to_string(i);
        for (int j = 0; j <= config.layersPerBlock; ++j) {
            addResnet(out, block + ".resnets." + std::to_string(j), prev, cout);
            prev = cout;
        }
        if (i < levels - 1) addConv(out, block + ".upsamplers.0.conv", cout, cout, 3);
    }
    addNorm(out, "decoder.conv_norm_out", ch[0]);
    addConv(out, "decoder.conv_out", config.outChannels, ch[0], 3);
    // Top-level 1x1 convs of SD1.5 / SDXL, after the encoder and decoder as diffusers registers them.
    if (withEncoder && config.useQuantConv)
        addConv(out, "quant_conv", 2 * config.latentChannels, 2 * config.latentChannels, 1);
    if (config.usePostQuantConv)
        addConv(out, "post_quant_conv", config.latentChannels, config.latentChannels, 1);
    return out;
}

std::string vaeLdmName(const std::string& diffusersName, int levels) {
    const std::string_view name = diffusersName;
    std::string side;
    if (startsWith(name, "encoder."))
        side = "encoder.";
    else if (startsWith(name, "decoder."))
        side = "decoder.";
    else
        return diffusersName;
    const std::string_view rest = name.substr(side.size());
    if (startsWith(rest, "conv_norm_out.")) return side + "norm_out." + std::string(rest.substr(14));
    if (startsWith(rest, "mid_block.")) return side + midPart(rest.substr(10));

    int level = 0, j = 0;
    std::string_view tail, tail2;
    const bool encoder = side == "encoder.";
    const std::string_view blocks = encoder ? "down_blocks." : "up_blocks.";
    if (startsWith(rest, blocks) && splitIndex(rest.substr(blocks.size()), level, tail)) {
        const int ldmLevel = encoder ? level : levels - 1 - level;
        const std::string base = side + (encoder ? "down." : "up.") + std::to_string(ldmLevel) + ".";
        if (startsWith(tail, "resnets.") && splitIndex(tail.substr(8), j, tail2))
            return base + "block." + std::to_string(j) + "." + resnetPart(tail2);
        if (encoder && startsWith(tail, "downsamplers.0."))
            return base + "downsample." + std::string(tail.substr(15));
        if (!encoder && startsWith(tail, "upsamplers.0."))
            return base + "upsample." + std::string(tail.substr(13));
    }
    return diffusersName;  // conv_in / conv_out: the same in both layouts
}

bool isVaeAttentionMatrix(const std::string& diffusersName) {
    const auto pos = diffusersName.find("mid_block.attentions.0.");
    if (pos == std::string::npos) return false;
    const std::string_view rest = std::string_view(diffusersName).substr(pos + 23);
    return rest == "to_q.weight" || rest == "to_k.weight" || rest == "to_v.weight" ||
           rest == "to_out.0.weight";
}

}  // namespace swd
