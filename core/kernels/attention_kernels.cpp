#include "kernels/attention_kernels.h"

#include "util/error.h"

#include <ATen/Parallel.h>
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace swd::kernels {

namespace {

inline std::uint16_t toBf16(float v) {
    std::uint32_t u;
    std::memcpy(&u, &v, 4);
    if ((u & 0x7F800000u) == 0x7F800000u && (u & 0x007FFFFFu))
        return static_cast<std::uint16_t>((u >> 16) | 0x40);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return static_cast<std::uint16_t>(u >> 16);
}

// ---- portable rows ----
float expRowScalar(const float* s, int64_t n, float* pf, std::uint16_t* pb) {
    float m = -std::numeric_limits<float>::infinity();
    bool nan = false;
    for (int64_t i = 0; i < n; ++i) {
        nan = nan || std::isnan(s[i]);
        m = std::max(m, s[i]);
    }
    const float q = std::numeric_limits<float>::quiet_NaN();
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) {
        const float e = nan ? q : (std::isinf(m) && m < 0 ? 0.0f : std::exp(s[i] - m));
        sum += e;
        if (pf) pf[i] = e;
        if (pb) pb[i] = toBf16(e);
    }
    return nan ? q : static_cast<float>(sum);
}

// ---- AVX-512 rows ----
// GCC 12 warns inside its own AVX-512 headers (the _mm512_undefined_* that some intrinsics start from,
// GCC bug 105593); the values are always fully written.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define SWD_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))

// exp(x) for x <= 0 (Cephes' expf polynomial, ~1 ulp; exactly 0 below -88, where expf is denormal).
SWD_AVX512 inline __m512 exp512(__m512 x) {
    const __mmask16 live = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-88.0f), _CMP_GE_OQ);
    x = _mm512_max_ps(x, _mm512_set1_ps(-88.0f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 y = _mm512_set1_ps(1.9875691500e-4f);
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.3981999507e-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(8.3334519073e-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(4.1665795894e-2f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.6666665459e-1f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(5.0000001201e-1f));
    y = _mm512_fmadd_ps(y, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_maskz_mov_ps(live, _mm512_scalef_ps(y, n));
}

// fp32 -> bf16, round to nearest even (the inputs here are finite and >= 0).
SWD_AVX512 inline __m256i bf16x16(__m512 v) {
    __m512i u = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    u = _mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF)));
    return _mm512_cvtepi32_epi16(_mm512_srli_epi32(u, 16));
}

SWD_AVX512 float expRowAvx512(const float* s, int64_t n, float* pf, std::uint16_t* pb) {
    __m512 mv = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
    __mmask16 nanMask = 0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 v = _mm512_loadu_ps(s + i);
        nanMask |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
        mv = _mm512_max_ps(mv, v);
    }
    float m = _mm512_reduce_max_ps(mv);
    bool nan = nanMask != 0;
    for (; i < n; ++i) {
        nan = nan || std::isnan(s[i]);
        m = std::max(m, s[i]);
    }
    if (nan || (std::isinf(m) && m < 0)) return expRowScalar(s, n, pf, pb);
    const __m512 mb = _mm512_set1_ps(m);
    __m512 acc = _mm512_setzero_ps();
    i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(s + i), mb));
        acc = _mm512_add_ps(acc, e);
        if (pf) _mm512_storeu_ps(pf + i, e);
        if (pb) _mm256_storeu_si256(reinterpret_cast<__m256i*>(pb + i), bf16x16(e));
    }
    if (i < n) {
        const __mmask16 k = static_cast<__mmask16>((1u << (n - i)) - 1u);
        const __m512 e = _mm512_maskz_mov_ps(k, exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, s + i), mb)));
        acc = _mm512_add_ps(acc, e);
        if (pf) _mm512_mask_storeu_ps(pf + i, k, e);
        if (pb) _mm256_mask_storeu_epi16(pb + i, k, bf16x16(e));
    }
    return _mm512_reduce_add_ps(acc);
}

#pragma GCC diagnostic pop

bool haveAvx512() {
    static const bool yes = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                            __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    return yes;
}

}  // namespace

void expRows(const at::Tensor& scores, const at::Tensor& probs, const at::Tensor& sums) {
    if (!scores.device().is_cpu() || scores.scalar_type() != at::kFloat || !scores.is_contiguous() ||
        scores.dim() != 2 || !probs.is_contiguous() || probs.sizes() != scores.sizes() ||
        (probs.scalar_type() != at::kFloat && probs.scalar_type() != at::kBFloat16) ||
        sums.scalar_type() != at::kFloat || sums.numel() != scores.size(0) || !sums.is_contiguous())
        throwInternal("expRows: bad operands");
    const int64_t rows = scores.size(0), n = scores.size(1);
    const float* s = scores.data_ptr<float>();
    float* pf = probs.scalar_type() == at::kFloat ? probs.data_ptr<float>() : nullptr;
    auto* pb =
        probs.scalar_type() == at::kBFloat16 ? reinterpret_cast<std::uint16_t*>(probs.data_ptr()) : nullptr;
    float* out = sums.data_ptr<float>();
    const bool avx = haveAvx512();
    at::parallel_for(
        0, rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, n)), [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; ++r) {
                float* prf = pf ? pf + r * n : nullptr;
                std::uint16_t* prb = pb ? pb + r * n : nullptr;
                out[r] = avx ? expRowAvx512(s + r * n, n, prf, prb) : expRowScalar(s + r * n, n, prf, prb);
            }
        });
}

void divideRowsInto(const at::Tensor& src, const at::Tensor& sums, const at::Tensor& dst) {
    if (src.scalar_type() != at::kFloat || !src.is_contiguous() || src.dim() != 3 ||
        dst.sizes() != src.sizes() || dst.stride(2) != 1 || sums.scalar_type() != at::kFloat ||
        !sums.is_contiguous() || sums.numel() != src.size(0) * src.size(1) ||
        (dst.scalar_type() != at::kFloat && dst.scalar_type() != at::kBFloat16))
        throwInternal("divideRowsInto: bad operands");
    const int64_t n = src.size(1), D = src.size(2), rows = src.size(0) * n;
    const int64_t sh = dst.stride(0), sr = dst.stride(1);
    const float* sp = src.data_ptr<float>();
    const float* sum = sums.data_ptr<float>();
    const bool bf16 = dst.scalar_type() == at::kBFloat16;
    // Small tiles run on the calling thread: waking the other threads costs more than the work.
    at::parallel_for(0, rows, std::max<int64_t>(1, 65536 / std::max<int64_t>(1, D)),
                     [&](int64_t r0, int64_t r1) {
                         for (int64_t r = r0; r < r1; ++r) {
                             const float inv = 1.0f / sum[r];
                             const int64_t off = (r / n) * sh + (r % n) * sr;
                             const float* a = sp + r * D;
                             if (bf16) {
                                 auto* o = reinterpret_cast<std::uint16_t*>(dst.data_ptr()) + off;
                                 for (int64_t j = 0; j < D; ++j) o[j] = toBf16(a[j] * inv);
                             } else {
                                 float* o = dst.data_ptr<float>() + off;
                                 for (int64_t j = 0; j < D; ++j) o[j] = a[j] * inv;
                             }
                         }
                     });
}

}  // namespace swd::kernels
