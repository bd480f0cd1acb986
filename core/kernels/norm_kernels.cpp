#include "kernels/norm_kernels.h"

#include "kernels/cpu_simd.h"
#include "kernels/float_access.h"
#include "models/op_profile.h"
#include "util/error.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <cstdint>
#include <cstring>

namespace swd::kernels {

namespace {

// Mean and 1/std of one row, two passes with 16 partial sums (vectorisable without -ffast-math).
template <typename In>
inline void rowStats(const In* x, int64_t n, double eps, float& mean, float& rstd) {
    float acc[16] = {0};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; ++j) acc[j] += loadF(x, i + j);
    float sum = 0;
    for (int j = 0; j < 16; ++j) sum += acc[j];
    for (; i < n; ++i) sum += loadF(x, i);
    mean = sum / static_cast<float>(n);
    float acc2[16] = {0};
    i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; ++j) {
            const float d = loadF(x, i + j) - mean;
            acc2[j] += d * d;
        }
    float ss = 0;
    for (int j = 0; j < 16; ++j) ss += acc2[j];
    for (; i < n; ++i) {
        const float d = loadF(x, i) - mean;
        ss += d * d;
    }
    rstd = 1.0f / std::sqrt(ss / static_cast<float>(n) + static_cast<float>(eps));
}

template <typename Out>
inline void lnModRow(const float* x, int64_t n, double eps, const float* mul, const float* add, Out* out,
                     const float* mul2, const float* add2, Out* out2) {
    float mean, rstd;
    rowStats(x, n, eps, mean, rstd);
    if (out2) {
        for (int64_t i = 0; i < n; ++i) {
            const float h = (x[i] - mean) * rstd;
            storeF(out, i, h * mul[i] + add[i]);
            storeF(out2, i, h * mul2[i] + add2[i]);
        }
    } else {
        for (int64_t i = 0; i < n; ++i) storeF(out, i, (x[i] - mean) * rstd * mul[i] + add[i]);
    }
}

template <typename T>
inline void rmsRow(T* x, int64_t heads, int64_t d, const float* w, double eps) {
    for (int64_t h = 0; h < heads; ++h) {
        T* p = x + h * d;
        float acc[16] = {0};
        int64_t i = 0;
        for (; i + 16 <= d; i += 16)
            for (int j = 0; j < 16; ++j) {
                const float v = loadF(p, i + j);
                acc[j] += v * v;
            }
        float ss = 0;
        for (int j = 0; j < 16; ++j) ss += acc[j];
        for (; i < d; ++i) {
            const float v = loadF(p, i);
            ss += v * v;
        }
        const float r = 1.0f / std::sqrt(ss / static_cast<float>(d) + static_cast<float>(eps));
        for (i = 0; i < d; ++i) {
            // diffusers: (x · rsqrt(var + eps)) in the input's precision, then · weight
            T tmp[1];
            storeF(tmp, 0, loadF(p, i) * r);
            storeF(p, i, loadF(tmp, 0) * w[i]);
        }
    }
}

SWD_CPU_CLONES void lnModRowsF32(const float* x, int64_t xs, int64_t rows, int64_t n, double eps,
                                 const float* mul, const float* add, float* out, int64_t os,
                                 const float* mul2, const float* add2, float* out2, int64_t os2) {
    for (int64_t r = 0; r < rows; ++r)
        lnModRow(x + r * xs, n, eps, mul, add, out + r * os, mul2, add2, out2 ? out2 + r * os2 : nullptr);
}

SWD_CPU_CLONES void lnModRowsBf16(const float* x, int64_t xs, int64_t rows, int64_t n, double eps,
                                  const float* mul, const float* add, std::uint16_t* out, int64_t os,
                                  const float* mul2, const float* add2, std::uint16_t* out2, int64_t os2) {
    for (int64_t r = 0; r < rows; ++r)
        lnModRow(x + r * xs, n, eps, mul, add, out + r * os, mul2, add2, out2 ? out2 + r * os2 : nullptr);
}

SWD_CPU_CLONES void rmsRowsF32(float* x, int64_t xs, int64_t rows, int64_t heads, int64_t d, const float* w,
                               double eps) {
    for (int64_t r = 0; r < rows; ++r) rmsRow(x + r * xs, heads, d, w, eps);
}

SWD_CPU_CLONES void rmsRowsBf16(std::uint16_t* x, int64_t xs, int64_t rows, int64_t heads, int64_t d,
                                const float* w, double eps) {
    for (int64_t r = 0; r < rows; ++r) rmsRow(x + r * xs, heads, d, w, eps);
}

void requireCpuFloat(const at::Tensor& t, const char* what, bool allowBf16) {
    const bool ok = t.device().is_cpu() &&
                    (t.scalar_type() == at::kFloat || (allowBf16 && t.scalar_type() == at::kBFloat16));
    if (!ok || t.stride(-1) != 1)
        throwInternal(
            "norm kernels: {} must be a CPU fp32{} tensor with a contiguous last dim (got {} on {})", what,
            allowBf16 ? "/bf16" : "", c10::toString(t.scalar_type()), t.device().str());
}

}  // namespace

void layerNormModulate(const at::Tensor& x, const at::Tensor& shift, const at::Tensor& scale,
                       const at::Tensor& out, double eps, const at::Tensor& shift2, const at::Tensor& scale2,
                       const at::Tensor& out2) {
    profile::Scope scope("layernorm + modulate (fused kernel)");
    requireCpuFloat(x, "x", false);
    requireCpuFloat(out, "out", true);
    const bool two = out2.defined();
    if (two && out2.scalar_type() != out.scalar_type())
        throwInternal("norm kernels: out2 dtype differs from out");
    const int64_t B = x.size(0), T = x.size(1), C = x.size(2);
    // (1 + scale) once per batch element, in fp32 like the reference.
    const at::Tensor mul = (scale.to(at::kFloat) + 1.0f).contiguous();
    const at::Tensor add = shift.to(at::kFloat).contiguous();
    const at::Tensor mul2 = two ? (scale2.to(at::kFloat) + 1.0f).contiguous() : at::Tensor();
    const at::Tensor add2 = two ? shift2.to(at::kFloat).contiguous() : at::Tensor();
    const bool bf16 = out.scalar_type() == at::kBFloat16;
    const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, C));
    for (int64_t b = 0; b < B; ++b) {
        const float* xb = x.data_ptr<float>() + b * x.stride(0);
        const float* mb = mul.data_ptr<float>() + b * C;
        const float* ab = add.data_ptr<float>() + b * C;
        const float* mb2 = two ? mul2.data_ptr<float>() + b * C : nullptr;
        const float* ab2 = two ? add2.data_ptr<float>() + b * C : nullptr;
        at::parallel_for(0, T, grain, [&](int64_t r0, int64_t r1) {
            if (bf16) {
                auto* ob =
                    reinterpret_cast<std::uint16_t*>(out.data_ptr()) + b * out.stride(0) + r0 * out.stride(1);
                auto* ob2 = two ? reinterpret_cast<std::uint16_t*>(out2.data_ptr()) + b * out2.stride(0) +
                                      r0 * out2.stride(1)
                                : nullptr;
                lnModRowsBf16(xb + r0 * x.stride(1), x.stride(1), r1 - r0, C, eps, mb, ab, ob, out.stride(1),
                              mb2, ab2, ob2, two ? out2.stride(1) : 0);
            } else {
                float* ob = out.data_ptr<float>() + b * out.stride(0) + r0 * out.stride(1);
                float* ob2 =
                    two ? out2.data_ptr<float>() + b * out2.stride(0) + r0 * out2.stride(1) : nullptr;
                lnModRowsF32(xb + r0 * x.stride(1), x.stride(1), r1 - r0, C, eps, mb, ab, ob, out.stride(1),
                             mb2, ab2, ob2, two ? out2.stride(1) : 0);
            }
        });
    }
}

void rmsNormHeads(const at::Tensor& x, const at::Tensor& weight, int64_t headDim, double eps) {
    profile::Scope scope("qk rmsnorm (fused kernel)");
    requireCpuFloat(x, "x", true);
    if (x.dim() != 2 || x.size(1) % headDim != 0) throwInternal("rmsNormHeads: x must be [rows, heads*D]");
    const at::Tensor w = weight.to(at::kFloat).contiguous();
    const int64_t rows = x.size(0), heads = x.size(1) / headDim, rs = x.stride(0);
    const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, x.size(1)));
    at::parallel_for(0, rows, grain, [&](int64_t r0, int64_t r1) {
        if (x.scalar_type() == at::kBFloat16) {
            rmsRowsBf16(reinterpret_cast<std::uint16_t*>(x.data_ptr()) + r0 * rs, rs, r1 - r0, heads, headDim,
                        w.data_ptr<float>(), eps);
        } else {
            rmsRowsF32(x.data_ptr<float>() + r0 * rs, rs, r1 - r0, heads, headDim, w.data_ptr<float>(), eps);
        }
    });
}

}  // namespace swd::kernels
