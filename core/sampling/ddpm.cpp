#include "sampling/ddpm.h"

#include "util/error.h"
#include "util/stopwatch.h"

#include <algorithm>
#include <cmath>

namespace swd {

DdpmSchedule DdpmSchedule::scaledLinear(double betaStart, double betaEnd, int trainSteps) {
    if (trainSteps < 2 || trainSteps > 100000 || !(betaStart > 0) || !(betaEnd > betaStart) || betaEnd >= 1)
        throwBadInput(
            "DDPM schedule: need 2..100000 steps and 0 < beta_start < beta_end < 1 (got {} steps, {}, {})",
            trainSteps, betaStart, betaEnd);
    // torch.linspace in float32 of the square roots, squared in float32, then the cumulative product in
    // float32: the same rounding as diffusers' scaled_linear branch.
    const at::Tensor betas =
        at::pow(at::linspace(std::sqrt(betaStart), std::sqrt(betaEnd), trainSteps, at::kFloat), 2);
    const at::Tensor abar = at::cumprod(1.0 - betas, 0).contiguous();
    DdpmSchedule s;
    s.m_alphasCumprod.assign(abar.data_ptr<float>(), abar.data_ptr<float>() + trainSteps);
    return s;
}

const DdpmSchedule& DdpmSchedule::stableDiffusion() {
    static const DdpmSchedule schedule = scaledLinear(0.00085, 0.012, 1000);
    return schedule;
}

float DdpmSchedule::alphaCumprod(int t) const {
    if (t < 0 || t >= trainSteps())
        throwBadInput("timestep {} is outside the model's 0..{}", t, trainSteps() - 1);
    return m_alphasCumprod[static_cast<std::size_t>(t)];
}

float DdpmSchedule::sqrtAlphaCumprod(int t) const {
    return std::sqrt(alphaCumprod(t));
}

float DdpmSchedule::sqrtOneMinusAlpha(int t) const {
    return std::sqrt(1.0f - alphaCumprod(t));
}

float DdpmSchedule::eulerSigma(int t) const {
    const float a = alphaCumprod(t);
    return std::sqrt((1.0f - a) / a);
}

at::Tensor DdpmSchedule::alphasCumprod() const {
    return at::tensor(m_alphasCumprod, at::kFloat);
}

std::vector<int> sidTimesteps(int tInit, int gridSteps, int runSteps) {
    if (gridSteps < 1 || runSteps < 1 || runSteps > gridSteps)
        throwBadInput("SiD grid: need 1 <= run steps <= grid steps (got {} of {})", runSteps, gridSteps);
    std::vector<int> out;
    for (int k = 0; k < runSteps; ++k) {
        // Python forms 1 − k/K in double; torch multiplies the int64 tensor by it in float32.
        const float factor = static_cast<float>(1.0 - static_cast<double>(k) / gridSteps);
        out.push_back(static_cast<int>(static_cast<float>(tInit) * factor));
    }
    return out;
}

std::vector<int> eulerDiscreteTimesteps(int steps, int trainSteps) {
    if (steps < 1 || steps > trainSteps)
        throwBadInput("Euler discrete: {} steps is outside 1..{}", steps, trainSteps);
    const int ratio = trainSteps / steps;
    std::vector<int> out;
    for (int i = steps - 1; i >= 0; --i) out.push_back(i * ratio + 1);
    return out;
}

std::vector<double> ddpmNoiseLevels(const std::vector<int>& timesteps) {
    const DdpmSchedule& s = DdpmSchedule::stableDiffusion();
    std::vector<double> out;
    for (int t : timesteps)
        out.push_back(t >= 0 && t < s.trainSteps() ? static_cast<double>(s.sqrtOneMinusAlpha(t)) : -1.0);
    out.push_back(0.0);
    return out;
}

at::Tensor ddpmTimestepTensor(int t, int64_t batch, const at::Device& device, bool integer) {
    const auto options = at::TensorOptions().device(device);
    return integer ? at::full({batch}, static_cast<int64_t>(t), options.dtype(at::kLong))
                   : at::full({batch}, static_cast<float>(t), options.dtype(at::kFloat));
}

namespace {

bool isCancelled(const SamplerInputs& in) {
    return in.cancelled && in.cancelled();
}

void checkDdpmInputs(const SamplerInputs& in, const char* sampler) {
    if (!in.schedule || !in.model) throwInternal("{} sampler called without a schedule or model", sampler);
    if (!in.initialNoise.defined() || in.initialNoise.dim() != 4)
        throwInternal("{} sampler needs the initial noise as [B, C, H, W]", sampler);
    const Schedule& s = *in.schedule;
    if (s.timesteps.empty() || s.timesteps.size() != s.scales.size())
        throwBadInput("schedule '{}': the {} sampler needs one timestep per step ({} steps, {} timesteps)",
                      s.name, sampler, s.scales.size(), s.timesteps.size());
    const DdpmSchedule& ddpm = DdpmSchedule::stableDiffusion();
    for (std::size_t i = 0; i < s.timesteps.size(); ++i) {
        const int t = s.timesteps[i];
        if (t < 0 || t >= ddpm.trainSteps() || (i > 0 && t >= s.timesteps[i - 1]))
            throwBadInput("schedule '{}': timesteps[{}] = {} must lie in 0..{} and decrease", s.name, i, t,
                          ddpm.trainSteps() - 1);
    }
}

void fillRecord(const Schedule& s, int i, const at::Tensor& x, StepRecord& rec) {
    const auto k = static_cast<std::size_t>(i);
    rec.index = i;
    rec.stepCount = s.stepCount();
    rec.scale = s.scales[k];
    rec.sigma = k < s.sigmas.size() ? s.sigmas[k] : 0.0;
    rec.sigmaNext = k + 1 < s.sigmas.size() ? s.sigmas[k + 1] : 0.0;
    rec.timestep = s.timesteps[k];
    rec.latentIn = x;
}

}  // namespace

SamplingResult sampleSid(const SamplerInputs& in) {
    checkDdpmInputs(in, "SiD");
    const Schedule& s = *in.schedule;
    const DdpmSchedule& ddpm = DdpmSchedule::stableDiffusion();
    const at::Tensor z = in.initialNoise.to(at::kFloat);
    if (s.sidNoise == SidNoise::Fresh && s.stepCount() > 1 && !in.noise)
        throwInternal("the SiD sampler needs a noise source for fresh noise");
    SamplingResult result;
    at::Tensor x0 = at::zeros_like(z);
    at::Tensor previousEps;
    for (int i = 0; i < s.stepCount(); ++i) {
        if (isCancelled(in)) {
            result.cancelled = true;
            return result;
        }
        Stopwatch stepClock;
        const int t = s.timesteps[static_cast<std::size_t>(i)];
        const float a = ddpm.sqrtAlphaCumprod(t), b = ddpm.sqrtOneMinusAlpha(t);
        StepRecord rec;
        // Step 0 re-noises x0 = 0 with the initial noise: x_t = √(1−ᾱ)·z (SiD-LSG trains it so).
        if (i == 0 || s.sidNoise == SidNoise::Fixed)
            rec.noise = z;
        else if (s.sidNoise == SidNoise::Ddim)
            rec.noise = previousEps;
        else
            rec.noise = in.noise(z.sizes()).to(z.device(), at::kFloat);
        const at::Tensor xt = x0 * a + rec.noise * b;
        fillRecord(s, i, xt, rec);
        const at::Tensor timestep = ddpmTimestepTensor(t, xt.size(0), xt.device(), /*integer=*/true);
        Stopwatch modelClock;
        rec.velocity = in.model(xt, timestep, in.positive).to(at::kFloat);
        rec.modelMs = modelClock.elapsedMs();
        rec.guided = rec.velocity;
        // A division, not a multiplication by 1/√ᾱ, and no clamp: the reference's rounding.
        x0 = (xt - rec.velocity * b) / a;
        rec.x0 = x0;
        previousEps = rec.velocity;
        result.latent = x0;
        result.completedSteps = i + 1;
        rec.ms = stepClock.elapsedMs();
        if (in.observer) in.observer(rec);
    }
    return result;
}

namespace {

// e = e_u + g·(e_c − e_u), the model called once on [negative, positive] (the pipeline's batch).
at::Tensor guidedEpsilon(const SamplerInputs& in, const at::Tensor& x, const at::Tensor& t, StepRecord& rec) {
    const Guidance& g = in.guidance;
    if (!g.active()) {
        rec.velocity = in.model(x, t, in.positive).to(at::kFloat);
        return rec.velocity;
    }
    const auto both = [](const at::Tensor& neg, const at::Tensor& pos) {
        return neg.defined() && pos.defined() ? at::cat({neg, pos}, 0) : at::Tensor();
    };
    Conditioning cond{both(g.negative.context, in.positive.context),
                      both(g.negative.pooled, in.positive.pooled)};
    cond.timeIds = both(g.negative.timeIds, in.positive.timeIds);
    const auto halves = in.model(at::cat({x, x}, 0), at::cat({t, t}, 0), cond).to(at::kFloat).chunk(2, 0);
    rec.velocityUncond = halves[0];
    rec.velocity = halves[1];
    return rec.velocityUncond + (rec.velocity - rec.velocityUncond) * static_cast<float>(g.scale);
}

}  // namespace

SamplingResult sampleEulerDiscrete(const SamplerInputs& in) {
    checkDdpmInputs(in, "Euler discrete");
    if (in.guidance.active() && !in.guidance.negative.context.defined())
        throwInternal("CFG needs the negative prompt's conditioning");
    const Schedule& s = *in.schedule;
    const DdpmSchedule& ddpm = DdpmSchedule::stableDiffusion();
    std::vector<float> sigmas;
    for (int t : s.timesteps) sigmas.push_back(ddpm.eulerSigma(t));
    sigmas.push_back(0.0f);
    const float maxSigma = *std::max_element(sigmas.begin(), sigmas.end());
    SamplingResult result;
    at::Tensor x = in.initialNoise.to(at::kFloat) * std::sqrt(maxSigma * maxSigma + 1.0f);
    for (int i = 0; i < s.stepCount(); ++i) {
        if (isCancelled(in)) {
            result.cancelled = true;
            return result;
        }
        Stopwatch stepClock;
        const float sigma = sigmas[static_cast<std::size_t>(i)];
        const float sigmaNext = sigmas[static_cast<std::size_t>(i) + 1];
        StepRecord rec;
        fillRecord(s, i, x, rec);
        const at::Tensor t =
            ddpmTimestepTensor(s.timesteps[static_cast<std::size_t>(i)], x.size(0), x.device(), false);
        Stopwatch modelClock;
        rec.guided = guidedEpsilon(in, x / std::sqrt(sigma * sigma + 1.0f), t, rec);
        rec.modelMs = modelClock.elapsedMs();
        rec.x0 = x - rec.guided * sigma;
        x = x + ((x - rec.x0) / sigma) * (sigmaNext - sigma);
        rec.latentOut = x;
        result.completedSteps = i + 1;
        result.latent = i + 1 == s.stepCount() ? x : rec.x0;
        rec.ms = stepClock.elapsedMs();
        if (in.observer) in.observer(rec);
    }
    return result;
}

}  // namespace swd
