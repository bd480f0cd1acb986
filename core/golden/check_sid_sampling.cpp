// Golden kind "sid_sampling": SiD-LSG's sid_sd_sampler from prompt to uint8 image on the tiny SD1.5 / SDXL
// models: token ids, prompt embeddings, every step's timestep, x_t, model output and x0 (with the stored
// fresh noises injected), the decoded image, and the early exits on the trained grid where stored.
#include "golden/golden_kinds.h"

#include "golden/golden_sd_components.h"
#include "sampling/ddpm.h"
#include "sampling/schedule.h"

#include <c10/core/InferenceMode.h>
#include <fmt/format.h>

namespace swd {

namespace {

// Runs `runSteps` of the case's K-step grid; `observe` sees every step.
SamplingResult runSid(const GoldenCase& c, GoldenSdComponents& g, const Conditioning& cond, int runSteps,
                      const StepObserver& observe) {
    const TensorStore in = c.file("inputs.safetensors");
    const at::Tensor z = in.get("latents");
    const Schedule schedule = makeSidSchedule(c.json().at("t_init").get<int>(), c.json().at("K").get<int>(),
                                              runSteps, int(z.size(2)));
    SamplerInputs si;
    si.schedule = &schedule;
    si.initialNoise = z;
    si.positive = cond;
    si.model = [&](const at::Tensor& x, const at::Tensor& t, const Conditioning& k) {
        return g.unet->forward(x, t, k.context, k.pooled, k.timeIds);
    };
    int noiseStep = 1;
    si.noise = [&](at::IntArrayRef) { return in.get(fmt::format("noise.step{}", noiseStep++)); };
    si.observer = observe;
    return runSampler(si);
}

}  // namespace

void checkSidSamplingCase(const GoldenCase& c, GoldenReport& report) {
    c10::InferenceMode inference;
    const Tolerance tol = c.tolerance();
    const TensorStore out = c.file("outputs.safetensors");
    GoldenSdComponents g = loadGoldenSdComponents(c);
    const auto prompts = c.json().at("prompts").get<std::vector<std::string>>();
    const SdPromptEmbeds e = encodeGoldenPrompts(c, report, *g.text, prompts, "prompt");
    report.check("prompt_embeds", e.context, out.get("prompt_embeds"), tol);
    Conditioning cond(e.context);
    if (g.text->isSdxl()) {
        report.check("pooled_prompt_embeds", e.pooled, out.get("pooled_prompt_embeds"), tol);
        cond.pooled = e.pooled;
        cond.timeIds = out.get("time_ids");  // the case's choice (image size or 1024², spec §1.9)
    }
    report.check("alphas_cumprod", DdpmSchedule::stableDiffusion().alphasCumprod(), out.get("alphas_cumprod"),
                 {0.0, 0.0});

    const int k = c.json().at("K").get<int>();
    const SamplingResult result = runSid(c, g, cond, k, [&](const StepRecord& r) {
        const std::string p = fmt::format("step{}.", r.index);
        report.check(p + "timestep", at::full({r.latentIn.size(0)}, int64_t(r.timestep), at::kLong),
                     out.get(p + "timestep"), {0.0, 0.0});
        report.check(p + "noise", r.noise, out.get(p + "noise"), tol);
        report.check(p + "x_t", r.latentIn, out.get(p + "x_t"), tol);
        report.check(p + "model_out", r.velocity, out.get(p + "model_out"), tol);
        report.check(p + "x0", r.x0, out.get(p + "x0"), tol);
    });
    report.check("final_latent", result.latent, out.get("final_latent"), tol);
    const double scaling = g.vae->config().scalingFactor;
    const at::Tensor decoded = g.vae->decode(result.latent / scaling);
    report.check("vae_decoded", decoded, out.get("vae_decoded"), tol);
    // SiD's own uint8 conversion: (x·127.5 + 128) clipped and truncated, NHWC.
    const at::Tensor u8 = (decoded * 127.5 + 128).clamp(0, 255).to(at::kByte).permute({0, 2, 3, 1});
    report.check("image_uint8_hwc", u8.to(at::kLong), out.get("image_uint8_hwc"), {1.0, 0.0});

    // Early exit: k < K steps of the K grid end on that step's x0 (spec §1.5).
    for (int after = 1; after < k; ++after) {
        const std::string name = fmt::format("early_exit.after{}.vae_decoded", after);
        if (!out.has(name)) continue;
        const SamplingResult early = runSid(c, g, cond, after, nullptr);
        report.check(name, g.vae->decode(early.latent / scaling), out.get(name), tol);
    }
}

}  // namespace swd
