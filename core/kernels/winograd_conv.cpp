#include "kernels/winograd_conv.h"

#include "kernels/cpu_simd.h"
#include "kernels/dnnl_backend.h"
#include "kernels/float_access.h"
#include "models/op_profile.h"

#include "util/error.h"
#include "util/tensor_text.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

namespace swd {

namespace {

std::atomic<bool> g_enabled{true};

// Bytes of the transformed input (bf16) plus the matmul result (fp32) of one band: small enough to stay
// in the caches between the three stages, large enough that each matmul has tens to hundreds of rows.
// Measured on the VAE's shapes (2 cores): 1 MB and 16 MB bands are both slower.
constexpr int64_t kBandBytes = int64_t{4} << 20;

// From this many weights per component on, the 16 products run as 16 plain matmuls whose weights oneDNN
// keeps pre-packed, rather than as one batched matmul: oneDNN 2.x has no packed layout for batched
// weights and re-packs them on every call, which costs more than the extra calls once they are large
// (measured: 512x512 weights 344 → 420 GFLOP/s).
constexpr int64_t kPerComponentWeights = 256 * 256;

// Output row a (0, 1) of a tile takes Aᵀ = [1 1 1 0; 0 1 −1 −1]; in upsampling mode the input rows of a
// tile are (x[y−1], x[y], x[y], x[y+1]) so that Bᵀd = (x[y−1] − x[y], 2x[y], 0, x[y] − x[y+1]): only the
// Winograd rows (and columns) 0, 1 and 3 are ever non-zero, and the 2 is folded into U.
constexpr int kUpsampleRows[3] = {0, 1, 3};

}  // namespace

struct WinogradConv3x3::Impl {
    Mode mode = Mode::Plain;
    int components = 16;  // 16, or 9 when upsampling
    int64_t inChannels = 0, outChannels = 0;
    at::Tensor u;     // G g Gᵀ per used component: bf16 [components, Cin, Cout], until packed
    at::Tensor bias;  // fp32 [Cout] (zeros when the conv has none)
#if SWD_HAVE_ONEDNN
    // The products of a band: one batched matmul, or one plain matmul per component.
    struct Matmul {
        dnnl::matmul primitive;
        bool perComponent = false;
        std::vector<dnnl::memory> weights;  // u in the primitive's weights layout: 1 or `components`
    };
    std::mutex mutex;
    std::map<std::pair<int64_t, int64_t>, Matmul> matmuls;  // by (tiles, band capacity)
    // u per weights layout (the layout oneDNN picks can depend on the matmul's shape)
    std::vector<std::pair<dnnl::memory::desc, std::vector<dnnl::memory>>> packed;

    // The matmul of `tiles` rows in a band of `capacity` rows, created and its weights packed on first use.
    const Matmul& matmul(int64_t tiles, int64_t capacity) {
        using dnnl::memory;
        std::lock_guard<std::mutex> lock(mutex);
        const auto key = std::make_pair(tiles, capacity);
        const auto it = matmuls.find(key);
        if (it != matmuls.end()) return it->second;
        const int64_t C = inChannels, K = outChannels, n = components;
        Matmul entry;
        entry.perComponent = C * K >= kPerComponentWeights;
        const auto bf16 = memory::data_type::bf16;
        const memory::desc vDesc = entry.perComponent
                                       ? memory::desc({tiles, C}, bf16, {C, 1})
                                       : memory::desc({n, tiles, C}, bf16, {capacity * C, C, 1});
        const memory::desc mDesc =
            entry.perComponent ? memory::desc({tiles, K}, memory::data_type::f32, {K, 1})
                               : memory::desc({n, tiles, K}, memory::data_type::f32, {capacity * K, K, 1});
        const memory::desc plainU = entry.perComponent
                                        ? memory::desc({C, K}, bf16, memory::format_tag::ab)
                                        : memory::desc({n, C, K}, bf16, memory::format_tag::abc);
        const memory::desc anyU = entry.perComponent ? memory::desc({C, K}, bf16, memory::format_tag::any)
                                                     : memory::desc({n, C, K}, bf16, memory::format_tag::any);
        const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(vDesc, anyU, mDesc), dnnl_backend::engine());
        entry.primitive = dnnl::matmul(pd);
        for (const auto& [desc, mems] : packed)
            if (desc == pd.weights_desc() && mems.size() == (entry.perComponent ? std::size_t(n) : 1u))
                entry.weights = mems;
        if (entry.weights.empty()) {
            // From u the first time; u is then dropped (it would double the weights' memory) and a later
            // layout is reordered from the first packed copy.
            for (int64_t xi = 0; xi < (entry.perComponent ? n : 1); ++xi) {
                memory source = u.defined()
                                    ? memory(plainU, dnnl_backend::engine(),
                                             reinterpret_cast<std::uint16_t*>(u.data_ptr()) + xi * C * K)
                                    : packed.front().second[static_cast<std::size_t>(xi)];
                memory blocked(pd.weights_desc(), dnnl_backend::engine());
                dnnl::reorder(source, blocked).execute(dnnl_backend::stream(), source, blocked);
                entry.weights.push_back(blocked);
            }
            dnnl_backend::stream().wait();
            packed.emplace_back(pd.weights_desc(), entry.weights);
            u = at::Tensor();
        }
        return matmuls.emplace(key, std::move(entry)).first->second;
    }

    // M[ξ] = V[ξ] · U[ξ] for a band: [tiles, Cin] x [Cin, Cout] per component, bf16 in, fp32 out; v and m
    // hold `capacity` rows per component.
    void multiply(int64_t tiles, int64_t capacity, std::uint16_t* v, float* m) {
        using dnnl::memory;
        const Matmul& mm = matmul(tiles, capacity);
        const int64_t C = inChannels, K = outChannels, nc = components;
        const int64_t vStride = capacity * C, mStride = capacity * K;
        if (mm.perComponent) {
            const memory::desc vDesc({tiles, C}, memory::data_type::bf16, {C, 1});
            const memory::desc mDesc({tiles, K}, memory::data_type::f32, {K, 1});
            for (int64_t xi = 0; xi < nc; ++xi)
                mm.primitive.execute(
                    dnnl_backend::stream(),
                    {{DNNL_ARG_SRC, memory(vDesc, dnnl_backend::engine(), v + xi * vStride)},
                     {DNNL_ARG_WEIGHTS, mm.weights[static_cast<std::size_t>(xi)]},
                     {DNNL_ARG_DST, memory(mDesc, dnnl_backend::engine(), m + xi * mStride)}});
        } else {
            const memory::desc vDesc({nc, tiles, C}, memory::data_type::bf16, {vStride, C, 1});
            const memory::desc mDesc({nc, tiles, K}, memory::data_type::f32, {mStride, K, 1});
            mm.primitive.execute(dnnl_backend::stream(),
                                 {{DNNL_ARG_SRC, memory(vDesc, dnnl_backend::engine(), v)},
                                  {DNNL_ARG_WEIGHTS, mm.weights.front()},
                                  {DNNL_ARG_DST, memory(mDesc, dnnl_backend::engine(), m)}});
        }
        dnnl_backend::stream().wait();
    }
#endif
};

WinogradConv3x3::WinogradConv3x3(const at::Tensor& weight, const at::Tensor& bias, Mode mode)
    : m_impl(std::make_shared<Impl>()) {
    if (weight.dim() != 4 || weight.size(2) != 3 || weight.size(3) != 3)
        throwInternal("WinogradConv3x3: weight {} is not [Cout, Cin, 3, 3]", shapeToString(weight.sizes()));
    Impl& d = *m_impl;
    const at::Tensor g = weight.to(at::kCPU, at::kFloat);
    const at::Tensor G =
        at::tensor({1.0f, 0.0f, 0.0f, 0.5f, 0.5f, 0.5f, 0.5f, -0.5f, 0.5f, 0.0f, 0.0f, 1.0f}).view({4, 3});
    d.mode = mode;
    d.outChannels = g.size(0);
    d.inChannels = g.size(1);
    // U[ξ, ν, c, k] = Σ_ij G[ξ, i] g[k, c, i, j] G[ν, j]
    at::Tensor u = at::einsum("xi,kcij,yj->xyck", {G, g, G});
    if (mode == Mode::Upsample2x) {
        const at::Tensor rows = at::tensor({kUpsampleRows[0], kUpsampleRows[1], kUpsampleRows[2]}, at::kLong);
        const at::Tensor fold = at::tensor({1.0f, 2.0f, 1.0f});  // Bᵀd's 2·x[y] in row (and column) 1
        u = u.index_select(0, rows).index_select(1, rows) *
            (fold.view({3, 1, 1, 1}) * fold.view({1, 3, 1, 1}));
        d.components = 9;
    }
    d.u = u.reshape({d.components, d.inChannels, d.outChannels}).to(at::kBFloat16).contiguous();
    d.bias =
        bias.defined() ? bias.to(at::kCPU, at::kFloat).contiguous() : at::zeros({d.outChannels}, at::kFloat);
}

void WinogradConv3x3::setEnabled(bool enabled) {
    g_enabled = enabled;
}

bool WinogradConv3x3::enabled() {
    return g_enabled;
}

bool WinogradConv3x3::available() {
    return dnnl_backend::compiledIn() && dnnl_backend::usable(at::kBFloat16);
}

bool WinogradConv3x3::accepts(const at::Tensor& x, const at::Tensor& accumulate) const {
    auto bf16ChannelsLast = [](const at::Tensor& t) {
        return t.dim() == 4 && t.device().is_cpu() && t.scalar_type() == at::kBFloat16 &&
               t.is_contiguous(at::MemoryFormat::ChannelsLast);
    };
    return m_impl && available() && bf16ChannelsLast(x) && x.size(1) == m_impl->inChannels &&
           (!accumulate.defined() || bf16ChannelsLast(accumulate));
}

#if SWD_HAVE_ONEDNN  // the transforms serve only the oneDNN path

// ---------------------------------------------------------------------------------------------------
// Transforms, portable versions (any x86-64 or other CPU; vectorised by the compiler per target)

namespace {

using kernels::loadF;
using kernels::storeF;

// V = Bᵀ d B of one 4x4 tile for every channel; d: 16 pixel rows (row-major tile positions, a row of zeros
// for the padding), V component ξ at v + ξ·vStride. Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1].
// Blocks of channels go through an fp32 buffer so that every loop reads and writes a few contiguous
// streams instead of 32 at once.
inline void inputTile(const std::uint16_t* const* d, int64_t C, std::uint16_t* v, int64_t vStride) {
    constexpr int64_t kBlock = 64;
    float t[16][kBlock];
    for (int64_t c0 = 0; c0 < C; c0 += kBlock) {
        const int64_t n = std::min(kBlock, C - c0);
        for (int j = 0; j < 4; ++j) {  // rows: t = Bᵀ d
            const std::uint16_t* __restrict p0 = d[j] + c0;
            const std::uint16_t* __restrict p1 = d[4 + j] + c0;
            const std::uint16_t* __restrict p2 = d[8 + j] + c0;
            const std::uint16_t* __restrict p3 = d[12 + j] + c0;
            for (int64_t c = 0; c < n; ++c) {
                const float a0 = loadF(p0, c), a1 = loadF(p1, c), a2 = loadF(p2, c), a3 = loadF(p3, c);
                t[j][c] = a0 - a2;
                t[4 + j][c] = a1 + a2;
                t[8 + j][c] = a2 - a1;
                t[12 + j][c] = a1 - a3;
            }
        }
        for (int i = 0; i < 4; ++i) {  // columns: V = t B
            const float* r = t[4 * i];
            std::uint16_t* __restrict o0 = v + (4 * i) * vStride + c0;
            std::uint16_t* __restrict o1 = v + (4 * i + 1) * vStride + c0;
            std::uint16_t* __restrict o2 = v + (4 * i + 2) * vStride + c0;
            std::uint16_t* __restrict o3 = v + (4 * i + 3) * vStride + c0;
            for (int64_t c = 0; c < n; ++c) {
                storeF(o0, c, r[c] - r[2 * kBlock + c]);
                storeF(o1, c, r[kBlock + c] + r[2 * kBlock + c]);
                storeF(o2, c, r[2 * kBlock + c] - r[kBlock + c]);
                storeF(o3, c, r[kBlock + c] - r[3 * kBlock + c]);
            }
        }
    }
}

// The upsampling tile: d holds the 3x3 neighbourhood of one input pixel (row-major, zeros outside);
// V rows and columns (0, 1, 3) of Bᵀ d B, each (x[−1] − x[0], x[0], x[0] − x[+1]) (the 2 is in U).
inline void inputTileUpsample(const std::uint16_t* const* d, int64_t C, std::uint16_t* v, int64_t vStride) {
    constexpr int64_t kBlock = 64;
    float t[9][kBlock];
    for (int64_t c0 = 0; c0 < C; c0 += kBlock) {
        const int64_t n = std::min(kBlock, C - c0);
        for (int j = 0; j < 3; ++j) {
            const std::uint16_t* __restrict p0 = d[j] + c0;
            const std::uint16_t* __restrict p1 = d[3 + j] + c0;
            const std::uint16_t* __restrict p2 = d[6 + j] + c0;
            for (int64_t c = 0; c < n; ++c) {
                const float a0 = loadF(p0, c), a1 = loadF(p1, c), a2 = loadF(p2, c);
                t[j][c] = a0 - a1;
                t[3 + j][c] = a1;
                t[6 + j][c] = a1 - a2;
            }
        }
        for (int i = 0; i < 3; ++i) {
            const float* r = t[3 * i];
            std::uint16_t* __restrict o0 = v + (3 * i) * vStride + c0;
            std::uint16_t* __restrict o1 = v + (3 * i + 1) * vStride + c0;
            std::uint16_t* __restrict o2 = v + (3 * i + 2) * vStride + c0;
            for (int64_t c = 0; c < n; ++c) {
                storeF(o0, c, r[c] - r[kBlock + c]);
                storeF(o1, c, r[kBlock + c]);
                storeF(o2, c, r[kBlock + c] - r[2 * kBlock + c]);
            }
        }
    }
}

// Y = Aᵀ M A + bias (+ the value already in y when `accumulate`) for the 2x2 block of one tile;
// Aᵀ = [1 1 1 0; 0 1 −1 −1]. m: component ξ at m + ξ·mStride; y: the 4 output pixel rows. In upsampling
// mode m holds the 9 components of rows and columns (0, 1, 3); the others are zero.
template <bool Upsample>
inline void outputTile(const float* m, int64_t mStride, int64_t K, const float* bias, std::uint16_t* const* y,
                       bool accumulate) {
    constexpr int kRow = Upsample ? 3 : 4;  // components per Winograd row
    for (int64_t k = 0; k < K; ++k) {
        float s0[kRow], s1[kRow];
        for (int j = 0; j < kRow; ++j) {
            const float m0 = m[j * mStride + k], m1 = m[(kRow + j) * mStride + k];
            if (Upsample) {
                const float m3 = m[(2 * kRow + j) * mStride + k];
                s0[j] = m0 + m1;
                s1[j] = m1 - m3;
            } else {
                const float m2 = m[(2 * kRow + j) * mStride + k], m3 = m[(3 * kRow + j) * mStride + k];
                s0[j] = m0 + m1 + m2;
                s1[j] = m1 - m2 - m3;
            }
        }
        float r[4];
        if (Upsample) {
            r[0] = s0[0] + s0[1];
            r[1] = s0[1] - s0[2];
            r[2] = s1[0] + s1[1];
            r[3] = s1[1] - s1[2];
        } else {
            r[0] = s0[0] + s0[1] + s0[2];
            r[1] = s0[1] - s0[2] - s0[3];
            r[2] = s1[0] + s1[1] + s1[2];
            r[3] = s1[1] - s1[2] - s1[3];
        }
        for (int q = 0; q < 4; ++q) storeF(y[q], k, r[q] + bias[k] + (accumulate ? loadF(y[q], k) : 0.0f));
    }
}

SWD_CPU_CLONES void inputTileKernel(const std::uint16_t* const* d, int64_t C, std::uint16_t* v,
                                    int64_t vStride) {
    inputTile(d, C, v, vStride);
}

SWD_CPU_CLONES void inputTileUpsampleKernel(const std::uint16_t* const* d, int64_t C, std::uint16_t* v,
                                            int64_t vStride) {
    inputTileUpsample(d, C, v, vStride);
}

SWD_CPU_CLONES void outputTileKernel(const float* m, int64_t mStride, int64_t K, const float* bias,
                                     std::uint16_t* const* y, bool accumulate, bool upsample) {
    if (upsample)
        outputTile<true>(m, mStride, K, bias, y, accumulate);
    else
        outputTile<false>(m, mStride, K, bias, y, accumulate);
}

// ---- AVX-512 BF16 kernels ----------------------------------------------------------------------------
// The transforms are data movement with a few adds per value, so their cost is instructions per value:
// the portable kernels spend most of theirs converting to and from bf16 by hand. These use the CPU's bf16
// conversion (one instruction per 16 values) and keep 16 channels of a whole tile in registers; along a
// row of tiles the input columns a tile shares with the next are transformed once.

#if SWD_HAVE_AVX512BF16_KERNELS
#define SWD_LOAD_PIXEL(row, px, W, C, c) \
    (((row) && (px) >= 0 && (px) < (W)) ? SWD_LOAD_BF16X16((row) + (px) * (C) + (c)) : _mm512_setzero_ps())

// The tiles tx0 .. tx1−1 of one tile row. rows: the 4 input pixel rows of the tile row (nullptr:
// padding); tile tx's components go to v + ξ·vStride + (tx − tx0)·C. C must be a multiple of 16.
SWD_AVX512BF16_TARGET void inputRowAvx512(const std::uint16_t* const* rows, int64_t W, int64_t C, int64_t tx0,
                                          int64_t tx1, std::uint16_t* v, int64_t vStride) {
    for (int64_t c = 0; c < C; c += 16) {
        // Bᵀ down one input column px: t = (d0 − d2, d1 + d2, d2 − d1, d1 − d3)
#define SWD_WINOGRAD_COLUMN(px, t)                                                                         \
    do {                                                                                                   \
        const __m512 d0 = SWD_LOAD_PIXEL(rows[0], px, W, C, c), d1 = SWD_LOAD_PIXEL(rows[1], px, W, C, c), \
                     d2 = SWD_LOAD_PIXEL(rows[2], px, W, C, c), d3 = SWD_LOAD_PIXEL(rows[3], px, W, C, c); \
        (t)[0] = _mm512_sub_ps(d0, d2);                                                                    \
        (t)[1] = _mm512_add_ps(d1, d2);                                                                    \
        (t)[2] = _mm512_sub_ps(d2, d1);                                                                    \
        (t)[3] = _mm512_sub_ps(d1, d3);                                                                    \
    } while (false)
        __m512 a[4], b[4], e[4], f[4];  // the tile's columns 2tx−1, 2tx, 2tx+1, 2tx+2
        SWD_WINOGRAD_COLUMN(2 * tx0 - 1, a);
        SWD_WINOGRAD_COLUMN(2 * tx0, b);
        for (int64_t tx = tx0; tx < tx1; ++tx) {
            SWD_WINOGRAD_COLUMN(2 * tx + 1, e);
            SWD_WINOGRAD_COLUMN(2 * tx + 2, f);
            std::uint16_t* o = v + (tx - tx0) * C + c;
            for (int i = 0; i < 4; ++i) {  // … then B across: (a − e, b + e, e − b, b − f)
                SWD_STORE_BF16X16(o + (4 * i + 0) * vStride, _mm512_sub_ps(a[i], e[i]));
                SWD_STORE_BF16X16(o + (4 * i + 1) * vStride, _mm512_add_ps(b[i], e[i]));
                SWD_STORE_BF16X16(o + (4 * i + 2) * vStride, _mm512_sub_ps(e[i], b[i]));
                SWD_STORE_BF16X16(o + (4 * i + 3) * vStride, _mm512_sub_ps(b[i], f[i]));
                a[i] = e[i];
                b[i] = f[i];
            }
        }
#undef SWD_WINOGRAD_COLUMN
    }
}

// The upsampling tiles tx0 .. tx1−1 of input row y; rows: input rows y−1, y, y+1 (nullptr: padding).
SWD_AVX512BF16_TARGET void inputRowUpsampleAvx512(const std::uint16_t* const* rows, int64_t W, int64_t C,
                                                  int64_t tx0, int64_t tx1, std::uint16_t* v,
                                                  int64_t vStride) {
    for (int64_t c = 0; c < C; c += 16) {
        // (x[y−1] − x[y], x[y], x[y] − x[y+1]) down input column px
#define SWD_WINOGRAD_COLUMN(px, t)                                                                         \
    do {                                                                                                   \
        const __m512 d0 = SWD_LOAD_PIXEL(rows[0], px, W, C, c), d1 = SWD_LOAD_PIXEL(rows[1], px, W, C, c), \
                     d2 = SWD_LOAD_PIXEL(rows[2], px, W, C, c);                                            \
        (t)[0] = _mm512_sub_ps(d0, d1);                                                                    \
        (t)[1] = d1;                                                                                       \
        (t)[2] = _mm512_sub_ps(d1, d2);                                                                    \
    } while (false)
        __m512 l[3], m[3], r[3];  // columns tx−1, tx, tx+1
        SWD_WINOGRAD_COLUMN(tx0 - 1, l);
        SWD_WINOGRAD_COLUMN(tx0, m);
        for (int64_t tx = tx0; tx < tx1; ++tx) {
            SWD_WINOGRAD_COLUMN(tx + 1, r);
            std::uint16_t* o = v + (tx - tx0) * C + c;
            for (int i = 0; i < 3; ++i) {
                SWD_STORE_BF16X16(o + (3 * i + 0) * vStride, _mm512_sub_ps(l[i], m[i]));
                SWD_STORE_BF16X16(o + (3 * i + 1) * vStride, m[i]);
                SWD_STORE_BF16X16(o + (3 * i + 2) * vStride, _mm512_sub_ps(m[i], r[i]));
                l[i] = m[i];
                m[i] = r[i];
            }
        }
#undef SWD_WINOGRAD_COLUMN
    }
}

// outputTile for one tile whose 4 output pixels all exist; K a multiple of 16.
SWD_AVX512BF16_TARGET void outputTileAvx512(const float* m, int64_t mStride, int64_t K, const float* bias,
                                            std::uint16_t* const* y, bool accumulate, bool upsample) {
    for (int64_t k = 0; k < K; k += 16) {
        __m512 r[4];
        if (upsample) {
            __m512 s0[3], s1[3];
            for (int j = 0; j < 3; ++j) {
                const __m512 m0 = _mm512_loadu_ps(m + j * mStride + k);
                const __m512 m1 = _mm512_loadu_ps(m + (3 + j) * mStride + k);
                const __m512 m3 = _mm512_loadu_ps(m + (6 + j) * mStride + k);
                s0[j] = _mm512_add_ps(m0, m1);
                s1[j] = _mm512_sub_ps(m1, m3);
            }
            r[0] = _mm512_add_ps(s0[0], s0[1]);
            r[1] = _mm512_sub_ps(s0[1], s0[2]);
            r[2] = _mm512_add_ps(s1[0], s1[1]);
            r[3] = _mm512_sub_ps(s1[1], s1[2]);
        } else {
            __m512 s0[4], s1[4];
            for (int j = 0; j < 4; ++j) {
                const __m512 m0 = _mm512_loadu_ps(m + j * mStride + k);
                const __m512 m1 = _mm512_loadu_ps(m + (4 + j) * mStride + k);
                const __m512 m2 = _mm512_loadu_ps(m + (8 + j) * mStride + k);
                const __m512 m3 = _mm512_loadu_ps(m + (12 + j) * mStride + k);
                s0[j] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
                s1[j] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
            }
            r[0] = _mm512_add_ps(_mm512_add_ps(s0[0], s0[1]), s0[2]);
            r[1] = _mm512_sub_ps(_mm512_sub_ps(s0[1], s0[2]), s0[3]);
            r[2] = _mm512_add_ps(_mm512_add_ps(s1[0], s1[1]), s1[2]);
            r[3] = _mm512_sub_ps(_mm512_sub_ps(s1[1], s1[2]), s1[3]);
        }
        const __m512 bk = _mm512_loadu_ps(bias + k);
        for (int q = 0; q < 4; ++q) {
            __m512 out = _mm512_add_ps(r[q], bk);
            if (accumulate) out = _mm512_add_ps(out, SWD_LOAD_BF16X16(y[q] + k));
            SWD_STORE_BF16X16(y[q] + k, out);
        }
    }
}
#endif

// ---------------------------------------------------------------------------------------------------
// Forward stages: what one call's input and output transforms need, shared by all threads.

struct ForwardGeometry {
    bool up = false;          // Upsample2x mode
    bool vectorised = false;  // the AVX-512 kernels apply (C and K multiples of 16)
    bool accumulate = false;  // add to the output's current values (the residual)
    int64_t C = 0, H = 0, W = 0, K = 0, OH = 0, OW = 0;
    int64_t tilesH = 0, tilesW = 0;  // tile t: row r = t / tilesW (image r / tilesH)
    const std::uint16_t* src = nullptr;
    std::uint16_t* dst = nullptr;
    const float* bias = nullptr;
    const std::uint16_t* zeros = nullptr;  // C zeros: the padding
};

// V = Bᵀ d B for the tiles [t0, t1) into v (tile t at row t − t0), a run within one tile row at a time
inline void inputStage(const ForwardGeometry& g, int64_t t0, int64_t t1, std::uint16_t* v, int64_t vStride) {
    const bool up = g.up;
    const int64_t C = g.C, H = g.H, W = g.W, tilesH = g.tilesH, tilesW = g.tilesW;
    const std::uint16_t* const src = g.src;
    const int64_t base = t0;
    while (t0 < t1) {
        const int64_t r = t0 / tilesW, n = r / tilesH, ty = r % tilesH, txa = t0 % tilesW;
        const int64_t txb = std::min(tilesW, txa + (t1 - t0));
        const int kRows = up ? 3 : 4;
        const std::uint16_t* inRows[4] = {};
        for (int i = 0; i < kRows; ++i) {
            const int64_t py = up ? ty - 1 + i : 2 * ty - 1 + i;
            inRows[i] = py >= 0 && py < H ? src + (n * H + py) * W * C : nullptr;
        }
#if SWD_HAVE_AVX512BF16_KERNELS
        if (g.vectorised) {
            if (up)
                inputRowUpsampleAvx512(inRows, W, C, txa, txb, v + (t0 - base) * C, vStride);
            else
                inputRowAvx512(inRows, W, C, txa, txb, v + (t0 - base) * C, vStride);
            t0 += txb - txa;
            continue;
        }
#endif
        const std::uint16_t* tile[16];
        for (int64_t tx = txa; tx < txb; ++tx, ++t0) {
            for (int i = 0; i < kRows; ++i)
                for (int j = 0; j < kRows; ++j) {
                    const int64_t px = up ? tx - 1 + j : 2 * tx - 1 + j;
                    tile[kRows * i + j] = inRows[i] && px >= 0 && px < W ? inRows[i] + px * C : g.zeros;
                }
            if (up)
                inputTileUpsampleKernel(tile, C, v + (t0 - base) * C, vStride);
            else
                inputTileKernel(tile, C, v + (t0 - base) * C, vStride);
        }
    }
}

// Y = Aᵀ M A + bias (+ residual) into the output pixels of the tiles [t0, t1) (tile t at row t − t0 of m)
inline void outputStage(const ForwardGeometry& g, int64_t t0, int64_t t1, const float* m, int64_t mStride) {
    const bool up = g.up, accumulate = g.accumulate;
    const int64_t K = g.K, OH = g.OH, OW = g.OW, tilesH = g.tilesH, tilesW = g.tilesW;
    std::uint16_t* const dst = g.dst;
    const float* const bias = g.bias;
    std::vector<std::uint16_t> scratch(static_cast<std::size_t>(K));  // outputs past an odd edge
    std::uint16_t* pixels[4];
    for (int64_t t = t0; t < t1; ++t) {
        const int64_t r = t / tilesW, n = r / tilesH, ty = r % tilesH, tx = t % tilesW;
        bool inside = true;
        for (int a = 0; a < 2; ++a)
            for (int b = 0; b < 2; ++b) {
                const int64_t py = 2 * ty + a, px = 2 * tx + b;
                inside = inside && py < OH && px < OW;
                pixels[2 * a + b] = py < OH && px < OW ? dst + ((n * OH + py) * OW + px) * K : scratch.data();
            }
#if SWD_HAVE_AVX512BF16_KERNELS
        if (g.vectorised && inside) {
            outputTileAvx512(m + (t - t0) * K, mStride, K, bias, pixels, accumulate, up);
            continue;
        }
#endif
        outputTileKernel(m + (t - t0) * K, mStride, K, bias, pixels, accumulate, up);
    }
}

}  // namespace

#endif  // SWD_HAVE_ONEDNN

// ---------------------------------------------------------------------------------------------------
// Forward

at::Tensor WinogradConv3x3::operator()(const at::Tensor& x, const at::Tensor& accumulate) const {
    if (!accepts(x, accumulate))
        throwInternal(
            "WinogradConv3x3: input {} ({}) is not a CPU channels-last bf16 tensor with {} channels, or the "
            "residual is not one, or this build or CPU has no oneDNN bf16 kernels",
            shapeToString(x.sizes()), c10::toString(x.scalar_type()), m_impl ? m_impl->inChannels : 0);
#if SWD_HAVE_ONEDNN
    Impl& d = *m_impl;
    const bool up = d.mode == Mode::Upsample2x;
    const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), K = d.outChannels;
    const int64_t OH = up ? 2 * H : H, OW = up ? 2 * W : W;
    at::Tensor out =
        accumulate.defined()
            ? accumulate
            : at::empty({N, K, OH, OW}, x.options().memory_format(at::MemoryFormat::ChannelsLast));
    if (out.sizes() != at::IntArrayRef({N, K, OH, OW}))  // its dtype and layout: accepts()
        throwInternal("WinogradConv3x3: the residual {} does not fit the output [{}, {}, {}, {}]",
                      shapeToString(out.sizes()), N, K, OH, OW);

    // Tile (ty, tx) computes output rows 2ty, 2ty+1 and columns 2tx, 2tx+1.
    const int64_t nc = d.components;
    const int64_t tilesH = (OH + 1) / 2, tilesW = (OW + 1) / 2;
    const std::vector<std::uint16_t> zeros(static_cast<std::size_t>(C), 0);
    ForwardGeometry g;
    g.up = up;
    g.vectorised = kernels::cpuHasAvx512Bf16() && C % 16 == 0 && K % 16 == 0;
    g.accumulate = accumulate.defined();
    g.C = C, g.H = H, g.W = W, g.K = K, g.OH = OH, g.OW = OW;
    g.tilesH = tilesH, g.tilesW = tilesW;
    g.src = reinterpret_cast<const std::uint16_t*>(x.data_ptr());
    g.dst = reinterpret_cast<std::uint16_t*>(out.data_ptr());
    g.bias = d.bias.data_ptr<float>();
    g.zeros = zeros.data();
    const int64_t totalTiles = N * tilesH * tilesW;

    // Bands of whole tile rows; each stage runs on all threads in turn. (Measured: giving each thread its
    // own blocks of 64-256 tiles through all three stages, so that they stay in its cache, is no faster.)
    const int64_t rowsPerBand =
        std::clamp<int64_t>(kBandBytes / (nc * (2 * C + 4 * K) * tilesW), 1, N * tilesH);
    const int64_t bandTiles = rowsPerBand * tilesW;
    at::Tensor v = at::empty({nc, bandTiles, C}, x.options().memory_format(at::MemoryFormat::Contiguous));
    at::Tensor m = at::empty({nc, bandTiles, K}, x.options().dtype(at::kFloat));
    auto* vData = reinterpret_cast<std::uint16_t*>(v.data_ptr());
    float* mData = m.data_ptr<float>();
    for (int64_t band0 = 0; band0 < totalTiles; band0 += bandTiles) {
        const int64_t tiles = std::min(bandTiles, totalTiles - band0);
        std::optional<profile::Scope> scope(std::in_place, "winograd input transform");
        at::parallel_for(band0, band0 + tiles, 16, [&](int64_t t0, int64_t t1) {
            inputStage(g, t0, t1, vData + (t0 - band0) * C, bandTiles * C);
        });
        scope.reset();
        scope.emplace("winograd matmul", 2.0 * nc * tiles * C * K);
        d.multiply(tiles, bandTiles, vData, mData);
        scope.reset();
        scope.emplace("winograd output transform");
        at::parallel_for(band0, band0 + tiles, 16, [&](int64_t t0, int64_t t1) {
            outputStage(g, t0, t1, mData + (t0 - band0) * K, bandTiles * K);
        });
    }
    return out;
#else
    (void)accumulate;
    throwInternal("WinogradConv3x3: this build has no oneDNN");
#endif
}

}  // namespace swd
