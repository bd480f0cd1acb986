#include "models/mmdit_config.h"

#include "util/error.h"
#include "util/json_reader.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>

namespace swd {

namespace {

bool hasPrefix(const std::vector<std::string>& names, const std::string& prefix) {
    const auto it = std::lower_bound(names.begin(), names.end(), prefix);
    return it != names.end() && it->compare(0, prefix.size(), prefix) == 0;
}

int jsonInt(const nlohmann::json& j, const char* key, int fallback, const std::string& origin) {
    return JsonField(j, origin).intOr(key, fallback);
}

const std::vector<int64_t>& shapeOf(const TensorStore& w, const std::string& name) {
    if (!w.has(name))
        throwBadInput(
            "{}: not an SD3 transformer checkpoint the way it is laid out: it has no '{}' (needed to "
            "infer the configuration)",
            w.describe(), name);
    return w.info(name).shape;
}

int64_t dim(const TensorStore& w, const std::string& name, std::size_t rank, std::size_t index) {
    const auto& s = shapeOf(w, name);
    if (s.size() != rank)
        throwBadInput("{}: '{}' has shape {}, expected {} dimensions", w.describe(), name, shapeToString(s),
                      rank);
    return s[index];
}

// Block indices present under `prefix` ("transformer_blocks." / "joint_blocks."): 0..n-1 without gaps.
int countBlocks(const TensorStore& w, const std::string& prefix) {
    const auto kids = w.children(prefix);
    std::set<int> idx;
    for (const auto& k : kids) {
        char* end = nullptr;
        const long v = std::strtol(k.c_str(), &end, 10);
        if (end == k.c_str() || *end != '\0' || v < 0)
            throwBadInput("{}: unexpected name '{}{}' (block names are numbers)", w.describe(), prefix, k);
        idx.insert(static_cast<int>(v));
    }
    if (idx.empty()) throwBadInput("{}: no '{}*' blocks", w.describe(), prefix);
    const int n = *idx.rbegin() + 1;
    if (static_cast<int>(idx.size()) != n) {
        std::vector<int> missing;
        for (int i = 0; i < n; ++i)
            if (!idx.count(i)) missing.push_back(i);
        throwBadInput("{}: blocks {}{} are missing (found {} of {})", w.describe(), prefix, missing,
                      idx.size(), n);
    }
    return n;
}

int squareRoot(int64_t rows, const std::string& what) {
    const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(rows))));
    if (side * side != rows) throwBadInput("{}: {} rows is not a square grid", what, rows);
    return static_cast<int>(side);
}

}  // namespace

const char* mmditLayoutName(MMDiTLayout layout) {
    return layout == MMDiTLayout::Diffusers ? "diffusers" : "single-file";
}

bool MMDiTConfig::isDual(int layer) const {
    return std::find(dualAttentionLayers.begin(), dualAttentionLayers.end(), layer) !=
           dualAttentionLayers.end();
}

std::string MMDiTConfig::describe() const {
    return fmt::format(
        "{} layers, {} heads x {} (hidden {}), qk norm {}, dual attention in {} layer{}, "
        "pos_embed_max_size {}, joint dim {}, pooled dim {}, patch {}, channels {}->{}",
        numLayers, numHeads, headDim, hidden(), qkNorm ? "rms_norm" : "none", dualAttentionLayers.size(),
        dualAttentionLayers.size() == 1 ? "" : "s", posEmbedMaxSize, jointAttentionDim, pooledProjectionDim,
        patchSize, inChannels, outChannels);
}

bool MMDiTConfig::operator==(const MMDiTConfig& o) const {
    auto a = dualAttentionLayers, b = o.dualAttentionLayers;
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    return patchSize == o.patchSize && inChannels == o.inChannels && outChannels == o.outChannels &&
           numLayers == o.numLayers && numHeads == o.numHeads && headDim == o.headDim &&
           jointAttentionDim == o.jointAttentionDim && captionProjectionDim == o.captionProjectionDim &&
           pooledProjectionDim == o.pooledProjectionDim && posEmbedMaxSize == o.posEmbedMaxSize &&
           qkNorm == o.qkNorm && a == b;
}

void MMDiTConfig::validate(const std::string& origin) const {
    auto positive = [&](int v, const char* key) {
        if (v <= 0) throwBadInput("{}: \"{}\" must be positive, found {}", origin, key, v);
    };
    positive(patchSize, "patch_size");
    positive(inChannels, "in_channels");
    positive(outChannels, "out_channels");
    positive(numLayers, "num_layers");
    positive(numHeads, "num_attention_heads");
    positive(headDim, "attention_head_dim");
    positive(jointAttentionDim, "joint_attention_dim");
    positive(pooledProjectionDim, "pooled_projection_dim");
    positive(posEmbedMaxSize, "pos_embed_max_size");
    if (captionProjectionDim != hidden())
        throwBadInput(
            "{}: caption_projection_dim {} differs from the hidden size num_attention_heads x "
            "attention_head_dim = {}; SD3 models have them equal",
            origin, captionProjectionDim, hidden());
    for (int l : dualAttentionLayers)
        if (l < 0 || l >= numLayers)
            throwBadInput("{}: dual_attention_layers has {}, outside 0..{}", origin, l, numLayers - 1);
}

MMDiTConfig MMDiTConfig::sd35Medium() {
    MMDiTConfig c;  // the defaults are SD3.5 Medium's
    c.dualAttentionLayers = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    return c;
}

MMDiTConfig MMDiTConfig::sd35Large() {
    MMDiTConfig c;
    c.numLayers = 38;
    c.numHeads = 38;
    c.captionProjectionDim = 38 * 64;
    c.posEmbedMaxSize = 192;
    return c;
}

MMDiTConfig MMDiTConfig::sd3Medium() {
    MMDiTConfig c;
    c.posEmbedMaxSize = 192;
    c.qkNorm = false;
    return c;
}

MMDiTConfig MMDiTConfig::fromJson(const nlohmann::json& j, const std::string& origin) {
    if (!j.is_object()) throwBadInput("{}: a transformer config must be a JSON object", origin);
    const JsonField root(j, origin);
    if (const auto cls = root.stringOr("_class_name", "SD3Transformer2DModel");
        cls != "SD3Transformer2DModel")
        throwBadInput("{}: _class_name is {}, expected SD3Transformer2DModel", origin, quoteForMessage(cls));
    // Absent keys take diffusers' constructor defaults.
    MMDiTConfig c;
    c.sampleSize = jsonInt(j, "sample_size", 128, origin);
    c.patchSize = jsonInt(j, "patch_size", 2, origin);
    c.inChannels = jsonInt(j, "in_channels", 16, origin);
    c.outChannels = jsonInt(j, "out_channels", c.inChannels, origin);
    c.numLayers = jsonInt(j, "num_layers", 18, origin);
    c.headDim = jsonInt(j, "attention_head_dim", 64, origin);
    c.numHeads = jsonInt(j, "num_attention_heads", 18, origin);
    c.jointAttentionDim = jsonInt(j, "joint_attention_dim", 4096, origin);
    c.captionProjectionDim = jsonInt(j, "caption_projection_dim", 1152, origin);
    c.pooledProjectionDim = jsonInt(j, "pooled_projection_dim", 2048, origin);
    const auto pos = j.find("pos_embed_max_size");
    if (pos == j.end() || pos->is_null())
        throwUnsupported(
            "{}: pos_embed_max_size is not set; only SD3 models with a stored, cropped pos-embed "
            "table (SD3, SD3.5) are supported",
            origin);
    c.posEmbedMaxSize = jsonInt(j, "pos_embed_max_size", 0, origin);
    const auto qk = j.find("qk_norm");
    if (qk == j.end() || qk->is_null()) {
        c.qkNorm = false;
    } else if (qk->is_string() && qk->get<std::string>() == "rms_norm") {
        c.qkNorm = true;
    } else {
        throwUnsupported("{}: qk_norm {} is not supported (null or \"rms_norm\")", origin, describeJson(*qk));
    }
    const auto dual = j.find("dual_attention_layers");
    if (dual != j.end() && !dual->is_null()) {
        if (!dual->is_array())
            throwBadInput("{}: dual_attention_layers must be a list of block indices", origin);
        c.dualAttentionLayers = root.require("dual_attention_layers").asIntList();
    }
    c.validate(origin);
    return c;
}

MMDiTConfig MMDiTConfig::fromJsonFile(const std::filesystem::path& configJson) {
    return fromJson(readJsonFile(configJson, "transformer config"), configJson.string());
}

MMDiTLayout MMDiTConfig::detectLayout(const TensorStore& w) {
    const auto names = w.names();
    const bool diffusers = hasPrefix(names, "transformer_blocks.");
    const bool original = hasPrefix(names, "joint_blocks.");
    if (diffusers && original)
        throwBadInput(
            "{}: holds both diffusers (transformer_blocks.*) and single-file (joint_blocks.*) names",
            w.describe());
    if (diffusers) return MMDiTLayout::Diffusers;
    if (original) return MMDiTLayout::SingleFile;
    if (hasPrefix(names, "model.diffusion_model."))
        throwBadInput(
            "{}: the single-file names are under 'model.diffusion_model.'; open the view with that "
            "prefix",
            w.describe());
    throwBadInput(
        "{}: not an SD3 transformer: no transformer_blocks.* (diffusers) or joint_blocks.* "
        "(single file) tensors",
        w.describe());
}

MMDiTConfig MMDiTConfig::infer(const TensorStore& w) {
    const MMDiTLayout layout = detectLayout(w);
    const bool d = layout == MMDiTLayout::Diffusers;
    MMDiTConfig c;
    const std::string ctx = "context_embedder.weight";
    const int hidden = static_cast<int>(dim(w, ctx, 2, 0));
    c.jointAttentionDim = static_cast<int>(dim(w, ctx, 2, 1));
    c.captionProjectionDim = hidden;
    c.pooledProjectionDim = static_cast<int>(
        dim(w, d ? "time_text_embed.text_embedder.linear_1.weight" : "y_embedder.mlp.0.weight", 2, 1));
    const std::string patch = d ? "pos_embed.proj.weight" : "x_embedder.proj.weight";
    c.inChannels = static_cast<int>(dim(w, patch, 4, 1));
    c.patchSize = static_cast<int>(dim(w, patch, 4, 2));
    const int64_t outRows = dim(w, d ? "proj_out.weight" : "final_layer.linear.weight", 2, 0);
    c.outChannels = static_cast<int>(outRows / (c.patchSize * c.patchSize));
    const std::string blocks = d ? "transformer_blocks." : "joint_blocks.";
    c.numLayers = countBlocks(w, blocks);
    const std::string normQ =
        d ? "transformer_blocks.0.attn.norm_q.weight" : "joint_blocks.0.x_block.attn.ln_q.weight";
    c.qkNorm = w.has(normQ);
    c.headDim = c.qkNorm ? static_cast<int>(dim(w, normQ, 1, 0)) : 64;
    if (hidden % c.headDim != 0)
        throwBadInput("{}: hidden size {} is not a multiple of the head dim {}; give the config.json",
                      w.describe(), hidden, c.headDim);
    c.numHeads = hidden / c.headDim;
    const std::string pos = d ? "pos_embed.pos_embed" : "pos_embed";
    c.posEmbedMaxSize = squareRoot(dim(w, pos, 3, 1), w.describe() + ": " + pos);
    for (int i = 0; i < c.numLayers; ++i) {
        const std::string attn2 = d ? fmt::format("transformer_blocks.{}.attn2.to_q.weight", i)
                                    : fmt::format("joint_blocks.{}.x_block.attn2.qkv.weight", i);
        if (w.has(attn2)) c.dualAttentionLayers.push_back(i);
    }
    c.validate(w.describe());
    return c;
}

ParameterList mmditParameters(const MMDiTConfig& c, MMDiTLayout layout) {
    const int64_t H = c.hidden(), D = c.headDim, P = c.posEmbedMaxSize, p = c.patchSize;
    const int64_t outF = static_cast<int64_t>(p) * p * c.outChannels;
    ParameterList list;
    auto add = [&](std::string name, std::vector<int64_t> shape) {
        list.emplace_back(std::move(name), std::move(shape));
    };
    auto linear = [&](const std::string& name, int64_t out, int64_t in) {
        add(name + ".weight", {out, in});
        add(name + ".bias", {out});
    };
    if (layout == MMDiTLayout::Diffusers) {
        add("pos_embed.pos_embed", {1, P * P, H});
        add("pos_embed.proj.weight", {H, c.inChannels, p, p});
        add("pos_embed.proj.bias", {H});
        linear("time_text_embed.timestep_embedder.linear_1", H, 256);
        linear("time_text_embed.timestep_embedder.linear_2", H, H);
        linear("time_text_embed.text_embedder.linear_1", H, c.pooledProjectionDim);
        linear("time_text_embed.text_embedder.linear_2", H, H);
        linear("context_embedder", H, c.jointAttentionDim);
        for (int i = 0; i < c.numLayers; ++i) {
            const std::string b = fmt::format("transformer_blocks.{}.", i);
            const bool last = c.contextPreOnly(i), dual = c.isDual(i);
            linear(b + "norm1.linear", (dual ? 9 : 6) * H, H);
            linear(b + "norm1_context.linear", (last ? 2 : 6) * H, H);
            if (c.qkNorm) {
                add(b + "attn.norm_q.weight", {D});
                add(b + "attn.norm_k.weight", {D});
            }
            for (const char* n : {"attn.to_q", "attn.to_k", "attn.to_v", "attn.add_k_proj", "attn.add_v_proj",
                                  "attn.add_q_proj", "attn.to_out.0"})
                linear(b + n, H, H);
            if (!last) linear(b + "attn.to_add_out", H, H);
            if (c.qkNorm) {
                add(b + "attn.norm_added_q.weight", {D});
                add(b + "attn.norm_added_k.weight", {D});
            }
            if (dual) {
                if (c.qkNorm) {
                    add(b + "attn2.norm_q.weight", {D});
                    add(b + "attn2.norm_k.weight", {D});
                }
                for (const char* n : {"attn2.to_q", "attn2.to_k", "attn2.to_v", "attn2.to_out.0"})
                    linear(b + n, H, H);
            }
            linear(b + "ff.net.0.proj", 4 * H, H);
            linear(b + "ff.net.2", H, 4 * H);
            if (!last) {
                linear(b + "ff_context.net.0.proj", 4 * H, H);
                linear(b + "ff_context.net.2", H, 4 * H);
            }
        }
        linear("norm_out.linear", 2 * H, H);
        linear("proj_out", outF, H);
        return list;
    }
    add("pos_embed", {1, P * P, H});
    add("x_embedder.proj.weight", {H, c.inChannels, p, p});
    add("x_embedder.proj.bias", {H});
    linear("t_embedder.mlp.0", H, 256);
    linear("t_embedder.mlp.2", H, H);
    linear("context_embedder", H, c.jointAttentionDim);
    linear("y_embedder.mlp.0", H, c.pooledProjectionDim);
    linear("y_embedder.mlp.2", H, H);
    for (int i = 0; i < c.numLayers; ++i) {
        const std::string b = fmt::format("joint_blocks.{}.", i);
        const bool last = c.contextPreOnly(i), dual = c.isDual(i);
        linear(b + "x_block.attn.qkv", 3 * H, H);
        linear(b + "context_block.attn.qkv", 3 * H, H);
        if (c.qkNorm) {
            add(b + "x_block.attn.ln_q.weight", {D});
            add(b + "x_block.attn.ln_k.weight", {D});
            add(b + "context_block.attn.ln_q.weight", {D});
            add(b + "context_block.attn.ln_k.weight", {D});
        }
        linear(b + "x_block.attn.proj", H, H);
        if (!last) linear(b + "context_block.attn.proj", H, H);
        if (dual) {
            linear(b + "x_block.attn2.qkv", 3 * H, H);
            if (c.qkNorm) {
                add(b + "x_block.attn2.ln_q.weight", {D});
                add(b + "x_block.attn2.ln_k.weight", {D});
            }
            linear(b + "x_block.attn2.proj", H, H);
        }
        linear(b + "x_block.adaLN_modulation.1", (dual ? 9 : 6) * H, H);
        linear(b + "context_block.adaLN_modulation.1", (last ? 2 : 6) * H, H);
        linear(b + "x_block.mlp.fc1", 4 * H, H);
        linear(b + "x_block.mlp.fc2", H, 4 * H);
        if (!last) {
            linear(b + "context_block.mlp.fc1", 4 * H, H);
            linear(b + "context_block.mlp.fc2", H, 4 * H);
        }
    }
    linear("final_layer.linear", outF, H);
    linear("final_layer.adaLN_modulation.1", 2 * H, H);
    return list;
}

}  // namespace swd
