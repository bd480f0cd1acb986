#include "models/vae_ops.h"

#include <vector>

namespace swd {

FusedUpsampleConv fuseUpsampleConv(const at::Tensor& weight3x3, const at::Tensor& bias, at::ScalarType dtype,
                                   at::Device device, bool channelsLast) {
    // Rows of the 3x3 kernel that land on tap t of output parity a (the same for columns):
    // a = 0: tap 0 (input row i−1) <- {0}, tap 1 (row i) <- {1, 2};  a = 1: tap 0 (row i) <- {0, 1}, tap 1 <- {2}.
    static const std::vector<int> taps[2][2] = {{{0}, {1, 2}}, {{0, 1}, {2}}};
    const at::Tensor w3 = weight3x3.to(at::kCPU, at::kFloat);
    const int64_t cout = w3.size(0), cin = w3.size(1);
    std::vector<at::Tensor> parts;
    for (int a = 0; a < 2; ++a) {
        for (int b = 0; b < 2; ++b) {
            at::Tensor k = at::zeros({cout, cin, 2, 2}, w3.options());
            for (int t = 0; t < 2; ++t)
                for (int u = 0; u < 2; ++u)
                    for (int ky : taps[a][t])
                        for (int kx : taps[b][u]) k.select(2, t).select(2, u).add_(w3.select(2, ky).select(2, kx));
            parts.push_back(k);
        }
    }
    FusedUpsampleConv f;
    f.outChannels = cout;
    f.weight = at::cat(parts, 0).to(device, dtype);
    if (channelsLast) f.weight = f.weight.contiguous(at::MemoryFormat::ChannelsLast);
    if (bias.defined()) f.bias = bias.to(at::kFloat).repeat({4}).to(device, dtype);
    return f;
}

at::Tensor upsampleConv(const at::Tensor& x, const FusedUpsampleConv& conv, bool channelsLast) {
    const int64_t B = x.size(0), H = x.size(2), W = x.size(3), C = conv.outChannels;
    // Padding 1 on the small input: output row r of the 2x2 conv reads padded rows r, r+1 = input rows
    // r−1, r, so parity a's output i is row i + a of this [B, 4C, H+1, W+1] result.
    const at::Tensor o = at::conv2d(x, conv.weight, conv.bias, {1, 1}, {1, 1});
    at::Tensor out = at::empty(
        {B, C, 2 * H, 2 * W},
        x.options().memory_format(channelsLast ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous));
    if (channelsLast) {
        // Physical [B, 2H, 2W, C] viewed as [B, H, 2, W, 2, C]: each parity is a strided window.
        const at::Tensor dst = out.permute({0, 2, 3, 1}).view({B, H, 2, W, 2, C});
        const at::Tensor src = o.permute({0, 2, 3, 1});
        for (int a = 0; a < 2; ++a)
            for (int b = 0; b < 2; ++b)
                dst.select(2, a).select(3, b).copy_(
                    src.slice(1, a, a + H).slice(2, b, b + W).narrow(3, (2 * a + b) * C, C));
    } else {
        const at::Tensor dst = out.view({B, C, H, 2, W, 2});
        for (int a = 0; a < 2; ++a)
            for (int b = 0; b < 2; ++b)
                dst.select(3, a).select(4, b).copy_(
                    o.narrow(1, (2 * a + b) * C, C).slice(2, a, a + H).slice(3, b, b + W));
    }
    return out;
}

}  // namespace swd
