#include "models/vae_config.h"

#include "models/vae_keys.h"
#include "util/error.h"
#include "util/json_reader.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nlohmann/json.hpp>

namespace swd {

namespace fs = std::filesystem;

VaeConfig VaeConfig::fromJson(const fs::path& configJson) {
    const std::string label = configJson.string();
    const nlohmann::json j = readJsonFile(configJson, "VAE config");
    const JsonField root(j, label);
    root.requireObject("a VAE config (a JSON object)");
    const std::string cls = root.stringOr("_class_name", "AutoencoderKL");
    if (cls != "AutoencoderKL")
        throwBadInput(
            "{}: _class_name is {}, expected 'AutoencoderKL' (the SD1.5 / SDXL / SD3 VAE); tiny decoders "
            "(AutoencoderTiny) load as TAESD previews instead",
            label, quoteForMessage(cls));
    VaeConfig c;
    for (const char* required : {"block_out_channels", "latent_channels", "layers_per_block"})
        if (!j.contains(required))
            throwBadInput("{}: has no \"{}\" (is this a diffusers vae/config.json?)", label, required);
    c.blockOutChannels = root.require("block_out_channels").asIntList();
    c.latentChannels = root.require("latent_channels").asInt();
    c.layersPerBlock = root.require("layers_per_block").asInt();
    c.inChannels = root.intOr("in_channels", 3);
    c.outChannels = root.intOr("out_channels", 3);
    c.normNumGroups = root.intOr("norm_num_groups", 32);
    c.midBlockAttention = root.boolOr("mid_block_add_attention", true);
    c.scalingFactor =
        root.doubleOr("scaling_factor", 0.18215);  // diffusers' default (the SD1.5 config has none)
    c.shiftFactor = root.doubleOr("shift_factor", 0.0);
    // diffusers' defaults: quant convs and force_upcast on when absent (SD1.5's config predates the keys).
    c.useQuantConv = root.boolOr("use_quant_conv", true);
    c.usePostQuantConv = root.boolOr("use_post_quant_conv", true);
    c.forceUpcast = root.boolOr("force_upcast", true);
    const std::string act = root.stringOr("act_fn", "silu");
    if (act != "silu")
        throwUnsupported("{}: act_fn '{}' is not supported (AutoencoderKL VAEs use silu)", label,
                         cutForMessage(act));
    for (const char* key : {"latents_mean", "latents_std"})
        if (root.has(key))
            throwUnsupported(
                "{}: {} is set; per-channel latent statistics are not supported (SD1.5, SDXL and SD3 "
                "use scaling_factor and shift_factor only)",
                label, key);
    auto checkTypes = [&](const char* key, const char* expected) {
        if (!j.contains(key)) return;
        const auto types = JsonField(j[key], label, key).elements();
        for (const auto& t : types)
            if (t.asString() != expected)
                throwUnsupported("{}: {} contains {}; only {} is supported", label, key,
                                 quoteForMessage(t.asString()), expected);
        if (types.size() != c.blockOutChannels.size())
            throwBadInput("{}: {} has {} entries but block_out_channels has {}", label, key, types.size(),
                          c.blockOutChannels.size());
    };
    checkTypes("down_block_types", "DownEncoderBlock2D");
    checkTypes("up_block_types", "UpDecoderBlock2D");
    c.validate(label);
    return c;
}

VaeConfig VaeConfig::fromWeights(const TensorStore& store) {
    const TensorStore weights = vaeWeightsView(store);
    const VaeLayout layout = detectVaeLayout(weights);
    const bool ldm = layout == VaeLayout::Ldm;
    VaeConfig c;
    const auto convIn = weights.info("decoder.conv_in.weight").shape;
    const auto convOut = weights.info("decoder.conv_out.weight").shape;
    if (convIn.size() != 4 || convOut.size() != 4)
        throwBadInput("{}: decoder.conv_in / conv_out weights must be 4-D convolutions", weights.describe());
    c.latentChannels = static_cast<int>(convIn[1]);
    c.outChannels = static_cast<int>(convOut[0]);
    const auto levels = weights.children(ldm ? "decoder.up." : "decoder.up_blocks.");
    if (levels.empty()) throwBadInput("{}: no decoder up blocks", weights.describe());
    const int n = static_cast<int>(levels.size());
    c.blockOutChannels.assign(static_cast<std::size_t>(n), 0);
    for (int i = 0; i < n; ++i) {
        // diffusers up_blocks.i is LDM up.(n-1-i); its output channels are block_out_channels[n-1-i].
        const std::string base = ldm ? fmt::format("decoder.up.{}.block.", n - 1 - i)
                                     : fmt::format("decoder.up_blocks.{}.resnets.", i);
        const auto shape = weights.info(base + "0.conv1.weight").shape;
        c.blockOutChannels[static_cast<std::size_t>(n - 1 - i)] = static_cast<int>(shape[0]);
        if (i == 0) {
            const int resnets = static_cast<int>(weights.children(base).size());
            c.layersPerBlock = resnets - 1;
        }
    }
    c.midBlockAttention = weights.has(ldm ? "decoder.mid.attn_1.norm.weight"
                                          : "decoder.mid_block.attentions.0.group_norm.weight");
    if (weights.has("encoder.conv_in.weight"))
        c.inChannels = static_cast<int>(weights.info("encoder.conv_in.weight").shape[1]);
    // The same names in both layouts (LDM keeps them at the top of first_stage_model.).
    c.useQuantConv = weights.has("quant_conv.weight");
    c.usePostQuantConv = weights.has("post_quant_conv.weight");
    if (c.useQuantConv || c.usePostQuantConv) {
        // An SD1/SDXL-style VAE: diffusers' defaults, which are SD1.5's (SDXL callers set 0.13025).
        c.scalingFactor = 0.18215;
        c.shiftFactor = 0.0;
    }
    c.validate(weights.describe());
    return c;
}

VaeConfig VaeConfig::sd15() {
    VaeConfig c;
    c.latentChannels = 4;
    c.scalingFactor = 0.18215;
    c.shiftFactor = 0.0;
    c.useQuantConv = true;
    c.usePostQuantConv = true;
    return c;
}

VaeConfig VaeConfig::sdxl() {
    VaeConfig c = sd15();
    c.scalingFactor = 0.13025;
    return c;
}

void VaeConfig::validate(const std::string& origin) const {
    if (blockOutChannels.empty() || blockOutChannels.size() > 8)
        throwBadInput("{}: block_out_channels must have 1 to 8 entries, found {}", origin,
                      blockOutChannels.size());
    if (latentChannels < 1 || inChannels < 1 || outChannels < 1 || layersPerBlock < 1 || normNumGroups < 1)
        throwBadInput(
            "{}: latent_channels, in/out_channels, layers_per_block and norm_num_groups must be "
            "positive (found {}, {}/{}, {}, {})",
            origin, latentChannels, inChannels, outChannels, layersPerBlock, normNumGroups);
    for (int ch : blockOutChannels)
        if (ch < 1 || ch % normNumGroups != 0)
            throwBadInput(
                "{}: block_out_channels {} are not all multiples of norm_num_groups {} (GroupNorm needs "
                "that); if the weights come without a config.json, pass the VAE's config.json",
                origin, fmt::join(blockOutChannels, ", "), normNumGroups);
    if (!(scalingFactor > 0.0))
        throwBadInput("{}: scaling_factor must be positive, found {}", origin, scalingFactor);
}

bool VaeConfig::operator==(const VaeConfig& o) const {
    return inChannels == o.inChannels && outChannels == o.outChannels && latentChannels == o.latentChannels &&
           blockOutChannels == o.blockOutChannels && layersPerBlock == o.layersPerBlock &&
           normNumGroups == o.normNumGroups && midBlockAttention == o.midBlockAttention &&
           scalingFactor == o.scalingFactor && shiftFactor == o.shiftFactor &&
           useQuantConv == o.useQuantConv && usePostQuantConv == o.usePostQuantConv &&
           forceUpcast == o.forceUpcast;
}

}  // namespace swd
