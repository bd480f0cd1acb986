#include "models/vae_ops.h"

#include "kernels/cpu_simd.h"
#include "kernels/float_access.h"
#include "kernels/winograd_conv.h"

#include "util/error.h"
#include "util/tensor_text.h"

#include <ATen/Parallel.h>

#if SWD_HAVE_ONEDNN
#include <dnnl.hpp>
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace swd {

// ---------------------------------------------------------------------------------------------------
// Convolution

struct ConvLayer::Impl {
    at::Tensor weight, bias;
    int64_t stride = 1, padding = 0;
    // Wide 3x3 convs with bf16 CPU weights, where the CPU runs it (the fp32 parity path keeps the direct one)
    WinogradConv3x3 winograd;
#if SWD_HAVE_ONEDNN
    struct Entry {
        dnnl::convolution_forward conv;
        dnnl::memory weights;  // reordered to conv's weights layout
    };
    std::mutex mutex;
    std::map<std::tuple<int64_t, int64_t, int64_t, bool, bool>, Entry> cache;  // (N, H, W, sum, relu)
    std::vector<std::pair<dnnl::memory::desc, dnnl::memory>> packed;           // weights per blocked layout
#endif
};

#if SWD_HAVE_ONEDNN
namespace {

dnnl::engine& cpuEngine() {
    static dnnl::engine e(dnnl::engine::kind::cpu, 0);
    return e;
}

dnnl::stream& cpuStream() {
    thread_local dnnl::stream s(cpuEngine());
    return s;
}

bool bf16Kernels() {
    static const bool ok = [] {
        const auto isa = dnnl::get_effective_cpu_isa();
        return isa == dnnl::cpu_isa::avx512_core || isa == dnnl::cpu_isa::avx512_core_vnni ||
               isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx;
    }();
    return ok;
}

}  // namespace
#endif

ConvLayer::ConvLayer(const at::Tensor& weight, const at::Tensor& bias, int64_t stride, int64_t padding)
    : m_impl(std::make_shared<Impl>()) {
    m_impl->weight = weight;
    m_impl->bias = bias;
    m_impl->stride = stride;
    m_impl->padding = padding;
    // Narrow layers (the VAE's first and last convs) have too little work per tile to gain.
    const bool winogradShape = weight.dim() == 4 && weight.size(2) == 3 && weight.size(3) == 3 &&
                               stride == 1 && padding == 1 && weight.size(0) >= 32 && weight.size(1) >= 32;
    if (winogradShape && weight.scalar_type() == at::kBFloat16 && weight.device().is_cpu() &&
        WinogradConv3x3::available())
        m_impl->winograd = WinogradConv3x3(weight, bias);
}

const at::Tensor& ConvLayer::weight() const {
    return m_impl->weight;
}

const at::Tensor& ConvLayer::bias() const {
    return m_impl->bias;
}

int64_t ConvLayer::outputSize(int64_t size) const {
    return (size + 2 * m_impl->padding - m_impl->weight.size(2)) / m_impl->stride + 1;
}

at::Tensor ConvLayer::operator()(const at::Tensor& x, const at::Tensor& accumulate, bool relu) const {
    const Impl& d = *m_impl;
    if (d.winograd.defined() && !relu && WinogradConv3x3::enabled() && d.winograd.accepts(x, accumulate))
        return d.winograd(x, accumulate);
#if SWD_HAVE_ONEDNN
    const at::ScalarType type = x.scalar_type();
    const bool fast =
        x.dim() == 4 && x.device().is_cpu() && x.is_contiguous(at::MemoryFormat::ChannelsLast) &&
        d.weight.device().is_cpu() && d.weight.scalar_type() == type &&
        (type == at::kFloat || (type == at::kBFloat16 && bf16Kernels())) &&
        (!accumulate.defined() ||
         (accumulate.scalar_type() == type && accumulate.is_contiguous(at::MemoryFormat::ChannelsLast)));
    if (fast) {
        using dnnl::memory;
        const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
        const int64_t OC = d.weight.size(0), K = d.weight.size(2);
        const int64_t OH = (H + 2 * d.padding - K) / d.stride + 1,
                      OW = (W + 2 * d.padding - K) / d.stride + 1;
        if (C != d.weight.size(1))
            throwInternal("ConvLayer: input has {} channels, the weight {}", C, d.weight.size(1));
        const auto dt = type == at::kFloat ? memory::data_type::f32 : memory::data_type::bf16;
        Impl& m = *m_impl;
        std::lock_guard<std::mutex> lock(m.mutex);
        const auto key = std::make_tuple(N, H, W, accumulate.defined(), relu);
        auto it = m.cache.find(key);
        if (it == m.cache.end()) {
            const memory::desc src({N, C, H, W}, dt, memory::format_tag::nhwc);
            const memory::desc wei({OC, C, K, K}, dt, memory::format_tag::any);
            const memory::desc dst({N, OC, OH, OW}, dt, memory::format_tag::nhwc);
            const memory::dims strides = {d.stride, d.stride}, pad = {d.padding, d.padding};
            dnnl::post_ops ops;
            if (accumulate.defined()) ops.append_sum(1.0f);
            if (relu) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
            dnnl::primitive_attr attr;
            attr.set_post_ops(ops);
            const auto desc =
                d.bias.defined()
                    ? dnnl::convolution_forward::desc(
                          dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src, wei,
                          memory::desc({OC}, dt, memory::format_tag::a), dst, strides, pad, pad)
                    : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                      dnnl::algorithm::convolution_direct, src, wei, dst,
                                                      strides, pad, pad);
            const dnnl::convolution_forward::primitive_desc pd(desc, attr, cpuEngine());
            Impl::Entry entry{dnnl::convolution_forward(pd), memory()};
            for (const auto& [packedDesc, mem] : m.packed)
                if (packedDesc == pd.weights_desc()) entry.weights = mem;
            if (!entry.weights) {
                const at::Tensor plain = m.weight.contiguous();
                memory user({{OC, C, K, K}, dt, memory::format_tag::oihw}, cpuEngine(), plain.data_ptr());
                entry.weights = memory(pd.weights_desc(), cpuEngine());
                dnnl::reorder(user, entry.weights).execute(cpuStream(), user, entry.weights);
                cpuStream().wait();
                m.packed.emplace_back(pd.weights_desc(), entry.weights);
            }
            it = m.cache.emplace(key, std::move(entry)).first;
        }
        at::Tensor out =
            accumulate.defined()
                ? accumulate
                : at::empty({N, OC, OH, OW}, x.options().memory_format(at::MemoryFormat::ChannelsLast));
        if (out.sizes() != at::IntArrayRef({N, OC, OH, OW}))
            throwInternal("ConvLayer: the residual {} does not fit the output [{}, {}, {}, {}]",
                          shapeToString(out.sizes()), N, OC, OH, OW);
        const memory::desc src({N, C, H, W}, dt, memory::format_tag::nhwc);
        const memory::desc dst({N, OC, OH, OW}, dt, memory::format_tag::nhwc);
        std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, memory(src, cpuEngine(), x.data_ptr())},
                                                {DNNL_ARG_WEIGHTS, it->second.weights},
                                                {DNNL_ARG_DST, memory(dst, cpuEngine(), out.data_ptr())}};
        if (d.bias.defined())
            args[DNNL_ARG_BIAS] = memory({{OC}, dt, memory::format_tag::a}, cpuEngine(), d.bias.data_ptr());
        it->second.conv.execute(cpuStream(), args);
        cpuStream().wait();
        return out;
    }
#endif
    at::Tensor y = at::conv2d(x, d.weight, d.bias, {d.stride, d.stride}, {d.padding, d.padding});
    if (accumulate.defined()) y = accumulate.add_(y);
    if (relu) y.relu_();
    return y;
}

// ---------------------------------------------------------------------------------------------------
// GroupNorm kernels

namespace {

using kernels::loadF;
using kernels::storeF;

// exp(x) for the SiLU, branch-free so that it vectorises: x = n·ln2 + r with |r| <= ln2/2, a degree-7
// Taylor polynomial for exp(r) (relative error < 1e-8 before float rounding), 2^n from the exponent bits.
inline float expApprox(float x) {
    x = std::min(std::max(x, -87.0f), 88.0f);
    // round(x·log2(e)) by the 1.5·2^23 trick (exact for |t| < 2^22, no branch, no fast-math needed)
    const float fn = (x * 1.4426950408889634f + 12582912.0f) - 12582912.0f;
    const int n = static_cast<int>(fn);
    const float r = (x - fn * 0.693145751953125f) - fn * 1.428606765330187e-06f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const std::uint32_t bits = static_cast<std::uint32_t>(n + 127) << 23;
    float scale;
    std::memcpy(&scale, &bits, 4);
    return p * scale;
}

// Per-channel sums of (x − pivot) and (x − pivot)² over `pixels` pixels of C channels each (NHWC row).
template <typename T>
inline void momentsRow(const T* x, int64_t pixels, int64_t C, const float* pivot, float* s, float* q) {
    for (int64_t c = 0; c < C; ++c) s[c] = q[c] = 0.0f;
    for (int64_t p = 0; p < pixels; ++p) {
        const T* px = x + p * C;
        for (int64_t c = 0; c < C; ++c) {
            const float d = loadF(px, c) - pivot[c];
            s[c] += d;
            q[c] += d * d;
        }
    }
}

template <typename T>
inline void applyPixels(const T* x, T* y, int64_t pixels, int64_t C, const float* scale, const float* shift,
                        bool silu) {
    if (silu) {
        for (int64_t p = 0; p < pixels; ++p)
            for (int64_t c = 0; c < C; ++c) {
                const float v = loadF(x, p * C + c) * scale[c] + shift[c];
                storeF(y, p * C + c, v / (1.0f + expApprox(-v)));
            }
    } else {
        for (int64_t p = 0; p < pixels; ++p)
            for (int64_t c = 0; c < C; ++c) storeF(y, p * C + c, loadF(x, p * C + c) * scale[c] + shift[c]);
    }
}

SWD_CPU_CLONES void momentsRowF32(const float* x, int64_t pixels, int64_t C, const float* pivot, float* s,
                                  float* q) {
    momentsRow(x, pixels, C, pivot, s, q);
}
SWD_CPU_CLONES void momentsRowBf16(const std::uint16_t* x, int64_t pixels, int64_t C, const float* pivot,
                                   float* s, float* q) {
    momentsRow(x, pixels, C, pivot, s, q);
}
SWD_CPU_CLONES void applyF32(const float* x, float* y, int64_t pixels, int64_t C, const float* scale,
                             const float* shift, bool silu) {
    applyPixels(x, y, pixels, C, scale, shift, silu);
}
SWD_CPU_CLONES void applyBf16(const std::uint16_t* x, std::uint16_t* y, int64_t pixels, int64_t C,
                              const float* scale, const float* shift, bool silu) {
    applyPixels(x, y, pixels, C, scale, shift, silu);
}

#if SWD_HAVE_AVX512BF16_KERNELS
// applyPixels for bf16 with C a multiple of 16: the SiLU's exp dominates the portable kernel, here it is
// exp(v) = 2^n · p(r) with n = round(v·log2 e), r = v − n·ln 2, a degree-6 polynomial for p (relative
// error ~2e-7, far below bf16's 4e-3) and scalef for the 2^n.
SWD_AVX512BF16_TARGET void applyBf16Avx512(const std::uint16_t* x, std::uint16_t* y, int64_t pixels,
                                           int64_t C, const float* scale, const float* shift, bool silu) {
    const __m512 log2e = _mm512_set1_ps(1.44269504088896341f), ln2hi = _mm512_set1_ps(0.693145751953125f),
                 ln2lo = _mm512_set1_ps(1.428606765330187e-06f), one = _mm512_set1_ps(1.0f),
                 lo = _mm512_set1_ps(-87.0f), hi = _mm512_set1_ps(88.0f);
    const __mmask16 kAll = 0xFFFF;  // zero-masked forms: GCC 12 warns about the unmasked ones' pass-through
    const __m512 c2 = _mm512_set1_ps(0.5f), c3 = _mm512_set1_ps(1.0f / 6), c4 = _mm512_set1_ps(1.0f / 24),
                 c5 = _mm512_set1_ps(1.0f / 120), c6 = _mm512_set1_ps(1.0f / 720);
    for (int64_t p = 0; p < pixels; ++p) {
        for (int64_t c = 0; c < C; c += 16) {
            const int64_t i = p * C + c;
            __m512 v = _mm512_fmadd_ps(SWD_LOAD_BF16X16(x + i), _mm512_loadu_ps(scale + c),
                                       _mm512_loadu_ps(shift + c));
            if (silu) {
                const __m512 t = _mm512_maskz_min_ps(
                    kAll, _mm512_maskz_max_ps(kAll, _mm512_sub_ps(_mm512_setzero_ps(), v), lo), hi);  // −v
                const __m512 n =
                    _mm512_maskz_roundscale_ps(kAll, _mm512_mul_ps(t, log2e), _MM_FROUND_TO_NEAREST_INT);
                const __m512 r = _mm512_fnmadd_ps(n, ln2lo, _mm512_fnmadd_ps(n, ln2hi, t));
                __m512 q = _mm512_fmadd_ps(c6, r, c5);
                q = _mm512_fmadd_ps(q, r, c4);
                q = _mm512_fmadd_ps(q, r, c3);
                q = _mm512_fmadd_ps(q, r, c2);
                q = _mm512_fmadd_ps(q, r, one);
                q = _mm512_fmadd_ps(q, r, one);
                const __m512 e = _mm512_maskz_scalef_ps(kAll, q, n);  // exp(−v)
                v = _mm512_div_ps(v, _mm512_add_ps(one, e));
            }
            SWD_STORE_BF16X16(y + i, v);
        }
    }
}
#endif

// applyBf16 by the fastest kernel this CPU runs.
void applyBf16Fastest(const std::uint16_t* x, std::uint16_t* y, int64_t pixels, int64_t C, const float* scale,
                      const float* shift, bool silu) {
#if SWD_HAVE_AVX512BF16_KERNELS
    if (C % 16 == 0 && kernels::cpuHasAvx512Bf16())
        return applyBf16Avx512(x, y, pixels, C, scale, shift, silu);
#endif
    applyBf16(x, y, pixels, C, scale, shift, silu);
}

bool fastLayout(const at::Tensor& x) {
    return x.dim() == 4 && x.device().is_cpu() &&
           (x.scalar_type() == at::kFloat || x.scalar_type() == at::kBFloat16) &&
           x.is_contiguous(at::MemoryFormat::ChannelsLast);
}

void checkGroups(const at::Tensor& x, int64_t groups) {
    if (x.dim() != 4 || groups < 1 || x.size(1) % groups != 0)
        throwInternal("groupNorm: x {} cannot be split into {} groups", shapeToString(x.sizes()), groups);
}

}  // namespace

void GroupMoments::merge(const GroupMoments& o) {
    if (!count.defined()) {
        *this = o;
        return;
    }
    const at::Tensor n = count + o.count;
    const at::Tensor delta = o.mean - mean;
    const at::Tensor safeN = n.clamp_min(1.0);
    mean = mean + delta * o.count / safeN;
    m2 = m2 + o.m2 + delta * delta * count * o.count / safeN;
    count = n;
}

std::pair<at::Tensor, at::Tensor> GroupMoments::meanRstd(double eps) const {
    const at::Tensor var = (m2 / count.clamp_min(1.0)).clamp_min(0.0);
    return {mean.to(at::kFloat), (var + eps).rsqrt().to(at::kFloat)};
}

GroupMoments groupMoments(const at::Tensor& x, int64_t groups, const Region& regionIn) {
    checkGroups(x, groups);
    const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), cg = C / groups;
    const Region r = regionIn.whole() ? Region{0, H, 0, W} : regionIn;
    if (r.y0 < 0 || r.x0 < 0 || r.y1 > H || r.x1 > W)
        throwInternal("groupMoments: region outside the {}x{} tensor", H, W);
    const int64_t rows = r.y1 - r.y0, cols = r.x1 - r.x0;
    GroupMoments m;
    if (!fastLayout(x)) {
        const at::Tensor xr =
            x.slice(2, r.y0, r.y1).slice(3, r.x0, r.x1).to(at::kDouble).reshape({B, groups, -1});
        m.mean = xr.mean(-1);
        m.m2 = (xr - m.mean.unsqueeze(-1)).square().sum(-1);
        m.count = at::full({B, groups}, static_cast<double>(xr.size(-1)), m.mean.options());
        return m;
    }
    // Pivot: each channel's first value in the region, so the float sums are of small deviations.
    const at::Tensor pivot = x.select(2, r.y0).select(2, r.x0).to(at::kFloat).contiguous();  // [B, C]
    const int64_t items = B * rows;
    at::Tensor partial = at::empty({items, 2, C}, x.options().dtype(at::kFloat));
    const bool bf16 = x.scalar_type() == at::kBFloat16;
    const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, cols * C));
    const float* pv = pivot.data_ptr<float>();
    float* out = partial.data_ptr<float>();
    at::parallel_for(0, items, grain, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
            const int64_t b = i / rows, y = r.y0 + i % rows;
            const int64_t offset = ((b * H + y) * W + r.x0) * C;  // channels-last: [B, H, W, C]
            float* s = out + i * 2 * C;
            if (bf16)
                momentsRowBf16(reinterpret_cast<const std::uint16_t*>(x.data_ptr()) + offset, cols, C,
                               pv + b * C, s, s + C);
            else
                momentsRowF32(x.data_ptr<float>() + offset, cols, C, pv + b * C, s, s + C);
        }
    });
    const at::Tensor sums = partial.view({B, rows, 2, C}).to(at::kDouble).sum(1);  // [B, 2, C]
    const double n = static_cast<double>(rows * cols);
    const at::Tensor s = sums.select(1, 0), q = sums.select(1, 1);
    const at::Tensor meanC = pivot.to(at::kDouble) + s / n;  // [B, C]
    const at::Tensor m2C = (q - s * s / n).clamp_min(0.0);   // [B, C]
    m.mean = meanC.view({B, groups, cg}).mean(-1);           // [B, G]
    const at::Tensor spread = (meanC.view({B, groups, cg}) - m.mean.unsqueeze(-1)).square().sum(-1) * n;
    m.m2 = m2C.view({B, groups, cg}).sum(-1) + spread;
    m.count = at::full({B, groups}, n * static_cast<double>(cg), m.mean.options());
    return m;
}

at::Tensor groupNormApply(const at::Tensor& x, int64_t groups, const at::Tensor& mean, const at::Tensor& rstd,
                          const at::Tensor& weight, const at::Tensor& bias, bool silu) {
    checkGroups(x, groups);
    const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), cg = C / groups;
    if (mean.sizes() != at::IntArrayRef({B, groups}) || rstd.sizes() != at::IntArrayRef({B, groups}))
        throwInternal("groupNormApply: statistics {} do not fit x {} with {} groups",
                      shapeToString(mean.sizes()), shapeToString(x.sizes()), groups);
    // y = x · scale[b, c] + shift[b, c]
    const auto f = at::TensorOptions().dtype(at::kFloat).device(x.device());
    const at::Tensor w = weight.defined() ? weight.to(f).view({1, groups, cg}) : at::ones({1, groups, cg}, f);
    const at::Tensor b = bias.defined() ? bias.to(f).view({1, groups, cg}) : at::zeros({1, groups, cg}, f);
    const at::Tensor scale = (rstd.to(f).unsqueeze(-1) * w).reshape({B, C}).contiguous();
    const at::Tensor shift =
        (b - mean.to(f).unsqueeze(-1) * scale.view({B, groups, cg})).reshape({B, C}).contiguous();
    if (!fastLayout(x)) {
        at::Tensor y = x.to(at::kFloat) * scale.view({B, C, 1, 1}) + shift.view({B, C, 1, 1});
        if (silu) y = at::silu(y);
        return y.to(x.scalar_type()).contiguous(x.suggest_memory_format());
    }
    at::Tensor y = at::empty_like(x, at::MemoryFormat::ChannelsLast);
    const int64_t pixels = H * W;
    const bool bf16 = x.scalar_type() == at::kBFloat16;
    const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, C));
    at::parallel_for(0, B * pixels, grain, [&](int64_t p0, int64_t p1) {
        while (p0 < p1) {
            const int64_t b = p0 / pixels, end = std::min(p1, (b + 1) * pixels);
            const float* sc = scale.data_ptr<float>() + b * C;
            const float* sh = shift.data_ptr<float>() + b * C;
            if (bf16)
                applyBf16Fastest(reinterpret_cast<const std::uint16_t*>(x.data_ptr()) + p0 * C,
                                 reinterpret_cast<std::uint16_t*>(y.data_ptr()) + p0 * C, end - p0, C, sc, sh,
                                 silu);
            else
                applyF32(x.data_ptr<float>() + p0 * C, y.data_ptr<float>() + p0 * C, end - p0, C, sc, sh,
                         silu);
            p0 = end;
        }
    });
    return y;
}

at::Tensor groupNormSilu(const at::Tensor& x, int64_t groups, const at::Tensor& weight,
                         const at::Tensor& bias, double eps, bool silu, NormStatsSession* session) {
    if (!session && !fastLayout(x)) {
        at::Tensor y = at::group_norm(x, groups, weight, bias, eps);
        return silu ? at::silu_(y) : y;
    }
    std::pair<at::Tensor, at::Tensor> stats;
    if (session && session->replay) {
        if (session->index >= session->statistics.size())
            throwInternal("tiled VAE decode: GroupNorm call {} has no shared statistics ({} recorded)",
                          session->index, session->statistics.size());
        stats = session->statistics[session->index];
    } else {
        stats = groupMoments(x, groups).meanRstd(eps);
    }
    if (session) {
        if (session->record) {
            const int64_t sy = x.size(2) / std::max<int64_t>(1, session->latentH);
            const int64_t sx = x.size(3) / std::max<int64_t>(1, session->latentW);
            const Region& c = session->latentCore;
            session->recorded.push_back(
                groupMoments(x, groups, {c.y0 * sy, c.y1 * sy, c.x0 * sx, c.x1 * sx}));
        }
        ++session->index;
    }
    return groupNormApply(x, groups, stats.first, stats.second, weight, bias, silu);
}

FusedUpsampleConv fuseUpsampleConv(const at::Tensor& weight3x3, const at::Tensor& bias, at::ScalarType dtype,
                                   at::Device device, bool channelsLast) {
    // Rows of the 3x3 kernel that land on tap t of output parity a (the same for columns):
    // a = 0: tap 0 (input row i−1) <- {0}, tap 1 (row i) <- {1, 2};  a = 1: tap 0 (row i) <- {0, 1}, tap 1 <-
    // {2}.
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
                        for (int kx : taps[b][u])
                            k.select(2, t).select(2, u).add_(w3.select(2, ky).select(2, kx));
            parts.push_back(k);
        }
    }
    FusedUpsampleConv f;
    f.outChannels = cout;
    at::Tensor w = at::cat(parts, 0).to(device, dtype);
    if (channelsLast) w = w.contiguous(at::MemoryFormat::ChannelsLast);
    const at::Tensor b4 = bias.defined() ? bias.to(at::kFloat).repeat({4}).to(device, dtype) : at::Tensor();
    f.conv = ConvLayer(w, b4, 1, 1);
    if (dtype == at::kBFloat16 && device.is_cpu() && channelsLast && WinogradConv3x3::available())
        f.winograd = WinogradConv3x3(weight3x3, bias, WinogradConv3x3::Mode::Upsample2x);
    return f;
}

at::Tensor upsampleConv(const at::Tensor& x, const FusedUpsampleConv& conv, bool channelsLast) {
    if (conv.winograd.defined() && WinogradConv3x3::enabled() && conv.winograd.accepts(x))
        return conv.winograd(x);
    const int64_t B = x.size(0), H = x.size(2), W = x.size(3), C = conv.outChannels;
    // Padding 1 on the small input: output row r of the 2x2 conv reads padded rows r, r+1 = input rows
    // r−1, r, so parity a's output i is row i + a of this [B, 4C, H+1, W+1] result.
    const at::Tensor o = conv.conv(x);
    at::Tensor out = at::empty({B, C, 2 * H, 2 * W},
                               x.options().memory_format(channelsLast ? at::MemoryFormat::ChannelsLast
                                                                      : at::MemoryFormat::Contiguous));
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
