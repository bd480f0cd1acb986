// Instruction-set dispatch for the hand-written CPU kernels (norms, GroupNorm, Winograd transforms); the
// build itself needs no -march flag.
//  - SWD_CPU_CLONES: the compiler builds the function for x86-64-v4 (AVX-512), v3 (AVX2) and baseline,
//    and the loader picks one for the CPU it runs on. Nothing on other architectures.
//  - AVX-512 BF16 helpers: kernels that use them carry SWD_AVX512BF16_TARGET and run only where
//    cpuHasAvx512Bf16() says so.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__)
#define SWD_CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define SWD_CPU_CLONES
#endif

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define SWD_HAVE_AVX512BF16_KERNELS 1
#define SWD_AVX512BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

// Macros rather than functions: a function returning __m512 outside an AVX-512 build changes the ABI.
// The zero-masked forms: GCC 12 warns about the "undefined" pass-through of the unmasked ones.
#define SWD_LOAD_BF16X16(p)                      \
    _mm512_castsi512_ps(_mm512_maskz_slli_epi32( \
        0xFFFF,                                  \
        _mm512_maskz_cvtepu16_epi32(0xFFFF, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16))
// Round to nearest even, as c10::BFloat16 and kernels::storeF do.
#define SWD_STORE_BF16X16(p, v) \
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(v)))

namespace swd::kernels {

inline bool cpuHasAvx512Bf16() {
    static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                            __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16");
    return has;
}

}  // namespace swd::kernels

#else

namespace swd::kernels {

inline bool cpuHasAvx512Bf16() {
    return false;
}

}  // namespace swd::kernels

#endif
