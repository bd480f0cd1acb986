// Scaled dot-product attention shared by every model (MMDiT joint attention, CLIP, T5, VAE mid-block).
// One entry point so the backend can be chosen in one place: at::scaled_dot_product_attention on
// libtorch >= 2, a tiled implementation with reused buffers on 1.13 (through oneDNN on the CPU when the
// build has it: fp32 scores from bf16 inputs, all heads of a query tile in one batched matmul).
#pragma once

#include "util/kinds.h"

#include <ATen/ATen.h>

#include <optional>

namespace swd {

struct AttentionOptions {
    std::optional<double> scale;  // default 1/sqrt(head_dim); T5 uses 1.0
    at::Tensor bias;              // additive, broadcastable to [B, heads, Tq, Tk] (T5 relative positions)
    bool causal = false;          // mask keys after the query position (CLIP)
    // Optional destination [B, heads, Tq, D] in q's dtype, any strides: e.g. the permuted view of a
    // [B, Tq, heads·D] buffer, so that the output projection reads it without a copy.
    at::Tensor out;
    AttentionBackend backend = AttentionBackend::Auto;
};

// q [B, heads, Tq, D], k and v [B, heads, Tk, D] -> [B, heads, Tq, D], in q's dtype (options.out when
// given). Throws BadInput for mismatched shapes or dtypes, Unsupported for a backend this build lacks.
at::Tensor scaledDotProductAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                     const AttentionOptions& options = {});

// The backend that Auto picks for these inputs (TorchSdpa on libtorch >= 2, OneDnn for CPU fp32/bf16
// when built with oneDNN, Tiled otherwise).
AttentionBackend defaultAttentionBackend(const at::Tensor& q);

}  // namespace swd
