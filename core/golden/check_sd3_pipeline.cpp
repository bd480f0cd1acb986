// Golden kind "sd3_pipeline": diffusers' StableDiffusion3Pipeline on the tiny components, from the prompt
// to the uint8 image: prompt (and negative) embeddings at T5 length 256, flow-Euler steps with CFG as one
// batch [negative, positive], the final latents, the VAE decode and the PIL-rounded image.
#include "golden/golden_components.h"
#include "golden/golden_kinds.h"
#include "sampling/samplers.h"

#include <c10/core/InferenceMode.h>

namespace swd {

void checkSd3PipelineCase(const GoldenCase& c, GoldenReport& report) {
    c10::InferenceMode inference;
    const Tolerance tol = c.tolerance();
    const TensorStore out = c.file("outputs.safetensors");
    const TensorStore inputs = c.file("inputs.safetensors");
    const auto& call = c.json().at("call");
    GoldenComponents g = loadGoldenComponents(c);

    const int steps = call.at("num_inference_steps").get<int>();
    const int t5Length = call.at("max_sequence_length").get<int>();
    const double shift = c.json().at("scheduler").value("shift", 3.0);
    const at::Tensor latents = inputs.get("latents");
    Schedule schedule = makeFullResolutionSchedule(steps, shift, static_cast<int>(latents.size(-1)),
                                                   call.at("guidance_scale").get<double>(), t5Length);
    schedule.name = c.name();
    report.check("sigmas", at::tensor(schedule.sigmas, at::kDouble), out.get("sigmas"), tol);

    const std::string prompt = call.at("prompt").get<std::string>();
    checkGoldenTokenIds(c, report, *g.text, prompt, "prompt", t5Length);
    const PromptEmbedding pos = g.text->encode({prompt}, t5Length);
    report.check("prompt_embeds", pos.context, out.get("prompt_embeds"), tol);
    report.check("pooled_prompt_embeds", pos.pooled, out.get("pooled_prompt_embeds"), tol);

    SamplerInputs in;
    in.schedule = &schedule;
    in.initialNoise = latents;
    in.positive = {pos.context, pos.pooled};
    if (schedule.guidance > 1.0) {
        const std::string negative = call.value("negative_prompt", "");
        checkGoldenTokenIds(c, report, *g.text, negative, "negative_prompt", t5Length);
        const PromptEmbedding neg = g.text->encode({negative}, t5Length);
        report.check("negative_prompt_embeds", neg.context, out.get("negative_prompt_embeds"), tol);
        report.check("negative_pooled_prompt_embeds", neg.pooled, out.get("negative_pooled_prompt_embeds"),
                     tol);
        in.guidance.scale = schedule.guidance;
        in.guidance.negative = {neg.context, neg.pooled};
        in.guidance.batched = true;  // the pipeline's batch [negative, positive]
    }
    at::Tensor lastOut;
    in.model = [&](const at::Tensor& x, const at::Tensor& t, const Conditioning& cond) {
        lastOut = g.transformer->forward(x, t, cond.context, cond.pooled);
        return lastOut;
    };
    in.observer = [&](const StepRecord& r) {
        const std::string p = "step" + std::to_string(r.index) + ".";
        report.check(p + "latents_before", r.latentIn, out.get(p + "latents_before"), tol);
        report.check(p + "transformer_out", lastOut, out.get(p + "transformer_out"), tol);
        report.check(p + "guided_velocity", r.guided, out.get(p + "guided_velocity"), tol);
        report.check(p + "latents_after", r.latentOut, out.get(p + "latents_after"), tol);
    };
    const SamplingResult result = sampleFlowEuler(in);
    report.check("final_latents", result.latent, out.get("final_latents"), tol);
    const at::Tensor vaeInput = g.vae->toVaeLatent(result.latent);
    report.check("vae_input_latents", vaeInput, out.get("vae_input_latents"), tol);
    report.check("vae_decoded", g.vae->decode(vaeInput), out.get("vae_decoded"), tol);
    const at::Tensor image = g.vae->decodeToImage(result.latent);
    report.check("image", image, out.get("image"), tol);
    report.check("image_uint8_hwc", imageToUint8Hwc(image), out.get("image_uint8_hwc"), {1.0, 0.0});
}

}  // namespace swd
