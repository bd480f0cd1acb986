// The one place that knows the differences between libtorch 1.13 (Debian, CI) and 2.x (users, CUDA).
// Everything else includes this header instead of testing versions itself.
#pragma once

#include <ATen/ATen.h>
#include <torch/csrc/api/include/torch/version.h>

#define SWD_TORCH_AT_LEAST(major, minor) \
    (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

// at::scaled_dot_product_attention (flash / memory-efficient kernels) exists from 2.0 on.
#define SWD_HAS_SDPA SWD_TORCH_AT_LEAST(2, 0)
// at::kFloat8_e4m3fn / e5m2 scalar types exist from 2.1 on.
#define SWD_HAS_FLOAT8 SWD_TORCH_AT_LEAST(2, 1)

namespace swd::compat {

// ATen ops take c10::optional in 1.13; recent 2.x made it an alias of std::optional.
template <typename T>
using optional = c10::optional<T>;
inline constexpr auto nullopt = c10::nullopt;

// Read access to a tensor's data (const_data_ptr() exists only from 2.1 on).
template <typename T>
inline const T* constData(const at::Tensor& t) {
    return t.data_ptr<T>();
}

inline const char* torchVersionString() {
    return TORCH_VERSION;
}

}  // namespace swd::compat
