#include "sampling/seeded_noise.h"

#include "util/error.h"
#include "util/tensor_text.h"

#include <ATen/CPUGeneratorImpl.h>

namespace swd {

SeededNoise::SeededNoise(std::uint64_t seed, int batchSize) : m_seed(seed) {
    if (batchSize < 1) throwBadInput("batch size must be at least 1 (got {})", batchSize);
    for (int i = 0; i < batchSize; ++i)
        m_generators.push_back(at::detail::createCPUGenerator(seed + static_cast<std::uint64_t>(i)));
}

at::Tensor SeededNoise::draw(at::IntArrayRef shape) {
    if (shape.empty() || shape[0] != static_cast<int64_t>(m_generators.size()))
        throwInternal("noise of shape {} asked from {} generators", shapeToString(shape),
                      m_generators.size());
    std::vector<int64_t> one(shape.begin(), shape.end());
    one[0] = 1;
    std::vector<at::Tensor> rows;
    for (auto& gen : m_generators) rows.push_back(at::randn(one, gen, at::TensorOptions().dtype(at::kFloat)));
    return rows.size() == 1 ? rows.front() : at::cat(rows, 0);
}

std::vector<std::uint64_t> SeededNoise::imageSeeds() const {
    std::vector<std::uint64_t> out;
    for (std::size_t i = 0; i < m_generators.size(); ++i) out.push_back(m_seed + i);
    return out;
}

}  // namespace swd
