// Gaussian noise drawn on the CPU from a seeded generator, so one seed gives one image on any device.
// libtorch's CPU generator is the one PyTorch uses: the same seed and draw order reproduce the
// reference's noises bit for bit (tested against the golden cases).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace swd {

class SeededNoise {
public:
    // One generator per image of the batch: image i uses seed + i, so an image can be re-made alone.
    SeededNoise(std::uint64_t seed, int batchSize = 1);

    // N(0, 1) fp32 on the CPU of shape [B, ...]: row i drawn from image i's generator.
    at::Tensor draw(at::IntArrayRef shape);

    std::uint64_t seed() const { return m_seed; }
    std::vector<std::uint64_t> imageSeeds() const;

private:
    std::uint64_t m_seed;
    std::vector<at::Generator> m_generators;
};

}  // namespace swd
