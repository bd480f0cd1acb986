// Random weights for the real architectures, in memory, for benchmarks: speed does not depend on the
// values, so the tensors are filled from one random block (fast even for billions of parameters) and
// scaled like trained weights (matrices ±1/sqrt(fan_in), norm weights 1, biases 0), so activations stay
// finite through the network. Biases (not norms') are 0 unless biasStd > 0 (uniform noise of that standard
// deviation: the VAE seam benchmark wants channels with distinct offsets, as in trained decoders).
#pragma once

#include "io/tensor_store.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace swd {

using ShapeList = std::vector<std::pair<std::string, std::vector<std::int64_t>>>;

TensorStore randomWeightStore(const ShapeList& shapes, at::ScalarType dtype, std::uint64_t seed,
                              const std::string& origin, double biasStd = 0.0);

}  // namespace swd
