// Scaled dot-product attention shared by every model (MMDiT joint attention, CLIP, T5, VAE mid-block).
// One entry point so the backend can be chosen in one place: at::scaled_dot_product_attention on
// libtorch >= 2, a tiled implementation with reused buffers on 1.13.
#pragma once

#include <ATen/ATen.h>

#include <optional>

namespace swd {

struct AttentionOptions {
    std::optional<double> scale;  // default 1/sqrt(head_dim); T5 uses 1.0
    at::Tensor bias;              // additive, broadcastable to [B, heads, Tq, Tk] (T5 relative positions)
    bool causal = false;          // mask keys after the query position (CLIP)
};

// q [B, heads, Tq, D], k and v [B, heads, Tk, D] -> [B, heads, Tq, D], in q's dtype.
at::Tensor scaledDotProductAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                     const AttentionOptions& options = {});

}  // namespace swd
