// The two ways of sampling one engine runs, step by step:
//  - scale-wise (SwD): x0 = x − σ·v at each step's scale, bicubic upscale of x0 to the next scale, fresh
//    noise at the new size, x = (1 − σ')·x0 + σ'·noise; the last x0 is the result
//    (yandex-research/swd FlowMatchingSolver.sampling);
//  - flow Euler (SD3 pipeline): x ← x + (σ' − σ)·v at one scale.
// Both take the denoiser as a function, so they are tested against the reference's own model outputs.
#pragma once

#include "sampling/schedule.h"

#include <ATen/ATen.h>

#include <functional>
#include <utility>
#include <vector>

namespace swd {

// The text conditioning of one batch: context [B, L, D] and pooled [B, P] (undefined for SD1.5), and
// SDXL's micro-conditioning time ids [B, 6] (original size, crop, target size).
struct Conditioning {
    Conditioning(at::Tensor context_ = {}, at::Tensor pooled_ = {}, at::Tensor timeIds_ = {})
        : context(std::move(context_)), pooled(std::move(pooled_)), timeIds(std::move(timeIds_)) {}

    at::Tensor context;
    at::Tensor pooled;
    at::Tensor timeIds;
};

// The denoiser's raw output for x at `timestep` under `cond`: SD3's velocity [B, 16, h, w] at 1000·σ (fp32
// [B]), or a UNet's epsilon at a DDPM timestep (sampling/ddpm.h).
using VelocityModel =
    std::function<at::Tensor(const at::Tensor& x, const at::Tensor& timestep, const Conditioning& cond)>;

struct Guidance {
    double scale = 1.0;     // classifier-free guidance; active only when > 1 (as diffusers and SwD)
    Conditioning negative;  // the unconditional / negative prompt, needed when active
    // true: one model call on the batch [negative, positive] (the SD3 pipeline); false: two calls, with a
    // cancel check between them (SwD's code; half the activation memory).
    bool batched = true;

    bool active() const { return scale > 1.0; }
};

// Fresh N(0, 1) noise of a shape, fp32 on the CPU, in the reference's draw order.
using NoiseSource = std::function<at::Tensor(at::IntArrayRef shape)>;

// Everything one step computed (fp32, on the device the model ran on). Observers may keep what they
// need; the sampler keeps nothing but the running latent.
struct StepRecord {
    int index = 0;
    int stepCount = 0;
    int scale = 0;  // latent side of this step
    double sigma = 0, sigmaNext = 0, timestep = 0;
    at::Tensor latentIn;        // x fed to the model
    at::Tensor velocity;        // model output for the prompt
    at::Tensor velocityUncond;  // model output for the negative prompt (CFG only)
    at::Tensor guided;          // the velocity the step used
    at::Tensor x0;              // clean estimate at this step's scale
    at::Tensor x0Upscaled;      // scale-wise, when the next scale differs
    at::Tensor noise;           // scale-wise re-noising noise
    at::Tensor latentOut;       // x of the next step (undefined after the last scale-wise step)
    double modelMs = 0;         // time in the denoiser
    double ms = 0;              // the whole step
};

// Called after every step; may throw (e.g. to abort). Cancellation is polled between steps and between
// CFG passes through `cancelled`.
using StepObserver = std::function<void(const StepRecord&)>;
using CancelCheck = std::function<bool()>;

struct SamplingResult {
    // The clean latent: the final x0, or — when cancelled — the x0 of the last finished step (at that
    // step's scale). Undefined when cancelled before the first step finished.
    at::Tensor latent;
    int completedSteps = 0;
    bool cancelled = false;
};

struct SamplerInputs {
    const Schedule* schedule = nullptr;
    at::Tensor initialNoise;  // [B, 16, scales[0], scales[0]] (fp32)
    VelocityModel model;
    Conditioning positive;
    Guidance guidance;
    NoiseSource noise;  // scale-wise only
    StepObserver observer;
    CancelCheck cancelled;
};

SamplingResult sampleScaleWise(const SamplerInputs& inputs);
SamplingResult sampleFlowEuler(const SamplerInputs& inputs);
// Dispatches on schedule->sampler (the DDPM samplers are in sampling/ddpm.h).
SamplingResult runSampler(const SamplerInputs& inputs);

// Bicubic resize of a latent in fp32 (PyTorch: a = −0.75, align_corners false, no antialias).
at::Tensor upscaleLatent(const at::Tensor& x, int height, int width);

// The timestep tensor the reference feeds: 1000·σ in fp32, repeated for the batch.
at::Tensor timestepTensor(double sigma, int64_t batch, const at::Device& device);

}  // namespace swd
