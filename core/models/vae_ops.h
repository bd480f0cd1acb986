// Building blocks shared by the VAE decoders (Sd3Vae, TaesdDecoder).
#pragma once

#include <ATen/ATen.h>

namespace swd {

// Nearest-neighbour x2 upsampling followed by a 3x3 convolution (padding 1), rewritten as one 2x2
// convolution of the small input: output pixel (2i+a, 2j+b) only sees the input pixels of rows
// {i−1, i} (a = 0) or {i, i+1} (a = 1) and the same for columns, and the 3x3 taps that fall on the same
// input pixel add up. This is the same function with 16 instead of 36 multiply-adds per output value,
// and the 4x larger upsampled tensor is never built.
struct FusedUpsampleConv {
    at::Tensor weight;  // [4·Cout, Cin, 2, 2]: the kernels of the parities (0,0), (0,1), (1,0), (1,1)
    at::Tensor bias;    // [4·Cout] or undefined
    int64_t outChannels = 0;
    bool defined() const { return weight.defined(); }
};

// From the 3x3 conv's weight [Cout, Cin, 3, 3] and bias (may be undefined), combined in fp32, then stored
// in `dtype` on `device` (channels-last when asked).
FusedUpsampleConv fuseUpsampleConv(const at::Tensor& weight3x3, const at::Tensor& bias, at::ScalarType dtype,
                                   at::Device device, bool channelsLast);

// x [B, Cin, H, W] -> [B, Cout, 2H, 2W], equal to conv3x3(upsample_nearest2d(x, 2)).
at::Tensor upsampleConv(const at::Tensor& x, const FusedUpsampleConv& conv, bool channelsLast);

}  // namespace swd
