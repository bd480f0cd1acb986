// Flow-matching noise schedules (diffusers' FlowMatchEulerDiscreteScheduler) and the Euler step.
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace swd {

// The shift applied to sigmas by SD3's scheduler: s(σ) = shift·σ / (1 + (shift − 1)·σ).
double shiftSigma(double sigma, double shift);

// Sigmas of set_timesteps(steps) with the given shift, then the final 0: steps + 1 values.
// t = linspace(1000, 1000·σmin, steps) with σmin = s(0.001); σ = s(t / 1000) (σmin is shifted twice,
// exactly as diffusers and the SD3.5 reference do). Timesteps are 1000·σ.
std::vector<double> flowMatchSigmas(int steps, double shift);

// Sigmas of the `gridSteps`-step grid at the given indices (an index == gridSteps means the final 0).
// SwD's schedules are points of the 28-step, shift-3 grid: indices {0, 4, 7, 12, 14, 18, 28}.
std::vector<double> flowMatchGridSigmas(const std::vector<int>& indices, int gridSteps = 28,
                                        double shift = 3.0);

// One Euler step in float32: x + (σnext − σ)·v.
at::Tensor flowEulerStep(const at::Tensor& x, const at::Tensor& velocity, double sigma, double sigmaNext);

}  // namespace swd
