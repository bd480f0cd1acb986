#include "text/clip_text_model.h"

#include "models/attention.h"
#include "text/encoder_weights.h"
#include "util/error.h"

#include <c10/core/InferenceMode.h>

namespace swd {

namespace {

const char* const kTokenName = "text_model.embeddings.token_embedding.weight";
const char* const kPositionName = "text_model.embeddings.position_embedding.weight";
const char* const kLayersPrefix = "text_model.encoder.layers.";

void requireClipNames(const TensorStore& store) {
    if (store.has(kTokenName)) return;
    std::string hint;
    if (store.has("transformer.resblocks.0.attn.in_proj_weight") || store.has("token_embedding.weight"))
        hint = " This file uses OpenCLIP names; use the transformers-format encoder (e.g. SD3's "
               "text_encoders/clip_g.safetensors).";
    else if (store.has("text_encoders.clip_l.transformer." + std::string(kTokenName)) ||
             store.has("text_encoders.clip_g.transformer." + std::string(kTokenName)))
        hint = " It bundles its encoders under 'text_encoders.clip_l.transformer.' / "
               "'text_encoders.clip_g.transformer.': pass that prefix.";
    throwBadInput("{}: has no tensor '{}'; expected a CLIP text encoder in transformers' layout.{}", store.describe(),
                  store.prefix() + kTokenName, hint);
}

}  // namespace

ClipTextConfig ClipTextConfig::fromJson(const nlohmann::json& root, const std::string& origin) {
    const nlohmann::json& json = root.contains("text_config") && root["text_config"].is_object() ? root["text_config"] : root;
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
        throwUnsupported("{}: hidden_act '{}' is not supported (CLIP text encoders use quick_gelu or gelu)", origin,
                         act);
    if (c.hidden % c.heads != 0)
        throwBadInput("{}: hidden_size {} is not divisible by num_attention_heads {}", origin, c.hidden, c.heads);
    return c;
}

ClipTextConfig ClipTextConfig::infer(const TensorStore& store, Activation activation) {
    requireClipNames(store);
    ClipTextConfig c;
    const auto& token = store.info(kTokenName).shape;
    const auto& position = store.info(kPositionName).shape;
    if (token.size() != 2 || position.size() != 2)
        throwBadInput("{}: '{}' should be a matrix [vocab, hidden], found {}", store.fileOf(kTokenName).string(),
                      kTokenName, shapeToString(token));
    c.vocabSize = token[0];
    c.hidden = token[1];
    c.maxPositions = position[0];
    c.layers = countIndexedChildren(store, kLayersPrefix);
    if (c.layers == 0) throwBadInput("{}: has no '{}0.*' tensors (no encoder layers)", store.describe(), kLayersPrefix);
    const std::string fc1 = std::string(kLayersPrefix) + "0.mlp.fc1.weight";
    c.intermediate = store.info(fc1).shape.at(0);
    if (c.hidden % 64 != 0)
        throwBadInput("{}: the CLIP hidden size is {}; the number of attention heads cannot be inferred (hidden / 64 "
                      "holds for CLIP-L and bigG only): put the model's config.json beside it (a transformers folder)",
                      store.describe(), c.hidden);
    c.heads = c.hidden / 64;
    c.activation = activation;
    return c;
}

ClipTextModel ClipTextModel::load(const TensorStore& store, const ClipTextConfig& config, at::ScalarType dtype,
                                  at::Device device) {
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
    for (std::int64_t i = 0; i < config.layers; ++i) {
        const std::string p = kLayersPrefix + std::to_string(i) + ".";
        Layer l;
        l.ln1W = w(p + "layer_norm1.weight", {D}, at::kFloat);
        l.ln1B = w(p + "layer_norm1.bias", {D}, at::kFloat);
        l.ln2W = w(p + "layer_norm2.weight", {D}, at::kFloat);
        l.ln2B = w(p + "layer_norm2.bias", {D}, at::kFloat);
        l.qW = w(p + "self_attn.q_proj.weight", {D, D}, dtype);
        l.qB = w(p + "self_attn.q_proj.bias", {D}, dtype);
        l.kW = w(p + "self_attn.k_proj.weight", {D, D}, dtype);
        l.kB = w(p + "self_attn.k_proj.bias", {D}, dtype);
        l.vW = w(p + "self_attn.v_proj.weight", {D, D}, dtype);
        l.vB = w(p + "self_attn.v_proj.bias", {D}, dtype);
        l.oW = w(p + "self_attn.out_proj.weight", {D, D}, dtype);
        l.oB = w(p + "self_attn.out_proj.bias", {D}, dtype);
        l.fc1W = w(p + "mlp.fc1.weight", {I, D}, dtype);
        l.fc1B = w(p + "mlp.fc1.bias", {I}, dtype);
        l.fc2W = w(p + "mlp.fc2.weight", {D, I}, dtype);
        l.fc2B = w(p + "mlp.fc2.bias", {D}, dtype);
        m.m_layers.push_back(std::move(l));
    }
    m.m_finalLnW = w("text_model.final_layer_norm.weight", {D}, at::kFloat);
    m.m_finalLnB = w("text_model.final_layer_norm.bias", {D}, at::kFloat);
    if (store.has("text_projection.weight")) {
        const auto& shape = store.info("text_projection.weight").shape;
        if (shape.size() != 2 || shape[1] != D)
            throwBadInput("{}: tensor '{}' has shape {}, expected [projection_dim, {}]",
                          store.fileOf("text_projection.weight").string(), store.prefix() + "text_projection.weight",
                          shapeToString(shape), D);
        m.m_projection = w("text_projection.weight", {shape[0], D}, at::kFloat);
    }
    return m;
}

ClipTextModel ClipTextModel::load(const std::filesystem::path& path, const std::string& prefix, at::ScalarType dtype,
                                  at::Device device, ClipTextConfig::Activation activation,
                                  const std::optional<ClipTextConfig>& config) {
    const TensorStore store = openTextEncoderWeights(path, prefix);
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

std::uint64_t ClipTextModel::parameterBytes() const {
    std::uint64_t total = 0;
    auto add = [&](const at::Tensor& t) {
        if (t.defined()) total += static_cast<std::uint64_t>(t.numel()) * t.element_size();
    };
    add(m_token), add(m_position), add(m_finalLnW), add(m_finalLnB), add(m_projection);
    for (const auto& l : m_layers)
        for (const at::Tensor* t : {&l.ln1W, &l.ln1B, &l.ln2W, &l.ln2B, &l.qW, &l.qB, &l.kW, &l.kB, &l.vW, &l.vB,
                                    &l.oW, &l.oB, &l.fc1W, &l.fc1B, &l.fc2W, &l.fc2B})
            add(*t);
    return total;
}

ClipTextOutput ClipTextModel::forward(const at::Tensor& inputIds, bool allHiddenStates) const {
    if (!loaded()) throwInternal("ClipTextModel::forward on a model that is not loaded");
    c10::InferenceMode guard;
    if (inputIds.dim() != 2) throwBadInput("CLIP text encoder: input ids must be [batch, tokens], found {}", shapeToString(inputIds.sizes()));
    const at::Tensor ids = inputIds.to(m_device, at::kLong);
    const std::int64_t B = ids.size(0), T = ids.size(1), D = m_config.hidden, H = m_config.heads;
    if (T > m_config.maxPositions)
        throwBadInput("CLIP text encoder: {} tokens, at most {} fit its position table", T, m_config.maxPositions);
    if (ids.numel() > 0 && (ids.min().item<std::int64_t>() < 0 || ids.max().item<std::int64_t>() >= m_config.vocabSize))
        throwBadInput("CLIP text encoder: token ids must lie in [0, {})", m_config.vocabSize);

    ClipTextOutput out;
    at::Tensor x = at::embedding(m_token, ids).to(at::kFloat) + m_position.slice(0, 0, T);
    if (allHiddenStates) out.hiddenStates.push_back(x);
    const std::int64_t L = static_cast<std::int64_t>(m_layers.size());
    if (L < 2) out.penultimate = x;
    AttentionOptions attention;
    attention.causal = true;
    for (std::int64_t i = 0; i < L; ++i) {
        const Layer& l = m_layers[static_cast<std::size_t>(i)];
        // Self-attention (pre-LN). Scores and softmax in fp32: they are cheap at 77 tokens.
        at::Tensor h = at::layer_norm(x, {D}, l.ln1W, l.ln1B, m_config.layerNormEps).to(m_dtype);
        auto heads = [&](const at::Tensor& t) { return t.view({B, T, H, D / H}).transpose(1, 2).to(at::kFloat); };
        const at::Tensor q = heads(at::linear(h, l.qW, l.qB));
        const at::Tensor k = heads(at::linear(h, l.kW, l.kB));
        const at::Tensor v = heads(at::linear(h, l.vW, l.vB));
        at::Tensor a = scaledDotProductAttention(q, k, v, attention).transpose(1, 2).reshape({B, T, D}).to(m_dtype);
        x = x + at::linear(a, l.oW, l.oB).to(at::kFloat);
        // MLP
        h = at::layer_norm(x, {D}, l.ln2W, l.ln2B, m_config.layerNormEps).to(m_dtype);
        h = at::linear(h, l.fc1W, l.fc1B);
        if (m_config.activation == ClipTextConfig::Activation::QuickGelu)
            h = h * at::sigmoid(h * 1.702);
        else
            h = at::gelu(h);
        x = x + at::linear(h, l.fc2W, l.fc2B).to(at::kFloat);
        if (i == L - 2) out.penultimate = x;
        if (allHiddenStates) out.hiddenStates.push_back(x);
    }
    out.lastHiddenState = at::layer_norm(x, {D}, m_finalLnW, m_finalLnB, m_config.layerNormEps);
    const at::Tensor eos = ids.argmax(-1);  // the first occurrence of the largest id: the first <|endoftext|>
    const at::Tensor rows = at::arange(B, ids.options()) * T + eos;
    at::Tensor pooled = at::index_select(out.lastHiddenState.reshape({B * T, D}), 0, rows);
    out.pooled = m_projection.defined() ? at::linear(pooled, m_projection) : pooled;
    return out;
}

}  // namespace swd
