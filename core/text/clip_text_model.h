// CLIP text encoder (transformers' CLIPTextModelWithProjection): the CLIP-L and OpenCLIP bigG encoders of
// SD3. Pre-LN transformer with a causal mask, learned positions, quick_gelu (CLIP-L) or exact GELU (bigG),
// final layer norm and text_projection; pooled at argmax(input_ids) (transformers' legacy pooling, which
// the SD3 configs select with eos_token_id = 2). SD3 uses the penultimate layer output, without the final
// norm, as its sequence embedding.
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

    // The real SD3 encoders: CLIP-L (768 wide, 12 layers, quick_gelu) and OpenCLIP bigG (1280, 32, gelu).
    static ClipTextConfig clipL();
    static ClipTextConfig clipG();
    // transformers' config.json (CLIPTextConfig or a CLIPConfig with "text_config").
    static ClipTextConfig fromJson(const nlohmann::json& json, const std::string& origin);
    // From the weights' shapes: hidden, layers, intermediate, vocabulary and positions; heads = hidden / 64
    // (true of CLIP-L and bigG). The activation cannot be seen in the weights: quick_gelu for a 768-wide
    // encoder (CLIP-L), gelu for a 1280-wide one (bigG), `activation` for any other width.
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

    // Loads from a store whose names are transformers' ("text_model.embeddings...",
    // "text_projection.weight"). A missing text_projection means identity (SD3 single files carry none for
    // CLIP-L). Matrices and the token embedding are kept in `dtype` (bf16 or fp32); norms, positions and the
    // projection in fp32.
    static ClipTextModel load(const TensorStore& store, const ClipTextConfig& config, at::ScalarType dtype,
                              at::Device device = at::kCPU);
    // Opens `path` (folder, single file or all-in-one with `prefix`) and reads config.json when the folder
    // has one; otherwise `config`, otherwise the config inferred from the shapes with `activation`.
    static ClipTextModel load(const std::filesystem::path& path, const std::string& prefix,
                              at::ScalarType dtype, at::Device device, ClipTextConfig::Activation activation,
                              const std::optional<ClipTextConfig>& config = std::nullopt);

    // Every parameter (transformers name, shape) of a model with this config; projectionDim 0 = no
    // text_projection. Used for random-weight benchmarks and to check the names against real checkpoints.
    static std::vector<std::pair<std::string, std::vector<std::int64_t>>> parameterShapes(
        const ClipTextConfig& config, std::int64_t projectionDim);

    // Throws BadInput unless `store` holds a CLIP text encoder under transformers' names (with a hint for
    // OpenCLIP names and for all-in-one files passed without their prefix).
    static void checkNames(const TensorStore& store);

    bool loaded() const { return m_token.defined(); }
    const ClipTextConfig& config() const { return m_config; }
    std::int64_t projectionDim() const {
        return m_projection.defined() ? m_projection.size(0) : m_config.hidden;
    }
    bool hasProjection() const { return m_projection.defined(); }
    at::ScalarType dtype() const { return m_dtype; }
    std::uint64_t parameterBytes() const;

    // input_ids [B, T] (T <= maxPositions) -> outputs; hiddenStates are filled only when `allHiddenStates`.
    ClipTextOutput forward(const at::Tensor& inputIds, bool allHiddenStates = false) const;
    // The final layer norm alone, fp32 [.., D] -> [.., D] (diffusers' SD1.5 clip skip applies it to an
    // earlier hidden state).
    at::Tensor finalLayerNorm(const at::Tensor& hidden) const;

private:
    struct Layer {
        at::Tensor ln1W, ln1B, ln2W, ln2B;  // fp32
        Linear q, k, v, out, fc1, fc2;      // compute dtype (oneDNN on the CPU: fp32 outputs, fused residual)
    };

    ClipTextConfig m_config;
    at::ScalarType m_dtype = at::kFloat;
    at::Device m_device = at::kCPU;
    at::Tensor m_token;     // [V, D] compute dtype
    at::Tensor m_position;  // [P, D] fp32
    std::vector<Layer> m_layers;
    at::Tensor m_finalLnW, m_finalLnB;  // fp32
    at::Tensor m_projection;            // [P, D] fp32, undefined = identity
    at::Tensor m_ones;                  // [D] fp32: the gate of the fused residual adds
};

}  // namespace swd
