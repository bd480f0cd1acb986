#include "text/clip_text_model.h"

#include "models/attention.h"
#include "models/op_profile.h"
#include "text/encoder_weights.h"
#include "util/error.h"

#include <c10/core/InferenceMode.h>

namespace swd {

namespace {

using profile::timed;  // `swd bench text --profile`

const char* const kTokenName = "text_model.embeddings.token_embedding.weight";
const char* const kPositionName = "text_model.embeddings.position_embedding.weight";
const char* const kLayersPrefix = "text_model.encoder.layers.";

void requireClipNames(const TensorStore& store) {
    if (store.has(kTokenName)) return;
    std::string hint;
    if (store.has("transformer.resblocks.0.attn.in_proj_weight") || store.has("token_embedding.weight"))
        hint =
            " This file uses OpenCLIP names; use the transformers-format encoder (e.g. SD3's "
            "text_encoders/clip_g.safetensors).";
    else if (store.has("text_encoders.clip_l.transformer." + std::string(kTokenName)) ||
             store.has("text_encoders.clip_g.transformer." + std::string(kTokenName)))
        hint =
            " It bundles its encoders under 'text_encoders.clip_l.transformer.' / "
            "'text_encoders.clip_g.transformer.': pass that prefix.";
    throwBadInput("{}: has no tensor '{}'; expected a CLIP text encoder in transformers' layout.{}",
                  store.describe(), store.prefix() + kTokenName, hint);
}

}  // namespace

ClipTextConfig ClipTextConfig::clipL() {
    return ClipTextConfig();
}

ClipTextConfig ClipTextConfig::clipG() {
    ClipTextConfig c;
    c.hidden = 1280;
    c.intermediate = 5120;
    c.layers = 32;
    c.heads = 20;
    c.activation = Activation::Gelu;
    return c;
}

ClipTextConfig ClipTextConfig::fromJson(const nlohmann::json& root, const std::string& origin) {
    const nlohmann::json& json =
        root.contains("text_config") && root["text_config"].is_object() ? root["text_config"] : root;
    ClipTextConfig c;
    c.vocabSize = jsonInt(json, "vocab_size", origin);
    c.hidden = jsonInt(json, "hidden_size", origin);
    c.intermediate = jsonInt(json, "intermediate_size", origin);
    c.layers = jsonInt(json, "num_hidden_layers", origin);
    c.heads = jsonInt(json, "num_attention_heads", origin);
    c.maxPositions = jsonInt(json, "max_position_embeddings", origin);
    c.layerNormEps = jsonNumber(json, "layer_norm_eps", 1e-5, origin);
    const std::string act = json.value("hidden_act", std::string("quick_gelu"));
    if (act == "quick_gelu")
        c.activation = Activation::QuickGelu;
    else if (act == "gelu")
        c.activation = Activation::Gelu;
    else
        throwUnsupported("{}: hidden_act '{}' is not supported (CLIP text encoders use quick_gelu or gelu)",
                         origin, act);
    if (c.hidden % c.heads != 0)
        throwBadInput("{}: hidden_size {} is not divisible by num_attention_heads {}", origin, c.hidden,
                      c.heads);
    return c;
}

ClipTextConfig ClipTextConfig::infer(const TensorStore& store, Activation activation) {
    requireClipNames(store);
    ClipTextConfig c;
    const auto& token = store.info(kTokenName).shape;
    const auto& position = store.info(kPositionName).shape;
    if (token.size() != 2 || position.size() != 2)
        throwBadInput("{}: '{}' should be a matrix [vocab, hidden], found {}",
                      store.fileOf(kTokenName).string(), kTokenName, shapeToString(token));
    c.vocabSize = token[0];
    c.hidden = token[1];
    c.maxPositions = position[0];
    c.layers = countIndexedChildren(store, kLayersPrefix);
    if (c.layers == 0)
        throwBadInput("{}: has no '{}0.*' tensors (no encoder layers)", store.describe(), kLayersPrefix);
    const std::string fc1 = std::string(kLayersPrefix) + "0.mlp.fc1.weight";
    c.intermediate = store.info(fc1).shape.at(0);
    if (c.hidden % 64 != 0)
        throwBadInput(
            "{}: the CLIP hidden size is {}; the number of attention heads cannot be inferred (hidden / 64 "
            "holds for CLIP-L and bigG only): put the model's config.json beside it (a transformers folder)",
            store.describe(), c.hidden);
    c.heads = c.hidden / 64;
    // The activation is not in the shapes: CLIP-L (768) uses quick_gelu, bigG (1280) gelu; else the caller's.
    c.activation = c.hidden == 768 ? Activation::QuickGelu : c.hidden == 1280 ? Activation::Gelu : activation;
    return c;
}

ClipTextModel ClipTextModel::load(const TensorStore& store, const ClipTextConfig& config,
                                  at::ScalarType dtype, at::Device device) {
    requireClipNames(store);
    dtype = checkComputeDtype(dtype, device, "CLIP text encoder");
    ClipTextModel m;
    m.m_config = config;
    m.m_dtype = dtype;
    m.m_device = device;
    const std::int64_t D = config.hidden, I = config.intermediate;
    auto w = [&](const std::string& name, at::IntArrayRef shape, at::ScalarType type) {
        return loadEncoderWeight(store, name, shape, type, device);
    };
    m.m_token = w(kTokenName, {config.vocabSize, D}, dtype);
    m.m_position = w(kPositionName, {config.maxPositions, D}, at::kFloat);
    const std::int64_t layersInFile = countIndexedChildren(store, kLayersPrefix);
    if (layersInFile != config.layers)
        throwBadInput("{}: has {} encoder layers, the config says {} (weights and config.json do not match)",
                      store.describe(), layersInFile, config.layers);
    const MatmulBackend backend = encoderMatmulBackend(dtype, device);
    auto linear = [&](const std::string& name, std::int64_t out, std::int64_t in) {
        return Linear(name, w(name + ".weight", {out, in}, dtype), w(name + ".bias", {out}, dtype), backend);
    };
    for (std::int64_t i = 0; i < config.layers; ++i) {
        const std::string p = kLayersPrefix + std::to_string(i) + ".";
        Layer l;
        l.ln1W = w(p + "layer_norm1.weight", {D}, at::kFloat);
        l.ln1B = w(p + "layer_norm1.bias", {D}, at::kFloat);
        l.ln2W = w(p + "layer_norm2.weight", {D}, at::kFloat);
        l.ln2B = w(p + "layer_norm2.bias", {D}, at::kFloat);
        l.q = linear(p + "self_attn.q_proj", D, D);
        l.k = linear(p + "self_attn.k_proj", D, D);
        l.v = linear(p + "self_attn.v_proj", D, D);
        l.out = linear(p + "self_attn.out_proj", D, D);
        l.fc1 = linear(p + "mlp.fc1", I, D);
        l.fc2 = linear(p + "mlp.fc2", D, I);
        m.m_layers.push_back(std::move(l));
    }
    m.m_ones = at::ones({D}, at::TensorOptions().dtype(at::kFloat).device(device));
    m.m_finalLnW = w("text_model.final_layer_norm.weight", {D}, at::kFloat);
    m.m_finalLnB = w("text_model.final_layer_norm.bias", {D}, at::kFloat);
    if (store.has("text_projection.weight")) {
        const auto& shape = store.info("text_projection.weight").shape;
        if (shape.size() != 2 || shape[1] != D)
            throwBadInput("{}: tensor '{}' has shape {}, expected [projection_dim, {}]",
                          store.fileOf("text_projection.weight").string(),
                          store.prefix() + "text_projection.weight", shapeToString(shape), D);
        m.m_projection = w("text_projection.weight", {shape[0], D}, at::kFloat);
    }
    return m;
}

ClipTextModel ClipTextModel::load(const std::filesystem::path& path, const std::string& prefix,
                                  at::ScalarType dtype, at::Device device,
                                  ClipTextConfig::Activation activation,
                                  const std::optional<ClipTextConfig>& config) {
    const TensorStore store = openTextEncoderWeights(path, prefix);
    checkNames(store);  // before reading config.json: a wrong model should be named as such
    ClipTextConfig c;
    if (config) {
        c = *config;
    } else if (auto json = prefix.empty() ? readEncoderConfigJson(path) : std::nullopt) {
        c = ClipTextConfig::fromJson(*json, (path / "config.json").string());
    } else {
        c = ClipTextConfig::infer(store, activation);
    }
    return load(store, c, dtype, device);
}

std::vector<std::pair<std::string, std::vector<std::int64_t>>> ClipTextModel::parameterShapes(
    const ClipTextConfig& c, std::int64_t projectionDim) {
    const std::int64_t D = c.hidden, I = c.intermediate;
    std::vector<std::pair<std::string, std::vector<std::int64_t>>> out = {
        {kTokenName, {c.vocabSize, D}},
        {kPositionName, {c.maxPositions, D}},
    };
    for (std::int64_t i = 0; i < c.layers; ++i) {
        const std::string p = kLayersPrefix + std::to_string(i) + ".";
        for (const char* proj : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
            out.push_back({p + "self_attn." + proj + ".weight", {D, D}});
            out.push_back({p + "self_attn." + proj + ".bias", {D}});
        }
        out.push_back({p + "layer_norm1.weight", {D}});
        out.push_back({p + "layer_norm1.bias", {D}});
        out.push_back({p + "mlp.fc1.weight", {I, D}});
        out.push_back({p + "mlp.fc1.bias", {I}});
        out.push_back({p + "mlp.fc2.weight", {D, I}});
        out.push_back({p + "mlp.fc2.bias", {D}});
        out.push_back({p + "layer_norm2.weight", {D}});
        out.push_back({p + "layer_norm2.bias", {D}});
    }
    out.push_back({"text_model.final_layer_norm.weight", {D}});
    out.push_back({"text_model.final_layer_norm.bias", {D}});
    if (projectionDim > 0) out.push_back({"text_projection.weight", {projectionDim, D}});
    return out;
}

void ClipTextModel::checkNames(const TensorStore& store) {
    requireClipNames(store);
}

std::uint64_t ClipTextModel::parameterBytes() const {
    std::uint64_t total = 0;
    auto add = [&](const at::Tensor& t) {
        if (t.defined()) total += static_cast<std::uint64_t>(t.numel()) * t.element_size();
    };
    add(m_token), add(m_position), add(m_finalLnW), add(m_finalLnB), add(m_projection);
    for (const auto& l : m_layers) {
        for (const at::Tensor* t : {&l.ln1W, &l.ln1B, &l.ln2W, &l.ln2B}) add(*t);
        for (const Linear* lin : {&l.q, &l.k, &l.v, &l.out, &l.fc1, &l.fc2})
            add(lin->weight()), add(lin->bias());
    }
    return total;
}

at::Tensor ClipTextModel::finalLayerNorm(const at::Tensor& hidden) const {
    if (!loaded()) throwInternal("ClipTextModel::finalLayerNorm on a model that is not loaded");
    if (!hidden.defined() || hidden.dim() < 1 || hidden.size(-1) != m_config.hidden)
        throwBadInput("CLIP final layer norm: expected [..., {}], got {}", m_config.hidden,
                      hidden.defined() ? shapeToString(hidden.sizes()) : "nothing");
    c10::InferenceMode guard;
    return at::layer_norm(hidden.to(m_device, at::kFloat), {m_config.hidden}, m_finalLnW, m_finalLnB,
                          m_config.layerNormEps);
}

ClipTextOutput ClipTextModel::forward(const at::Tensor& inputIds, bool allHiddenStates) const {
    if (!loaded()) throwInternal("ClipTextModel::forward on a model that is not loaded");
    c10::InferenceMode guard;
    if (inputIds.dim() != 2)
        throwBadInput("CLIP text encoder: input ids must be [batch, tokens], found {}",
                      shapeToString(inputIds.sizes()));
    const at::Tensor ids = inputIds.to(m_device, at::kLong);
    const std::int64_t B = ids.size(0), T = ids.size(1), D = m_config.hidden, H = m_config.heads;
    if (T > m_config.maxPositions)
        throwBadInput("CLIP text encoder: {} tokens, at most {} fit its position table", T,
                      m_config.maxPositions);
    if (ids.numel() > 0 &&
        (ids.min().item<std::int64_t>() < 0 || ids.max().item<std::int64_t>() >= m_config.vocabSize))
        throwBadInput("CLIP text encoder: token ids must lie in [0, {})", m_config.vocabSize);

    ClipTextOutput out;
    // The residual stream stays fp32; the matmuls take the compute dtype and add into it in place.
    at::Tensor x = (at::embedding(m_token, ids).to(at::kFloat) + m_position.slice(0, 0, T)).contiguous();
    const std::int64_t M = B * T;
    const at::Tensor x2d = x.view({M, D});
    if (allHiddenStates) out.hiddenStates.push_back(x.clone());
    const std::int64_t L = static_cast<std::int64_t>(m_layers.size());
    if (L < 2) out.penultimate = x.clone();
    AttentionOptions attention;
    attention.causal = true;
    const auto f32 = x.options();
    for (std::int64_t i = 0; i < L; ++i) {
        const Layer& l = m_layers[static_cast<std::size_t>(i)];
        // Self-attention (pre-LN); q, k, v come out of the matmuls in fp32, so the scores and the softmax are
        // fp32 (cheap at 77 tokens).
        const at::Tensor h = timed("text: layer norm (+ cast)", [&] {
            return at::layer_norm(x, {D}, l.ln1W, l.ln1B, m_config.layerNormEps).to(m_dtype).view({M, D});
        });
        auto heads = [&](const Linear& proj) {
            const at::Tensor t = at::empty({M, D}, f32);
            proj.forwardInto(h, t);
            return t.view({B, T, H, D / H}).transpose(1, 2);
        };
        const at::Tensor q = heads(l.q), k = heads(l.k), v = heads(l.v);
        const at::Tensor a = timed("text: attention (fp32, + reshape and cast)", [&] {
            return scaledDotProductAttention(q, k, v, attention).transpose(1, 2).reshape({M, D}).to(m_dtype);
        });
        l.out.addGatedTo(a, m_ones, x2d);
        // MLP
        const at::Tensor h2 = timed("text: layer norm (+ cast)", [&] {
            return at::layer_norm(x, {D}, l.ln2W, l.ln2B, m_config.layerNormEps).to(m_dtype).view({M, D});
        });
        const at::Tensor f = timed("text: activation", [&, pre = l.fc1.forward(h2)] {
            return m_config.activation == ClipTextConfig::Activation::QuickGelu
                       ? pre * at::sigmoid(pre * 1.702)
                       : at::gelu(pre);
        });
        l.fc2.addGatedTo(f, m_ones, x2d);
        if (i == L - 2) out.penultimate = x.clone();
        if (allHiddenStates) out.hiddenStates.push_back(x.clone());
    }
    out.lastHiddenState = at::layer_norm(x, {D}, m_finalLnW, m_finalLnB, m_config.layerNormEps);
    const at::Tensor eos = ids.argmax(-1);  // the first occurrence of the largest id: the first <|endoftext|>
    const at::Tensor rows = at::arange(B, ids.options()) * T + eos;
    at::Tensor pooled = at::index_select(out.lastHiddenState.reshape({B * T, D}), 0, rows);
    out.pooled = m_projection.defined() ? at::linear(pooled, m_projection) : pooled;
    return out;
}

}  // namespace swd
