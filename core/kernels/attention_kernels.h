// CPU kernels of the tiled attention's softmax, split so that the normalisation moves after the p·v
// matmul: one pass over the scores writes exp(s − max) and the row sums, and the small [rows, D] output
// is divided by the sums afterwards. That saves a pass over the [rows, Tk] probabilities against a
// three-pass softmax (max, exp + sum, scale). Internal to core/models.
#pragma once

#include <ATen/ATen.h>

namespace swd::kernels {

// For each row of `scores` [rows, n] (fp32, contiguous): probs[row] = exp(scores[row] − max(row)) in
// probs' dtype (fp32 — may be `scores` itself — or bf16, contiguous), sums[row] = Σ exp (fp32, [rows]).
// A row with a NaN gives NaN; a row of −inf gives a zero sum (and NaN outputs after the division, like
// softmax).
void expRows(const at::Tensor& scores, const at::Tensor& probs, const at::Tensor& sums);

// dst[h, r, :] = src[h, r, :] / sums[h·rows + r]: src [heads, rows, D] fp32 contiguous, dst the same shape
// in fp32 or bf16 with any head / row strides (last dim contiguous).
void divideRowsInto(const at::Tensor& src, const at::Tensor& sums, const at::Tensor& dst);

}  // namespace swd::kernels
