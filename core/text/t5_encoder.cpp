#include "text/t5_encoder.h"

#include "models/attention.h"
#include "models/op_profile.h"
#include "text/encoder_weights.h"
#include "util/error.h"

#include <c10/core/InferenceMode.h>

#include <cmath>

namespace swd {

namespace {

using profile::timed;  // `swd bench text --profile`

const char* const kBlocks = "encoder.block.";
const char* const kBiasName = "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight";

std::string embeddingName(const TensorStore& store) {
    if (store.has("shared.weight")) return "shared.weight";
    if (store.has("encoder.embed_tokens.weight")) return "encoder.embed_tokens.weight";
    std::string hint;
    if (store.has("text_encoders.t5xxl.transformer.shared.weight"))
        hint = " It bundles T5 under 'text_encoders.t5xxl.transformer.': pass that prefix.";
    throwBadInput(
        "{}: has neither 'shared.weight' nor 'encoder.embed_tokens.weight'; expected a T5 encoder in "
        "transformers' layout (T5EncoderModel).{}",
        store.describe(), hint);
}

// T5LayerNorm: no mean, no bias; the variance in fp32.
at::Tensor rmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps) {
    const at::Tensor variance = x.to(at::kFloat).pow(2).mean(-1, true);
    return weight * (x * at::rsqrt(variance + eps));
}

}  // namespace

T5EncoderConfig T5EncoderConfig::fromJson(const nlohmann::json& json, const std::string& origin) {
    T5EncoderConfig c;
    c.vocabSize = jsonInt(json, "vocab_size", origin);
    c.dModel = jsonInt(json, "d_model", origin);
    c.dKv = jsonInt(json, "d_kv", origin);
    c.dFf = jsonInt(json, "d_ff", origin);
    c.layers = jsonInt(json, "num_layers", origin);
    c.heads = jsonInt(json, "num_heads", origin);
    c.numBuckets = json.contains("relative_attention_num_buckets")
                       ? jsonInt(json, "relative_attention_num_buckets", origin)
                       : 32;
    c.maxDistance = json.contains("relative_attention_max_distance")
                        ? jsonInt(json, "relative_attention_max_distance", origin)
                        : 128;
    c.eps = jsonNumber(json, "layer_norm_epsilon", 1e-6, origin);
    const std::string ff = json.value("feed_forward_proj", std::string("relu"));
    if (ff != "gated-gelu")
        throwUnsupported(
            "{}: feed_forward_proj '{}' is not supported; only T5 v1.1 encoders with gated-gelu "
            "(T5-XXL of SD3) are",
            origin, ff);
    return c;
}

T5EncoderConfig T5EncoderConfig::infer(const TensorStore& store) {
    T5EncoderConfig c;
    const std::string emb = embeddingName(store);
    const auto& embShape = store.info(emb).shape;
    if (embShape.size() != 2)
        throwBadInput("{}: '{}' should be a matrix [vocab, d_model], found {}", store.fileOf(emb).string(),
                      emb, shapeToString(embShape));
    c.vocabSize = embShape[0];
    c.dModel = embShape[1];
    const auto& bias = store.info(kBiasName).shape;
    if (bias.size() != 2)
        throwBadInput("{}: '{}' should be [buckets, heads], found {}", store.fileOf(kBiasName).string(),
                      kBiasName, shapeToString(bias));
    c.numBuckets = bias[0];
    c.heads = bias[1];
    const std::string q = std::string(kBlocks) + "0.layer.0.SelfAttention.q.weight";
    const std::int64_t inner = store.info(q).shape.at(0);
    if (inner % c.heads != 0)
        throwBadInput("{}: '{}' has {} rows, not a multiple of the {} heads of the bias table",
                      store.fileOf(q).string(), q, inner, c.heads);
    c.dKv = inner / c.heads;
    const std::string wi0 = std::string(kBlocks) + "0.layer.1.DenseReluDense.wi_0.weight";
    if (!store.has(wi0))
        throwUnsupported(
            "{}: has no '{}'; only T5 v1.1 encoders with a gated-GELU feed-forward (SD3's T5-XXL) are "
            "supported",
            store.describe(), store.prefix() + wi0);
    c.dFf = store.info(wi0).shape.at(0);
    c.layers = countIndexedChildren(store, kBlocks);
    return c;
}

T5Encoder T5Encoder::load(const TensorStore& store, const T5EncoderConfig& config, at::ScalarType dtype,
                          at::Device device) {
    if (dtype == at::kHalf)
        throwUnsupported(
            "T5 encoder: fp16 overflows in T5's feed-forward (and has no CPU compute here); use bf16 or "
            "fp32");
    dtype = checkComputeDtype(dtype, device, "T5 encoder");
    const std::string emb = embeddingName(store);
    T5Encoder m;
    m.m_config = config;
    m.m_dtype = dtype;
    m.m_device = device;
    const std::int64_t D = config.dModel, inner = config.heads * config.dKv, F = config.dFf;
    auto w = [&](const std::string& name, at::IntArrayRef shape, at::ScalarType type) {
        return loadEncoderWeight(store, name, shape, type, device);
    };
    m.m_embedding = w(emb, {config.vocabSize, D}, dtype);
    m.m_biasTable = w(kBiasName, {config.numBuckets, config.heads}, at::kFloat);
    const std::int64_t blocksInFile = countIndexedChildren(store, kBlocks);
    if (blocksInFile != config.layers)
        throwBadInput("{}: has {} encoder blocks, the config says {} (weights and config.json do not match)",
                      store.describe(), blocksInFile, config.layers);
    const MatmulBackend backend = encoderMatmulBackend(dtype, device);
    auto linear = [&](const std::string& name, std::int64_t out, std::int64_t in) {
        return Linear(name, w(name + ".weight", {out, in}, dtype), at::Tensor(), backend);
    };
    for (std::int64_t i = 0; i < config.layers; ++i) {
        const std::string p = kBlocks + std::to_string(i) + ".layer.";
        Block b;
        b.attnNorm = w(p + "0.layer_norm.weight", {D}, at::kFloat);
        b.q = linear(p + "0.SelfAttention.q", inner, D);
        b.k = linear(p + "0.SelfAttention.k", inner, D);
        b.v = linear(p + "0.SelfAttention.v", inner, D);
        b.o = linear(p + "0.SelfAttention.o", D, inner);
        b.ffNorm = w(p + "1.layer_norm.weight", {D}, at::kFloat);
        b.wi0 = linear(p + "1.DenseReluDense.wi_0", F, D);
        b.wi1 = linear(p + "1.DenseReluDense.wi_1", F, D);
        b.wo = linear(p + "1.DenseReluDense.wo", D, F);
        m.m_blocks.push_back(std::move(b));
    }
    m.m_ones = at::ones({D}, at::TensorOptions().dtype(at::kFloat).device(device));
    m.m_finalNorm = w("encoder.final_layer_norm.weight", {D}, at::kFloat);
    return m;
}

T5Encoder T5Encoder::load(const std::filesystem::path& path, const std::string& prefix, at::ScalarType dtype,
                          at::Device device, const std::optional<T5EncoderConfig>& config) {
    const TensorStore store = openTextEncoderWeights(path, prefix);
    checkNames(store);  // before reading config.json: a wrong model should be named as such
    T5EncoderConfig c;
    if (config) {
        c = *config;
    } else if (auto json = prefix.empty() ? readEncoderConfigJson(path) : std::nullopt) {
        c = T5EncoderConfig::fromJson(*json, (path / "config.json").string());
    } else {
        c = T5EncoderConfig::infer(store);
    }
    return load(store, c, dtype, device);
}

std::vector<std::pair<std::string, std::vector<std::int64_t>>> T5Encoder::parameterShapes(
    const T5EncoderConfig& c) {
    const std::int64_t D = c.dModel, inner = c.heads * c.dKv, F = c.dFf;
    std::vector<std::pair<std::string, std::vector<std::int64_t>>> out = {
        {"shared.weight", {c.vocabSize, D}}};
    for (std::int64_t i = 0; i < c.layers; ++i) {
        const std::string p = kBlocks + std::to_string(i) + ".layer.";
        for (const char* proj : {"q", "k", "v"})
            out.push_back({p + "0.SelfAttention." + proj + ".weight", {inner, D}});
        out.push_back({p + "0.SelfAttention.o.weight", {D, inner}});
        if (i == 0) out.push_back({kBiasName, {c.numBuckets, c.heads}});
        out.push_back({p + "0.layer_norm.weight", {D}});
        out.push_back({p + "1.DenseReluDense.wi_0.weight", {F, D}});
        out.push_back({p + "1.DenseReluDense.wi_1.weight", {F, D}});
        out.push_back({p + "1.DenseReluDense.wo.weight", {D, F}});
        out.push_back({p + "1.layer_norm.weight", {D}});
    }
    out.push_back({"encoder.final_layer_norm.weight", {D}});
    return out;
}

void T5Encoder::checkNames(const TensorStore& store) {
    embeddingName(store);
}

std::uint64_t T5Encoder::parameterBytes() const {
    std::uint64_t total = 0;
    auto add = [&](const at::Tensor& t) {
        if (t.defined()) total += static_cast<std::uint64_t>(t.numel()) * t.element_size();
    };
    add(m_embedding), add(m_biasTable), add(m_finalNorm);
    for (const auto& b : m_blocks) {
        add(b.attnNorm), add(b.ffNorm);
        for (const Linear* lin : {&b.q, &b.k, &b.v, &b.o, &b.wi0, &b.wi1, &b.wo}) add(lin->weight());
    }
    return total;
}

at::Tensor T5Encoder::positionBias(std::int64_t tokens) const {
    // transformers' T5Attention._relative_position_bucket (bidirectional), with the same float32 operations
    // so the bucket boundaries agree exactly.
    const auto longs = at::TensorOptions().dtype(at::kLong).device(m_device);
    const at::Tensor context = at::arange(tokens, longs).unsqueeze(1);
    const at::Tensor memory = at::arange(tokens, longs).unsqueeze(0);
    at::Tensor relative = memory - context;
    const std::int64_t half = m_config.numBuckets / 2;
    at::Tensor buckets = (relative > 0).to(at::kLong) * half;
    relative = relative.abs();
    const std::int64_t maxExact = half / 2;
    const at::Tensor isSmall = relative < maxExact;
    at::Tensor large = (at::log(relative.to(at::kFloat) / static_cast<double>(maxExact)) /
                        std::log(static_cast<double>(m_config.maxDistance) / static_cast<double>(maxExact)) *
                        static_cast<double>(half - maxExact))
                           .to(at::kLong) +
                       maxExact;
    large = at::min(large, at::full_like(large, half - 1));
    buckets = buckets + at::where(isSmall, relative, large);
    return at::embedding(m_biasTable, buckets).permute({2, 0, 1}).unsqueeze(0).contiguous();
}

T5EncoderOutput T5Encoder::forward(const at::Tensor& inputIds, bool allHiddenStates) const {
    if (!loaded()) throwInternal("T5Encoder::forward on a model that is not loaded");
    c10::InferenceMode guard;
    if (inputIds.dim() != 2)
        throwBadInput("T5 encoder: input ids must be [batch, tokens], found {}",
                      shapeToString(inputIds.sizes()));
    const at::Tensor ids = inputIds.to(m_device, at::kLong);
    const std::int64_t B = ids.size(0), T = ids.size(1), H = m_config.heads, K = m_config.dKv;
    if (ids.numel() > 0 &&
        (ids.min().item<std::int64_t>() < 0 || ids.max().item<std::int64_t>() >= m_config.vocabSize))
        throwBadInput("T5 encoder: token ids must lie in [0, {})", m_config.vocabSize);

    T5EncoderOutput out;
    // The residual stream stays fp32; the matmuls take the compute dtype and add into it in place.
    at::Tensor x = at::embedding(m_embedding, ids).to(at::kFloat).contiguous();
    const std::int64_t M = B * T, D = m_config.dModel;
    const at::Tensor x2d = x.view({M, D});
    if (allHiddenStates) out.hiddenStates.push_back(x.clone());
    AttentionOptions attention;
    attention.scale = 1.0;  // T5 does not scale its logits
    attention.bias = positionBias(T);
    const auto f32 = x.options();
    const std::size_t L = m_blocks.size();
    for (std::size_t i = 0; i < L; ++i) {
        const Block& b = m_blocks[i];
        const at::Tensor h = timed("text: rms norm (+ cast)", [&] {
            return rmsNorm(x, b.attnNorm, m_config.eps).to(m_dtype).view({M, D});
        });
        // q, k, v come out of the matmuls in fp32, so the attention runs in fp32: T5's logits are unscaled
        // and large, and at these lengths its two small matmuls cost ~1% of the block.
        auto heads = [&](const Linear& proj) {
            const at::Tensor t = at::empty({M, H * K}, f32);
            proj.forwardInto(h, t);
            return t.view({B, T, H, K}).transpose(1, 2);
        };
        const at::Tensor q = heads(b.q), k = heads(b.k), v = heads(b.v);
        const at::Tensor a = timed("text: attention (fp32, + reshape and cast)", [&] {
            return scaledDotProductAttention(q, k, v, attention)
                .transpose(1, 2)
                .reshape({M, H * K})
                .to(m_dtype);
        });
        b.o.addGatedTo(a, m_ones, x2d);
        const at::Tensor h2 = timed("text: rms norm (+ cast)", [&] {
            return rmsNorm(x, b.ffNorm, m_config.eps).to(m_dtype).view({M, D});
        });
        at::Tensor gated = b.wi0.forwardGelu(h2);  // gelu_new = the tanh approximation
        const at::Tensor linearPart = b.wi1.forward(h2);
        timed("text: gate multiply", [&] { return gated.mul_(linearPart); });
        b.wo.addGatedTo(gated, m_ones, x2d);
        if (allHiddenStates && i + 1 < L) out.hiddenStates.push_back(x.clone());
    }
    out.lastHiddenState = rmsNorm(x, m_finalNorm, m_config.eps);
    if (allHiddenStates) out.hiddenStates.push_back(out.lastHiddenState);
    return out;
}

}  // namespace swd
