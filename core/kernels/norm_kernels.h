// Fused CPU kernels of the MMDiT blocks' fast path: LayerNorm + AdaLN modulation in one pass, and the
// per-head RMSNorm of q and k in place. Each replaces three to five ATen passes over the activations.
// fp32 statistics; inputs and outputs fp32 or bf16, on the CPU. Internal to core/models.
#pragma once

#include <ATen/ATen.h>

namespace swd::kernels {

// out = LayerNorm(x, eps, no affine) · (1 + scale) + shift, per batch element b:
// x [B, T, C] fp32 (last dim contiguous), shift / scale [B, C] fp32, out [B, T, C] fp32 or bf16 (any
// batch / row strides, last dim contiguous). When out2 is defined it gets the same normalised x with
// shift2 / scale2 (MMDiT-X feeds two attentions from one LayerNorm).
void layerNormModulate(const at::Tensor& x, const at::Tensor& shift, const at::Tensor& scale,
                       const at::Tensor& out, double eps, const at::Tensor& shift2 = {},
                       const at::Tensor& scale2 = {}, const at::Tensor& out2 = {});

// In place over every head of every row: x = x · rsqrt(mean(x²) + eps) · weight, with x [rows, heads·D]
// viewed as [rows, heads, D] (fp32 or bf16, last dim contiguous, any row stride), weight [D] fp32.
// Statistics in fp32 like diffusers' RMSNorm; for bf16 the normalised value is rounded to bf16 before
// the weight multiplies it, as diffusers does.
void rmsNormHeads(const at::Tensor& x, const at::Tensor& weight, int64_t headDim, double eps);

}  // namespace swd::kernels
