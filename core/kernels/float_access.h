// Scalar float / bf16 loads and stores for the hand-written CPU kernels, which see bf16 as raw uint16
// so that one template body serves both dtypes and vectorises.
#pragma once

#include <cstdint>
#include <cstring>

namespace swd::kernels {

inline float loadF(const float* p, std::int64_t i) {
    return p[i];
}
inline float loadF(const std::uint16_t* p, std::int64_t i) {
    const std::uint32_t u = static_cast<std::uint32_t>(p[i]) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
inline void storeF(float* p, std::int64_t i, float v) {
    p[i] = v;
}
// Round to nearest even, like c10::BFloat16 (NaN payloads aside).
inline void storeF(std::uint16_t* p, std::int64_t i, float v) {
    std::uint32_t u;
    std::memcpy(&u, &v, 4);
    u += 0x7FFFu + ((u >> 16) & 1u);
    p[i] = static_cast<std::uint16_t>(u >> 16);
}

}  // namespace swd::kernels
