#include "sampling/samplers.h"

#include "sampling/ddpm.h"

#include "util/error.h"
#include "util/stopwatch.h"

#include <limits>

namespace swd {

namespace {

bool isCancelled(const SamplerInputs& in) {
    return in.cancelled && in.cancelled();
}

void checkInputs(const SamplerInputs& in) {
    if (!in.schedule) throwInternal("sampler called without a schedule");
    if (!in.model) throwInternal("sampler called without a model");
    if (!in.initialNoise.defined() || in.initialNoise.dim() != 4)
        throwInternal("sampler needs the initial noise as [B, C, H, W]");
    // The positional-embedding limit is the model's business (it knows its table); check the rest.
    const auto issues = validateSchedule(*in.schedule, {std::numeric_limits<int>::max(), 2});
    if (!issues.empty())
        throwBadInput("schedule '{}' cannot run: {}", in.schedule->name, issues.front().toString());
    if (in.guidance.active() &&
        (!in.guidance.negative.context.defined() || !in.guidance.negative.pooled.defined()))
        throwInternal("CFG needs the negative prompt's conditioning");
}

// v = v_u + g·(v_c − v_u), with the model called once on [negative, positive] or twice.
// Returns false when cancelled between the two passes.
bool guidedVelocity(const SamplerInputs& in, const at::Tensor& x, const at::Tensor& t, StepRecord& rec) {
    const Guidance& g = in.guidance;
    if (!g.active()) {
        rec.velocity = in.model(x, t, in.positive).to(at::kFloat);
        rec.guided = rec.velocity;
        return true;
    }
    if (g.batched) {
        const Conditioning both{at::cat({g.negative.context, in.positive.context}, 0),
                                at::cat({g.negative.pooled, in.positive.pooled}, 0)};
        const auto out = in.model(at::cat({x, x}, 0), at::cat({t, t}, 0), both).to(at::kFloat);
        const auto halves = out.chunk(2, 0);
        rec.velocityUncond = halves[0];
        rec.velocity = halves[1];
    } else {
        rec.velocityUncond = in.model(x, t, g.negative).to(at::kFloat);
        if (isCancelled(in)) return false;
        rec.velocity = in.model(x, t, in.positive).to(at::kFloat);
    }
    rec.guided = rec.velocityUncond + (rec.velocity - rec.velocityUncond) * static_cast<float>(g.scale);
    return true;
}

}  // namespace

at::Tensor upscaleLatent(const at::Tensor& x, int height, int width) {
    return at::upsample_bicubic2d(x.to(at::kFloat), {height, width}, /*align_corners=*/false);
}

at::Tensor timestepTensor(double sigma, int64_t batch, const at::Device& device) {
    // As diffusers: float32 sigma times 1000 in float32.
    const float t = static_cast<float>(sigma) * 1000.0f;
    return at::full({batch}, t, at::TensorOptions().dtype(at::kFloat).device(device));
}

// The part of step i both samplers share: fills the record's schedule fields, evaluates the (guided)
// velocity at x and the clean estimate x0 = x - sigma * v shown per step. False when cancelled.
bool evaluateStep(const SamplerInputs& in, const at::Tensor& x, int i, StepRecord& rec) {
    if (isCancelled(in)) return false;
    const Schedule& s = *in.schedule;
    const auto k = static_cast<std::size_t>(i);
    rec.index = i;
    rec.stepCount = s.stepCount();
    rec.scale = s.scales[k];
    rec.sigma = s.sigmas[k];
    rec.sigmaNext = s.sigmas[k + 1];
    rec.latentIn = x;
    const at::Tensor t = timestepTensor(rec.sigma, x.size(0), x.device());
    rec.timestep = t[0].item<double>();
    Stopwatch modelClock;
    if (!guidedVelocity(in, x, t, rec)) return false;
    rec.modelMs = modelClock.elapsedMs();
    rec.x0 = x - rec.guided * static_cast<float>(rec.sigma);
    return true;
}

SamplingResult sampleScaleWise(const SamplerInputs& in) {
    checkInputs(in);
    if (!in.noise) throwInternal("the scale-wise sampler needs a noise source");
    const Schedule& s = *in.schedule;
    const int n = s.stepCount();
    SamplingResult result;
    at::Tensor x = in.initialNoise.to(at::kFloat);
    const auto device = x.device();
    for (int i = 0; i < n; ++i) {
        Stopwatch stepClock;
        StepRecord rec;
        if (!evaluateStep(in, x, i, rec)) {
            result.cancelled = true;
            return result;
        }
        result.latent = rec.x0;
        result.completedSteps = i + 1;
        if (i + 1 < n) {
            const int next = s.scales[static_cast<std::size_t>(i) + 1];
            at::Tensor x0 = rec.x0;
            if (next != rec.scale) {
                rec.x0Upscaled = upscaleLatent(x0, next, next);
                x0 = rec.x0Upscaled;
            }
            rec.noise = in.noise(x0.sizes()).to(device, at::kFloat);
            const float sn = static_cast<float>(rec.sigmaNext);
            x = rec.noise * sn + x0 * (1.0f - sn);
            rec.latentOut = x;
        }
        rec.ms = stepClock.elapsedMs();
        if (in.observer) in.observer(rec);
    }
    return result;
}

SamplingResult sampleFlowEuler(const SamplerInputs& in) {
    checkInputs(in);
    const Schedule& s = *in.schedule;
    const int n = s.stepCount();
    for (int i = 1; i < n; ++i)
        if (s.scales[static_cast<std::size_t>(i)] != s.scales[0])
            throwBadInput(
                "schedule '{}': the flow-Euler sampler runs at one scale, but step {} has scale {} "
                "and step 0 has {}; use the scale-wise sampler for growing scales",
                s.name, i, s.scales[static_cast<std::size_t>(i)], s.scales[0]);
    SamplingResult result;
    at::Tensor x = in.initialNoise.to(at::kFloat);
    for (int i = 0; i < n; ++i) {
        Stopwatch stepClock;
        StepRecord rec;
        if (!evaluateStep(in, x, i, rec)) {
            result.cancelled = true;
            return result;
        }
        x = x + rec.guided * (static_cast<float>(rec.sigmaNext) - static_cast<float>(rec.sigma));
        rec.latentOut = x;
        result.completedSteps = i + 1;
        result.latent = i + 1 == n ? x : rec.x0;
        rec.ms = stepClock.elapsedMs();
        if (in.observer) in.observer(rec);
    }
    return result;
}

SamplingResult runSampler(const SamplerInputs& inputs) {
    if (!inputs.schedule) throwInternal("runSampler called without a schedule");
    switch (inputs.schedule->sampler) {
        case SamplerKind::ScaleWise: return sampleScaleWise(inputs);
        case SamplerKind::FlowEuler: return sampleFlowEuler(inputs);
        case SamplerKind::Sid: return sampleSid(inputs);
        case SamplerKind::EulerDiscrete: return sampleEulerDiscrete(inputs);
    }
    throwInternal("unknown sampler");
}

}  // namespace swd
