// The DDPM side of sampling, for the SD1.5 / SDXL UNets (epsilon prediction, variance preserving):
//  - the noise schedule both use (scaled_linear betas, ᾱ computed in float32 as diffusers does);
//  - SiD's few-step loop (SiD-LSG `sid_sd_sampler`, spec/sid-fewstep.md §1): at every step x0 is re-noised
//    to the step's integer timestep t_k = int(t_init·(1 − k/K)), the generator predicts epsilon, and
//    x0 = (x_t − √(1−ᾱ)·ε) / √ᾱ; no guidance, the last x0 is the result;
//  - diffusers' EulerDiscreteScheduler with CFG ('leading' spacing), the full-resolution baseline.
// Both take the denoiser as a function, so they are tested against the reference's own model outputs.
#pragma once

#include "sampling/samplers.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace swd {

// ᾱ_t for t = 0..999 of the SD1.5 / SDXL scheduler configs: betas = linspace(√0.00085, √0.012, 1000)²
// in float32, ᾱ = cumprod(1 − β) in float32.
class DdpmSchedule {
public:
    static const DdpmSchedule& stableDiffusion();
    static DdpmSchedule scaledLinear(double betaStart, double betaEnd, int trainSteps);

    int trainSteps() const { return static_cast<int>(m_alphasCumprod.size()); }
    float alphaCumprod(int t) const;       // throws BadInput outside [0, trainSteps)
    float sqrtAlphaCumprod(int t) const;   // √ᾱ_t in float32
    float sqrtOneMinusAlpha(int t) const;  // √(1 − ᾱ_t) in float32: the noise's share at t
    float eulerSigma(int t) const;         // √((1 − ᾱ_t)/ᾱ_t) in float32 (EulerDiscreteScheduler)
    at::Tensor alphasCumprod() const;      // [trainSteps] fp32

private:
    std::vector<float> m_alphasCumprod;
};

// SiD's grid: t_k = int64(float32(t_init)·float32(1 − k/K)) for k = 0..runSteps−1 (truncation, as
// `(t_init * (1 - k/K)).to(long)`); runSteps <= gridSteps stops early on the trained grid.
std::vector<int> sidTimesteps(int tInit, int gridSteps, int runSteps);

// diffusers' EulerDiscreteScheduler timesteps with 'leading' spacing and steps_offset 1:
// (arange(N)·(1000 // N))[::-1] + 1, e.g. 751, 501, 251, 1 for N = 4.
std::vector<int> eulerDiscreteTimesteps(int steps, int trainSteps = 1000);

// The noise level a schedule lists for each DDPM timestep (and the chart shows): √(1 − ᾱ_t), then 0.
std::vector<double> ddpmNoiseLevels(const std::vector<int>& timesteps);

// The UNet's timestep input: int64 [B] for SiD, a float32 [B] for the Euler pipeline.
at::Tensor ddpmTimestepTensor(int t, int64_t batch, const at::Device& device, bool integer);

// SiD's loop on schedule->timesteps with schedule->sid's noise mode; inputs.noise gives the fresh
// noise of steps k >= 1; no guidance (SiD generators have it distilled in).
SamplingResult sampleSid(const SamplerInputs& inputs);
// The SDXL / SD1.5 pipeline's Euler: x·init_noise_sigma, model(x/√(σ²+1), t), CFG, Euler in fp32.
SamplingResult sampleEulerDiscrete(const SamplerInputs& inputs);

}  // namespace swd
