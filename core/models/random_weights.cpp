#include "models/random_weights.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <map>

namespace swd {

TensorStore randomWeightStore(const ShapeList& shapes, at::ScalarType dtype, std::uint64_t seed,
                              const std::string& origin, double biasStd) {
    auto gen = at::detail::createCPUGenerator(seed);
    const std::int64_t poolSize = std::int64_t(1) << 24;
    const at::Tensor pool = at::empty({poolSize}, at::TensorOptions().dtype(dtype)).uniform_(-1.0, 1.0, gen);
    std::map<std::string, at::Tensor> tensors;
    std::int64_t offset = 0;
    for (const auto& [name, shape] : shapes) {
        at::Tensor t;
        const bool isWeight = name.size() >= 7 && name.compare(name.size() - 7, 7, ".weight") == 0;
        if (shape.size() >= 2) {
            t = at::empty(shape, at::TensorOptions().dtype(dtype));
            const at::Tensor flat = t.view({-1});
            for (std::int64_t done = 0; done < flat.numel();) {
                const std::int64_t n = std::min(flat.numel() - done, poolSize - offset);
                flat.narrow(0, done, n).copy_(pool.narrow(0, offset, n));
                done += n;
                offset = (offset + n) % poolSize;
            }
            offset = (offset + 7919) % poolSize;  // another phase for the next tensor
            std::int64_t fanIn = 1;
            for (std::size_t i = 1; i < shape.size(); ++i) fanIn *= shape[i];
            // Embedding tables and positional tables are not matrices applied to activations.
            const bool table = name.find("embedding") != std::string::npos ||
                               name.find("shared") != std::string::npos ||
                               name.find("pos_embed.pos_embed") != std::string::npos;
            if (!table) t.mul_(std::sqrt(3.0 / static_cast<double>(fanIn)));
        } else if (isWeight && name.find("norm") != std::string::npos) {
            t = at::ones(shape, at::TensorOptions().dtype(dtype));
        } else if (biasStd > 0 && name.find("norm") == std::string::npos) {
            // U(-1, 1) has standard deviation 1/sqrt(3).
            std::int64_t n = 1;
            for (const std::int64_t d : shape) n *= d;
            if (offset + n > poolSize) offset = 0;  // vectors are far smaller than the pool
            t = pool.narrow(0, offset, n).reshape(shape).mul(biasStd * std::sqrt(3.0));
            offset = (offset + n + 7919) % poolSize;
        } else {
            t = at::zeros(shape, at::TensorOptions().dtype(dtype));
        }
        tensors.emplace(name, std::move(t));
    }
    return TensorStore::fromTensors(std::move(tensors), origin);
}

}  // namespace swd
