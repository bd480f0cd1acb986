#include "sampling/flow_match.h"

#include "util/error.h"

namespace swd {

double shiftSigma(double sigma, double shift) {
    return shift * sigma / (1.0 + (shift - 1.0) * sigma);
}

std::vector<double> flowMatchSigmas(int steps, double shift) {
    if (steps < 1) throwBadInput("a flow-matching schedule needs at least 1 step (got {})", steps);
    if (!(shift > 0.0)) throwBadInput("the schedule shift must be positive (got {})", shift);
    // The scheduler's training table ends at t = 1 of 1000, shifted: that is where inference ends too.
    const double sigmaMin = shiftSigma(1.0 / 1000.0, shift);
    const double tMax = 1000.0, tMin = 1000.0 * sigmaMin;
    std::vector<double> sigmas;
    sigmas.reserve(static_cast<std::size_t>(steps) + 1);
    for (int i = 0; i < steps; ++i) {
        const double t = steps == 1 ? tMax : tMax + (tMin - tMax) * i / (steps - 1);
        sigmas.push_back(shiftSigma(t / 1000.0, shift));
    }
    sigmas.push_back(0.0);
    return sigmas;
}

std::vector<double> flowMatchGridSigmas(const std::vector<int>& indices, int gridSteps, double shift) {
    const auto grid = flowMatchSigmas(gridSteps, shift);
    std::vector<double> out;
    for (int i : indices) {
        if (i < 0 || i > gridSteps)
            throwBadInput("grid index {} is outside the {}-step grid (0..{})", i, gridSteps, gridSteps);
        out.push_back(grid[static_cast<std::size_t>(i)]);
    }
    return out;
}

at::Tensor flowEulerStep(const at::Tensor& x, const at::Tensor& velocity, double sigma, double sigmaNext) {
    const auto x32 = x.to(at::kFloat);
    const auto v32 = velocity.to(at::kFloat);
    // diffusers computes (σnext − σ) in float32 (sigmas are a float32 tensor) before the multiply.
    const float dt = static_cast<float>(sigmaNext) - static_cast<float>(sigma);
    return x32 + v32 * dt;
}

}  // namespace swd
