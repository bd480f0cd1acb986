// Tensor descriptions for messages: "[2, 16, 64, 64]".
#pragma once

#include <ATen/ATen.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <string>

namespace swd {

inline std::string shapeToString(at::IntArrayRef shape) {
    return fmt::format("[{}]", fmt::join(shape, ", "));
}

}  // namespace swd
