// T5 v1.1 encoder (transformers' T5EncoderModel, SD3's T5-XXL): RMSNorm pre-norm blocks, relative position
// bias computed by layer 0's table and shared by every layer (bidirectional buckets), attention without
// logit scaling and without a padding mask, gated GELU (tanh approximation) feed-forward, final RMSNorm.
// Runs in bf16 or fp32, never fp16 (its activations overflow fp16).
#pragma once

#include "io/tensor_store.h"
#include "models/linear.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace swd {

struct T5EncoderConfig {
    std::int64_t vocabSize = 32128;
    std::int64_t dModel = 4096;
    std::int64_t dKv = 64;
    std::int64_t dFf = 10240;
    std::int64_t layers = 24;
    std::int64_t heads = 64;
    std::int64_t numBuckets = 32;
    std::int64_t maxDistance = 128;
    double eps = 1e-6;

    // The real SD3 encoder, T5-XXL v1.1 (d_model 4096, 24 blocks, 64 heads, d_ff 10240).
    static T5EncoderConfig t5xxl() { return T5EncoderConfig(); }
    // transformers' config.json; only gated-gelu ("gated-gelu", dense_act_fn gelu_new) encoders are accepted.
    static T5EncoderConfig fromJson(const nlohmann::json& json, const std::string& origin);
    // From the weights' shapes (heads and buckets from the relative_attention_bias table); max distance 128.
    static T5EncoderConfig infer(const TensorStore& store);
};

struct T5EncoderOutput {
    at::Tensor lastHiddenState;  // [B, T, d_model] fp32, after the final norm
    std::vector<at::Tensor>
        hiddenStates;  // transformers' convention: embeddings, layers 1..L-1, final (if asked)
};

class T5Encoder {
public:
    T5Encoder() = default;

    // Loads from transformers' names ("shared.weight" or "encoder.embed_tokens.weight",
    // "encoder.block.N..."). Matrices and the embedding in `dtype` (bf16 or fp32; fp16 is refused), norms and
    // the bias table in fp32.
    static T5Encoder load(const TensorStore& store, const T5EncoderConfig& config, at::ScalarType dtype,
                          at::Device device = at::kCPU);
    // Opens `path` (folder, single file, or all-in-one with `prefix`); config.json when the folder has one,
    // else `config`, else the config inferred from the shapes.
    static T5Encoder load(const std::filesystem::path& path, const std::string& prefix, at::ScalarType dtype,
                          at::Device device, const std::optional<T5EncoderConfig>& config = std::nullopt);

    // Every parameter (transformers name, shape) of an encoder with this config ("shared.weight" for the
    // embedding). Used for random-weight benchmarks and to check the names against real checkpoints.
    static std::vector<std::pair<std::string, std::vector<std::int64_t>>> parameterShapes(
        const T5EncoderConfig& config);

    // Throws BadInput unless `store` holds a T5 encoder under transformers' names.
    static void checkNames(const TensorStore& store);

    bool loaded() const { return m_embedding.defined(); }
    const T5EncoderConfig& config() const { return m_config; }
    at::ScalarType dtype() const { return m_dtype; }
    std::uint64_t parameterBytes() const;

    // input_ids [B, T] -> last hidden state (and every hidden state when `allHiddenStates`). No attention
    // mask: padding tokens are attended, as in the SD3 pipeline.
    T5EncoderOutput forward(const at::Tensor& inputIds, bool allHiddenStates = false) const;

    // The additive bias [1, heads, T, T] (fp32) for T tokens.
    at::Tensor positionBias(std::int64_t tokens) const;

private:
    struct Block {
        at::Tensor attnNorm, ffNorm;      // fp32
        Linear q, k, v, o, wi0, wi1, wo;  // compute dtype (oneDNN on the CPU: fp32 outputs, fused epilogues)
    };

    T5EncoderConfig m_config;
    at::ScalarType m_dtype = at::kFloat;
    at::Device m_device = at::kCPU;
    at::Tensor m_embedding;  // [V, d_model] compute dtype
    at::Tensor m_biasTable;  // [buckets, heads] fp32
    std::vector<Block> m_blocks;
    at::Tensor m_finalNorm;  // fp32
    at::Tensor m_ones;       // [d_model] fp32: the gate of the fused residual adds
};

}  // namespace swd
