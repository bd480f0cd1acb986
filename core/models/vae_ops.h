// Building blocks shared by the VAE decoders (AutoencoderKl, TaesdDecoder).
#pragma once

#include "kernels/winograd_conv.h"

#include <ATen/ATen.h>

#include <memory>
#include <utility>
#include <vector>

namespace swd {

// ---- Convolution -------------------------------------------------------------------------------------
// A 2-D convolution whose weights are prepared once. On the CPU with channels-last fp32/bf16 input it calls
// oneDNN directly: the weights are reordered to the kernel's blocked layout on first use instead of on
// every call (as at::conv2d does), and the bias, a residual add and a ReLU are fused into the kernel.
// bf16 3x3 convolutions (stride 1, padding 1, no ReLU) take the Winograd path instead (winograd_conv.h).
// Anything else goes through at::conv2d.
class ConvLayer {
public:
    ConvLayer() = default;
    // weight [Cout, Cin, k, k] and bias [Cout] (may be undefined) in the compute dtype, on the device.
    ConvLayer(const at::Tensor& weight, const at::Tensor& bias, int64_t stride, int64_t padding);

    bool defined() const { return m_impl != nullptr; }
    const at::Tensor& weight() const;
    const at::Tensor& bias() const;
    // Output height or width for an input of `size`.
    int64_t outputSize(int64_t size) const;
    // conv(x) + bias, then `accumulate +=` that in place and returned when given, then ReLU when `relu`.
    at::Tensor operator()(const at::Tensor& x, const at::Tensor& accumulate = {}, bool relu = false) const;

private:
    struct Impl;
    std::shared_ptr<Impl> m_impl;
};

// ---- GroupNorm ---------------------------------------------------------------------------------------
// libtorch 1.13's bf16 GroupNorm on channels-last tensors loses precision badly (errors of 1.5 on
// unit-variance data, measured), so the VAEs use this one: fp32 statistics (per-channel shifted sums,
// combined with Chan's formula in fp64), affine and optional SiLU fused into one pass over the data.
// CPU channels-last fp32/bf16 tensors take the fused kernel; anything else a slower ATen fallback.

// Per (batch, group) moments of x over a region: count, mean, M2 (sum of squared deviations), fp64 [B, G].
struct GroupMoments {
    at::Tensor count, mean, m2;
    // Chan's parallel combination: the moments of the union of two disjoint regions.
    void merge(const GroupMoments& other);
    // mean and 1/sqrt(var + eps) (population variance, as GroupNorm uses), fp32 [B, G].
    std::pair<at::Tensor, at::Tensor> meanRstd(double eps) const;
};

// A rectangle of rows [y0, y1) and columns [x0, x1); empty (y1 <= y0) means the whole tensor.
struct Region {
    int64_t y0 = 0, y1 = 0, x0 = 0, x1 = 0;
    bool whole() const { return y1 <= y0 || x1 <= x0; }
};

GroupMoments groupMoments(const at::Tensor& x, int64_t groups, const Region& region = {});

// (x − mean[g]) · rstd[g] · weight[c] + bias[c], then SiLU when `silu`, in x's dtype and layout.
// mean, rstd: fp32 [B, G].
at::Tensor groupNormApply(const at::Tensor& x, int64_t groups, const at::Tensor& mean, const at::Tensor& rstd,
                          const at::Tensor& weight, const at::Tensor& bias, bool silu);

// GroupNorm statistics shared between the tiles of a tiled decode: every GroupNorm call of one decode is
// one entry, in call order. `replay` normalises with given statistics instead of the tile's own;
// `record` adds the moments of each call's input over the tile's core region (the pixels the tile owns).
struct NormStatsSession {
    bool record = false;
    bool replay = false;
    // The tile's core in latent pixels; scaled to each call's resolution by (call size / latent size).
    Region latentCore;
    int64_t latentH = 0, latentW = 0;
    std::vector<GroupMoments> recorded;                         // summed over tiles by the caller
    std::vector<std::pair<at::Tensor, at::Tensor>> statistics;  // mean, rstd per call (replay)
    std::size_t index = 0;                                      // the next call
};

// GroupNorm (+ SiLU), optionally through a session (see NormStatsSession).
at::Tensor groupNormSilu(const at::Tensor& x, int64_t groups, const at::Tensor& weight,
                         const at::Tensor& bias, double eps, bool silu, NormStatsSession* session = nullptr);

// ---- Upsampling --------------------------------------------------------------------------------------

// Nearest-neighbour x2 upsampling followed by a 3x3 convolution (padding 1), rewritten as one 2x2
// convolution of the small input: output pixel (2i+a, 2j+b) only sees the input pixels of rows
// {i−1, i} (a = 0) or {i, i+1} (a = 1) and the same for columns, and the 3x3 taps that fall on the same
// input pixel add up. This is the same function with 16 instead of 36 multiply-adds per output value,
// and the 4x larger upsampled tensor is never built.
struct FusedUpsampleConv {
    // weight [4·Cout, Cin, 2, 2] (the kernels of the parities (0,0), (0,1), (1,0), (1,1)), bias [4·Cout] or
    // none, padding 1
    ConvLayer conv;
    // bf16 on the CPU: the same upsampling conv by Winograd (2.25 instead of 4 multiply-adds per output
    // value and channel pair), when WinogradConv3x3 is enabled and takes the input
    WinogradConv3x3 winograd;
    int64_t outChannels = 0;
    bool defined() const { return conv.defined(); }
};

// From the 3x3 conv's weight [Cout, Cin, 3, 3] and bias (may be undefined), combined in fp32, then stored
// in `dtype` on `device` (channels-last when asked).
FusedUpsampleConv fuseUpsampleConv(const at::Tensor& weight3x3, const at::Tensor& bias, at::ScalarType dtype,
                                   at::Device device, bool channelsLast);

// x [B, Cin, H, W] -> [B, Cout, 2H, 2W], equal to conv3x3(upsample_nearest2d(x, 2)).
at::Tensor upsampleConv(const at::Tensor& x, const FusedUpsampleConv& conv, bool channelsLast);

}  // namespace swd
