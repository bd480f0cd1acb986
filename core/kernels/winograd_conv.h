// 3x3 convolutions (stride 1, padding 1) by Winograd's minimal filtering F(2x2, 3x3): each 2x2 block of
// output pixels costs 16 instead of 36 multiply-adds per (input, output) channel pair. The VAE decoder
// spends three quarters of its time in such convolutions at the CPU's matmul peak, so this 2.25x cut in
// arithmetic is what brings a 512-px decode under the direct convolution's floor.
//
// Scheme (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2015): the input is cut into
// overlapping 4x4 tiles (stride 2); each tile d becomes V = Bᵀ d B, each 3x3 kernel g becomes
// U = G g Gᵀ (once, at load), the 16 components multiply as 16 independent matmuls
// M[ξ] = V[ξ]·U[ξ] over the channels, and Y = Aᵀ M A gives the 2x2 output block. F(2x2, 3x3) is the
// variant whose transforms hold only 0, ±1 and ±½, so in bf16 its error stays close to that of the direct
// convolution; the larger F(4x4, 3x3) multiplies errors by its ±4, ±5 factors and is not used.
//
// The matmuls run in oneDNN with bf16 inputs and fp32 results; the two transforms are hand-written
// kernels that also add the bias and the residual. The image is processed in bands of tile rows, so the
// transformed tensors stay small (a few MB) and in cache. CPU, channels-last bf16 only; everything else
// uses the direct convolution (ConvLayer).
#pragma once

#include <ATen/ATen.h>

#include <memory>

namespace swd {

class WinogradConv3x3 {
public:
    enum class Mode {
        Plain,
        // conv3x3(upsample_nearest2d(x, 2)) from the small x: a tile's 4 input rows are then 3 distinct rows
        // (y−1, y, y, y+1) and 7 of the 16 components vanish, so each output pixel costs 2.25 multiply-adds
        // per channel pair instead of the sub-pixel convolution's 4.
        Upsample2x,
    };

    WinogradConv3x3() = default;
    // weight [Cout, Cin, 3, 3] (any dtype, any device: transformed in fp32 on the CPU and stored in bf16),
    // bias [Cout] or undefined.
    WinogradConv3x3(const at::Tensor& weight, const at::Tensor& bias, Mode mode = Mode::Plain);

    bool defined() const { return m_impl != nullptr; }
    // True when this build and CPU run it: oneDNN with bf16 kernels (AVX-512 or newer).
    static bool available();
    // available(), x is CPU channels-last bf16 with the weight's input channels, and `accumulate`, when
    // given, is channels-last bf16.
    bool accepts(const at::Tensor& x, const at::Tensor& accumulate = {}) const;
    // conv3x3(x) + bias (of the upsampled x in Upsample2x mode), added in place to `accumulate`
    // (channels-last bf16, the output's shape) and returned when given.
    at::Tensor operator()(const at::Tensor& x, const at::Tensor& accumulate = {}) const;

    // Whether ConvLayer uses it for the 3x3 convolutions it can take (default: yes). For comparisons.
    static void setEnabled(bool enabled);
    static bool enabled();

private:
    struct Impl;
    std::shared_ptr<Impl> m_impl;
};

}  // namespace swd
