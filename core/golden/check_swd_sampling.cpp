// Golden kind "swd_sampling": SwD's own FlowMatchingSolver.sampling on the tiny components, from the
// prompt to the image: prompt embeddings (T5 at 512), every step's transformer output, x0, upscale and
// re-noising, the final latent, the VAE decode. The reference's noises are injected.
#include "golden/golden_components.h"
#include "golden/golden_kinds.h"
#include "sampling/samplers.h"

#include <c10/core/InferenceMode.h>

namespace swd {

void checkSwdSamplingCase(const GoldenCase& c, GoldenReport& report) {
    c10::InferenceMode inference;
    const Tolerance tol = c.tolerance();
    const TensorStore out = c.file("outputs.safetensors");
    GoldenComponents g = loadGoldenComponents(c);

    Schedule schedule;
    schedule.name = c.name();
    schedule.sampler = SamplerKind::ScaleWise;
    schedule.scales = c.json().at("scales").get<std::vector<int>>();
    const at::Tensor sigmas = out.get("sigmas").to(at::kDouble);
    for (int64_t i = 0; i < sigmas.numel(); ++i) schedule.sigmas.push_back(sigmas[i].item<double>());
    schedule.guidance = c.json().at("cfg_scale").get<double>();
    schedule.t5Length = 512;

    const std::string prompt = c.json().at("prompt").get<std::string>();
    checkGoldenTokenIds(c, report, *g.text, prompt, "prompt", schedule.t5Length);
    const PromptEmbedding pos = g.text->encode({prompt}, schedule.t5Length);
    report.check("prompt_embeds", pos.context, out.get("prompt_embeds"), tol);
    report.check("pooled_prompt_embeds", pos.pooled, out.get("pooled_prompt_embeds"), tol);

    SamplerInputs in;
    in.schedule = &schedule;
    in.initialNoise = out.get("initial_noise");
    in.positive = {pos.context, pos.pooled};
    if (schedule.guidance > 1.0) {
        checkGoldenTokenIds(c, report, *g.text, "", "uncond", schedule.t5Length);
        const PromptEmbedding neg = g.text->encode({""}, schedule.t5Length);
        report.check("uncond_prompt_embeds", neg.context, out.get("uncond_prompt_embeds"), tol);
        in.guidance.scale = schedule.guidance;
        in.guidance.negative = {neg.context, neg.pooled};
        in.guidance.batched = false;  // SwD calls the transformer twice
    }
    in.model = [&](const at::Tensor& x, const at::Tensor& t, const Conditioning& cond) {
        return g.transformer->forward(x, t, cond.context, cond.pooled);
    };
    int noiseIndex = 0;
    in.noise = [&](at::IntArrayRef) { return out.get("step" + std::to_string(noiseIndex++) + ".noise"); };
    in.observer = [&](const StepRecord& r) {
        const std::string p = "step" + std::to_string(r.index) + ".";
        report.check(p + "latent_in", r.latentIn, out.get(p + "latent_in"), tol);
        report.check(p + "timestep", at::full({1}, r.timestep), out.get(p + "timestep"), {1e-3, 0});
        report.check(p + "model_out", r.velocity, out.get(p + "model_out"), tol);
        if (out.has(p + "model_out_uncond"))
            report.check(p + "model_out_uncond", r.velocityUncond, out.get(p + "model_out_uncond"), tol);
        if (out.has(p + "guided")) report.check(p + "guided", r.guided, out.get(p + "guided"), tol);
        report.check(p + "x0", r.x0, out.get(p + "x0"), tol);
        if (out.has(p + "x0_upscaled"))
            report.check(p + "x0_upscaled", r.x0Upscaled, out.get(p + "x0_upscaled"), tol);
        if (out.has(p + "renoised")) report.check(p + "renoised", r.latentOut, out.get(p + "renoised"), tol);
    };
    const SamplingResult result = sampleScaleWise(in);
    report.check("final_latent", result.latent, out.get("final_latent"), tol);
    const at::Tensor decoded = g.vae->decode(g.vae->toVaeLatent(result.latent));
    report.check("vae_decoded", decoded, out.get("vae_decoded"), tol);
    report.check("image", g.vae->decodeToImage(result.latent), out.get("image"), tol);
}

}  // namespace swd
