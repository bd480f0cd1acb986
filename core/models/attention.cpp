#include "models/attention.h"

#include "kernels/attention_kernels.h"
#include "kernels/dnnl_backend.h"
#include "models/op_profile.h"
#include "util/error.h"
#include "util/torch_compat.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace swd {

namespace {

// Score tiles of this many bytes (fp32) stay in the last-level cache between the two matmuls.
constexpr std::int64_t kScoreTileBytes = 3 << 20;

void checkInputs(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const AttentionOptions& o) {
    if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4)
        throwBadInput("attention: q, k and v must be [B, heads, T, D]; got {}, {}, {}", q.sizes(), k.sizes(),
                      v.sizes());
    if (k.size(0) != q.size(0) || v.size(0) != q.size(0) || k.size(1) != q.size(1) ||
        v.size(1) != q.size(1) || k.size(3) != q.size(3) || v.size(2) != k.size(2))
        throwBadInput(
            "attention: shapes do not fit: q {}, k {}, v {} (expected k [B, heads, Tk, D], v [B, heads, "
            "Tk, Dv])",
            q.sizes(), k.sizes(), v.sizes());
    if (k.scalar_type() != q.scalar_type() || v.scalar_type() != q.scalar_type())
        throwBadInput("attention: q, k and v must have one dtype; got {}, {}, {}",
                      c10::toString(q.scalar_type()), c10::toString(k.scalar_type()),
                      c10::toString(v.scalar_type()));
    if (o.out.defined()) {
        const std::vector<int64_t> want = {q.size(0), q.size(1), q.size(2), v.size(3)};
        if (o.out.sizes().vec() != want || o.out.scalar_type() != q.scalar_type())
            throwBadInput("attention: out must be {} {}; got {} {}", c10::toString(q.scalar_type()), want,
                          c10::toString(o.out.scalar_type()), o.out.sizes());
    }
}

double scaleOf(const at::Tensor& q, const AttentionOptions& o) {
    return o.scale ? *o.scale : 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
}

// The additive term of the scores, [B or 1, heads or 1, Tq, Tk] (undefined when there is none).
at::Tensor combinedBias(const at::Tensor& q, const at::Tensor& k, const AttentionOptions& o,
                        at::ScalarType dtype) {
    at::Tensor bias;
    if (o.bias.defined()) {
        bias = o.bias.to(q.device(), dtype);
        while (bias.dim() < 4) bias = bias.unsqueeze(0);
    }
    if (o.causal) {
        const auto keep = at::ones({q.size(2), k.size(2)}, q.options().dtype(at::kBool)).tril(0);
        const auto mask = at::zeros({q.size(2), k.size(2)}, q.options().dtype(dtype))
                              .masked_fill(keep.logical_not(), -std::numeric_limits<double>::infinity())
                              .view({1, 1, q.size(2), k.size(2)});
        bias = bias.defined() ? bias + mask : mask;
    }
    return bias;
}

at::Tensor finish(const at::Tensor& result, const AttentionOptions& o) {
    if (!o.out.defined()) return result;
    if (!o.out.is_same(result)) o.out.copy_(result);
    return o.out;
}

at::Tensor naiveAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                          const AttentionOptions& o) {
    profile::Scope scope("attention (naive)",
                         4.0 * q.size(0) * q.size(1) * q.size(2) * k.size(2) * q.size(3));
    const double scale = scaleOf(q, o);
    at::Tensor scores = at::matmul(q, k.transpose(-2, -1));
    if (scale != 1.0) scores = scores * scale;
    const at::Tensor bias = combinedBias(q, k, o, scores.scalar_type());
    if (bias.defined()) scores = scores + bias;
    const at::Tensor probs = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
    return finish(at::matmul(probs, v), o);
}

// Tiles of the score matrix: `rows` query rows of `heads` heads at once, [heads, rows, Tk] fp32 about
// kScoreTileBytes (kept in cache between the two matmuls and the softmax). Measured here (2 cores,
// T = 589 / 1357, 24 heads x 64): 256-row tiles of 2-4 heads reach ~115 GFLOP per CPU-second against
// ~85 for 48-row tiles of all 24 heads.
struct Tiling {
    int64_t rows = 0, heads = 0;
};
Tiling tiling(int64_t heads, int64_t tq, int64_t tk) {
    Tiling t;
    t.rows = std::min<int64_t>(tq, 256);
    const int64_t perHead = t.rows * tk * 4;
    if (perHead > kScoreTileBytes) t.rows = std::max<int64_t>(16, kScoreTileBytes / (tk * 4));
    t.rows = std::min(t.rows, tq);
    t.heads = std::clamp<int64_t>(kScoreTileBytes / std::max<int64_t>(1, t.rows * tk * 4), 1, heads);
    return t;
}

// A [heads, rows, Tk] view at the start of a flat buffer (dense, whatever the tile's size).
at::Tensor tileView(const at::Tensor& buffer, int64_t heads, int64_t rows, int64_t tk) {
    return buffer.narrow(0, 0, heads * rows * tk).view({heads, rows, tk});
}

// The bias of batch element b, heads [h0, h0 + hn), query rows [t0, t0 + n) (broadcast dims stay 1).
at::Tensor biasBlock(const at::Tensor& bias, int64_t b, int64_t h0, int64_t hn, int64_t t0, int64_t n) {
    at::Tensor bb = bias[bias.size(0) == 1 ? 0 : b];
    if (bb.size(0) != 1) bb = bb.narrow(0, h0, hn);
    return bb.size(1) == 1 ? bb : bb.narrow(1, t0, n);
}

at::Tensor tiledAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                          const AttentionOptions& o) {
    profile::Scope scope("attention (aten tiled)",
                         4.0 * q.size(0) * q.size(1) * q.size(2) * k.size(2) * q.size(3));
    const int64_t B = q.size(0), H = q.size(1), Tq = q.size(2), Tk = k.size(2);
    const double scale = scaleOf(q, o);
    at::Tensor out = o.out.defined() ? o.out : at::empty({B, H, Tq, v.size(3)}, q.options());
    const at::Tensor bias = combinedBias(q, k, o, q.scalar_type());
    const Tiling tile = tiling(H, Tq, Tk);
    at::Tensor scores = at::empty({tile.heads * tile.rows * Tk}, q.options());
    at::Tensor probs = at::empty_like(scores);
    for (int64_t b = 0; b < B; ++b) {
        for (int64_t h0 = 0; h0 < H; h0 += tile.heads) {
            const int64_t hn = std::min(tile.heads, H - h0);
            const at::Tensor kt = k[b].narrow(0, h0, hn).transpose(1, 2), vb = v[b].narrow(0, h0, hn);
            for (int64_t t0 = 0; t0 < Tq; t0 += tile.rows) {
                const int64_t n = std::min(tile.rows, Tq - t0);
                at::Tensor s = tileView(scores, hn, n, Tk), p = tileView(probs, hn, n, Tk);
                at::bmm_out(s, q[b].narrow(0, h0, hn).narrow(1, t0, n), kt);
                if (scale != 1.0) s.mul_(scale);
                if (bias.defined()) s.add_(biasBlock(bias, b, h0, hn, t0, n));
                at::_softmax_out(p, s, 2, false);
                at::Tensor dst = out[b].narrow(0, h0, hn).narrow(1, t0, n);
                if (dst.is_contiguous()) {
                    at::bmm_out(dst, p, vb);
                } else {
                    dst.copy_(at::bmm(p, vb));
                }
            }
        }
    }
    return out;
}

#if SWD_HAVE_ONEDNN

using dnnl::memory;

// q·kᵀ·scale for one batch element and query tile: [heads, n, D] x [heads, D, Tk] -> fp32 [heads, n, Tk].
void scoresMatmul(const at::Tensor& qTile, const at::Tensor& kb, const at::Tensor& s, double scale) {
    const auto qd = dnnl_backend::describe(qTile);
    const auto kd = dnnl_backend::describe({kb.size(0), kb.size(2), kb.size(1)},
                                           {kb.stride(0), kb.stride(2), kb.stride(1)}, kb.scalar_type());
    const auto sd = dnnl_backend::describe(s);
    const std::string key =
        fmt::format("attn.qk {} {} {} {} {} {} {} {}", qTile.sizes(), qTile.strides(), kb.sizes(),
                    kb.strides(), s.sizes(), c10::toString(qTile.scalar_type()), scale, s.strides());
    auto prim = dnnl_backend::cachedPrimitive(key, [&] {
        dnnl::primitive_attr attr;
        attr.set_output_scales(0, {static_cast<float>(scale)});
        return dnnl::matmul(
            dnnl::matmul::primitive_desc(dnnl::matmul::desc(qd, kd, sd), attr, dnnl_backend::engine()));
    });
    prim.execute(dnnl_backend::stream(), {{DNNL_ARG_SRC, dnnl_backend::wrap(qd, qTile)},
                                          {DNNL_ARG_WEIGHTS, dnnl_backend::wrap(kd, kb)},
                                          {DNNL_ARG_DST, dnnl_backend::wrap(sd, s)}});
}

// p·v: [heads, n, Tk] x [heads, Tk, Dv] -> dst [heads, n, Dv] (any strides).
void valuesMatmul(const at::Tensor& p, const at::Tensor& vb, const at::Tensor& dst) {
    const auto pd = dnnl_backend::describe(p);
    const auto vd = dnnl_backend::describe(vb);
    const auto dd = dnnl_backend::describe(dst);
    const std::string key =
        fmt::format("attn.pv {} {} {} {} {} {}", p.sizes(), c10::toString(p.scalar_type()), vb.sizes(),
                    vb.strides(), dst.strides(), c10::toString(dst.scalar_type()));
    auto prim = dnnl_backend::cachedPrimitive(key, [&] {
        return dnnl::matmul(
            dnnl::matmul::primitive_desc(dnnl::matmul::desc(pd, vd, dd), dnnl_backend::engine()));
    });
    prim.execute(dnnl_backend::stream(), {{DNNL_ARG_SRC, dnnl_backend::wrap(pd, p)},
                                          {DNNL_ARG_WEIGHTS, dnnl_backend::wrap(vd, vb)},
                                          {DNNL_ARG_DST, dnnl_backend::wrap(dd, dst)}});
}

at::Tensor lastDimContiguous(const at::Tensor& t) {
    return t.stride(-1) == 1 ? t : t.contiguous();
}

at::Tensor onednnAttention(const at::Tensor& q0, const at::Tensor& k0, const at::Tensor& v0,
                           const AttentionOptions& o) {
    const at::Tensor q = lastDimContiguous(q0), k = lastDimContiguous(k0), v = lastDimContiguous(v0);
    const int64_t B = q.size(0), H = q.size(1), Tq = q.size(2), Tk = k.size(2);
    const double scale = scaleOf(q, o);
    at::Tensor out = o.out.defined() ? o.out : at::empty({B, H, Tq, v.size(3)}, q.options());
    const bool outOk = out.stride(-1) == 1;
    at::Tensor target = outOk ? out : at::empty({B, H, Tq, v.size(3)}, q.options());
    const at::Tensor bias = combinedBias(q, k, o, at::kFloat);
    const Tiling tile = tiling(H, Tq, Tk);
    at::Tensor scores = at::empty({tile.heads * tile.rows * Tk}, q.options().dtype(at::kFloat));
    at::Tensor probs = q.scalar_type() == at::kFloat ? scores : at::empty({scores.numel()}, q.options());
    // exp(s - max) and the row sums; p·v unnormalised into fp32, then divided by the sums.
    at::Tensor sums = at::empty({tile.heads * tile.rows}, q.options().dtype(at::kFloat));
    at::Tensor unnormalised = at::empty({tile.heads * tile.rows * v.size(3)}, q.options().dtype(at::kFloat));
    for (int64_t b = 0; b < B; ++b) {
        for (int64_t h0 = 0; h0 < H; h0 += tile.heads) {
            const int64_t hn = std::min(tile.heads, H - h0);
            const at::Tensor kb = k[b].narrow(0, h0, hn), vb = v[b].narrow(0, h0, hn);
            for (int64_t t0 = 0; t0 < Tq; t0 += tile.rows) {
                const int64_t n = std::min(tile.rows, Tq - t0);
                at::Tensor s = tileView(scores, hn, n, Tk), p = tileView(probs, hn, n, Tk);
                at::Tensor rowSums = sums.narrow(0, 0, hn * n), o = tileView(unnormalised, hn, n, v.size(3));
                const double flops = 2.0 * hn * n * Tk * q.size(3);
                {
                    profile::Scope scope("attention q.k^T (onednn)", flops);
                    scoresMatmul(q[b].narrow(0, h0, hn).narrow(1, t0, n), kb, s, scale);
                    if (bias.defined()) s.add_(biasBlock(bias, b, h0, hn, t0, n));
                }
                {
                    profile::Scope scope("attention exp + row sums (kernel)");
                    kernels::expRows(s.view({hn * n, Tk}), p.view({hn * n, Tk}), rowSums);
                }
                {
                    profile::Scope scope("attention p.v (onednn)", flops);
                    valuesMatmul(p, vb, o);
                }
                profile::Scope scope("attention 1/sum (kernel)");
                kernels::divideRowsInto(o, rowSums, target[b].narrow(0, h0, hn).narrow(1, t0, n));
            }
        }
    }
    dnnl_backend::stream().wait();
    if (!outOk) out.copy_(target);
    return out;
}

#endif

#if SWD_HAS_SDPA
at::Tensor torchSdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const AttentionOptions& o) {
    const double scale = scaleOf(q, o);
    // A causal mask together with a bias goes in as one additive mask (SDPA takes one or the other).
    at::Tensor mask;
    bool causal = o.causal;
    if (o.bias.defined()) {
        mask = combinedBias(q, k, o, q.scalar_type());
        causal = false;
    }
    c10::optional<at::Tensor> maskArg;
    if (mask.defined()) maskArg = mask;
#if SWD_TORCH_AT_LEAST(2, 1)
    at::Tensor result = at::scaled_dot_product_attention(q, k, v, maskArg, 0.0, causal, scale);
#else
    const double defaultScale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
    const at::Tensor qs = scale == defaultScale ? q : q * (scale / defaultScale);
    at::Tensor result = at::scaled_dot_product_attention(qs, k, v, maskArg, 0.0, causal);
#endif
    return finish(result, o);
}
#endif

}  // namespace

AttentionBackend defaultAttentionBackend(const at::Tensor& q) {
#if SWD_HAS_SDPA
    (void)q;
    return AttentionBackend::TorchSdpa;
#else
    if (q.device().is_cpu() && dnnl_backend::usable(q.scalar_type())) return AttentionBackend::OneDnn;
    return AttentionBackend::Tiled;
#endif
}

at::Tensor scaledDotProductAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                     const AttentionOptions& options) {
    checkInputs(q, k, v, options);
    AttentionBackend backend = options.backend;
    if (backend == AttentionBackend::Auto) backend = defaultAttentionBackend(q);
    switch (backend) {
        case AttentionBackend::Naive:
            return naiveAttention(q, k, v, options);
        case AttentionBackend::Tiled:
            return tiledAttention(q, k, v, options);
        case AttentionBackend::OneDnn:
#if SWD_HAVE_ONEDNN
            if (!q.device().is_cpu() || (q.scalar_type() != at::kFloat && q.scalar_type() != at::kBFloat16))
                throwUnsupported("attention: the oneDNN backend runs fp32 / bf16 on the CPU, not {} on {}",
                                 c10::toString(q.scalar_type()), q.device().str());
            return onednnAttention(q, k, v, options);
#else
            throwUnsupported("attention: this build has no oneDNN (install libdnnl-dev and reconfigure)");
#endif
        case AttentionBackend::TorchSdpa:
#if SWD_HAS_SDPA
            return torchSdpa(q, k, v, options);
#else
            throwUnsupported(
                "attention: at::scaled_dot_product_attention needs libtorch >= 2.0 (this build: {})",
                compat::torchVersionString());
#endif
        case AttentionBackend::Auto:
            break;
    }
    throwInternal("attention: no backend");
}

}  // namespace swd
