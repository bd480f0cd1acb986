// CLIP text encoder (transformers' CLIPTextModelWithProjection): the CLIP-L and OpenCLIP bigG encoders of
// SD3. Pre-LN transformer with a causal mask, learned positions, quick_gelu (CLIP-L) or exact GELU (bigG),
// final layer norm and text_projection; pooled at argmax(input_ids) (transformers' legacy pooling, which
// the SD3 configs select with eos_token_id = 2). SD3 uses the penultimate layer output, without the final
// norm, as its sequence embedding.
#pragma once

#include "io/tensor_store.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace swd {

struct ClipTextConfig {
    enum class Activation { QuickGelu, Gelu };

    std::int64_t vocabSize = 49408;
    std::int64_t hidden = 768;
    std::int64_t intermediate = 3072;
    std::int64_t layers = 12;
    std::int64_t heads = 12;
    std::int64_t maxPositions = 77;
    double layerNormEps = 1e-5;
    Activation activation = Activation::QuickGelu;

    // transformers' config.json (CLIPTextConfig or a CLIPConfig with "text_config").
    static ClipTextConfig fromJson(const nlohmann::json& json, const std::string& origin);
    // From the weights' shapes: hidden, layers, intermediate, vocabulary and positions; heads = hidden / 64
    // (true of CLIP-L and bigG). The activation cannot be seen in the weights: `activation` is used
    // (quick_gelu for SD3's CLIP-L, gelu for bigG).
    static ClipTextConfig infer(const TensorStore& store, Activation activation);
};

struct ClipTextOutput {
    at::Tensor lastHiddenState;  // [B, T, D] fp32, after the final layer norm
    at::Tensor penultimate;      // [B, T, D] fp32, output of layer L-1 (hidden_states[-2]), what SD3 uses
    at::Tensor pooled;           // [B, P] fp32, text_projection(final norm at argmax(ids)) ("text_embeds")
    std::vector<at::Tensor> hiddenStates;  // embeddings + every layer's output (only when asked for)
};

class ClipTextModel {
public:
    ClipTextModel() = default;

    // Loads from a store whose names are transformers' ("text_model.embeddings...", "text_projection.weight").
    // A missing text_projection means identity (SD3 single files carry none for CLIP-L). Matrices and the
    // token embedding are kept in `dtype` (bf16 or fp32); norms, positions and the projection in fp32.
    static ClipTextModel load(const TensorStore& store, const ClipTextConfig& config, at::ScalarType dtype,
                              at::Device device = at::kCPU);
    // Opens `path` (folder, single file or all-in-one with `prefix`) and reads config.json when the folder has
    // one; otherwise `config`, otherwise the config inferred from the shapes with `activation`.
    static ClipTextModel load(const std::filesystem::path& path, const std::string& prefix, at::ScalarType dtype,
                              at::Device device, ClipTextConfig::Activation activation,
                              const std::optional<ClipTextConfig>& config = std::nullopt);

    bool loaded() const { return m_token.defined(); }
    const ClipTextConfig& config() const { return m_config; }
    std::int64_t projectionDim() const { return m_projection.defined() ? m_projection.size(0) : m_config.hidden; }
    bool hasProjection() const { return m_projection.defined(); }
    at::ScalarType dtype() const { return m_dtype; }
    std::uint64_t parameterBytes() const;

    // input_ids [B, T] (T <= maxPositions) -> outputs; hiddenStates are filled only when `allHiddenStates`.
    ClipTextOutput forward(const at::Tensor& inputIds, bool allHiddenStates = false) const;

private:
    struct Layer {
        at::Tensor ln1W, ln1B, ln2W, ln2B;  // fp32
        at::Tensor qW, qB, kW, kB, vW, vB, oW, oB, fc1W, fc1B, fc2W, fc2B;  // compute dtype
    };

    ClipTextConfig m_config;
    at::ScalarType m_dtype = at::kFloat;
    at::Device m_device = at::kCPU;
    at::Tensor m_token;       // [V, D] compute dtype
    at::Tensor m_position;    // [P, D] fp32
    std::vector<Layer> m_layers;
    at::Tensor m_finalLnW, m_finalLnB;  // fp32
    at::Tensor m_projection;            // [P, D] fp32, undefined = identity
};

}  // namespace swd
