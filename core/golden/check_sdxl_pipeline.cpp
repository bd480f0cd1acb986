// Golden kind "sdxl_pipeline": diffusers' StableDiffusionXLPipeline on the tiny SDXL models with its
// Euler discrete scheduler and CFG as one batch [negative, positive]: token ids, embeddings (zeros for no
// negative prompt), every step's UNet input, output, guided noise, x0 and latents, the decoded image.
#include "golden/golden_kinds.h"

#include "golden/golden_sd_components.h"
#include "sampling/ddpm.h"
#include "sampling/schedule.h"

#include <c10/core/InferenceMode.h>
#include <fmt/format.h>

namespace swd {

namespace {

// The case's positive and negative conditioning (time ids: the case's, one row per image).
void encodeCase(const GoldenCase& c, GoldenReport& report, const SdConditioner& text, SamplerInputs& si) {
    const Tolerance tol = c.tolerance();
    const TensorStore out = c.file("outputs.safetensors");
    const nlohmann::json& call = c.json().at("call");
    const SdPromptEmbeds pos =
        encodeGoldenPrompts(c, report, text, {call.at("prompt").get<std::string>()}, "prompt");
    std::optional<std::vector<std::string>> negatives;
    if (call.at("negative_prompt").is_string())
        negatives = std::vector<std::string>{call.at("negative_prompt").get<std::string>()};
    SdPromptEmbeds neg = text.encodeNegative(negatives, pos);
    if (negatives) neg = encodeGoldenPrompts(c, report, text, *negatives, "negative_prompt");
    report.check("prompt_embeds", pos.context, out.get("prompt_embeds"), tol);
    report.check("pooled_prompt_embeds", pos.pooled, out.get("pooled_prompt_embeds"), tol);
    report.check("negative_prompt_embeds", neg.context, out.get("negative_prompt_embeds"), tol);
    report.check("negative_pooled_prompt_embeds", neg.pooled, out.get("negative_pooled_prompt_embeds"), tol);
    const at::Tensor ids = at::tensor(c.json().at("time_ids")[0].get<std::vector<float>>()).reshape({1, 6});
    si.positive = Conditioning(pos.context, pos.pooled, ids);
    si.guidance.scale = call.at("guidance_scale").get<double>();
    si.guidance.negative = Conditioning(neg.context, neg.pooled, ids);
}

}  // namespace

void checkSdxlPipelineCase(const GoldenCase& c, GoldenReport& report) {
    c10::InferenceMode inference;
    const Tolerance tol = c.tolerance();
    const TensorStore in = c.file("inputs.safetensors"), out = c.file("outputs.safetensors");
    GoldenSdComponents g = loadGoldenSdComponents(c);
    SamplerInputs si;
    encodeCase(c, report, *g.text, si);
    const at::Tensor latents = in.get("latents");
    const int steps = c.json().at("call").at("num_inference_steps").get<int>();
    const Schedule schedule = makeEulerDiscreteSchedule(steps, int(latents.size(2)), si.guidance.scale);
    si.schedule = &schedule;
    si.initialNoise = latents;
    int step = 0;
    si.model = [&](const at::Tensor& x, const at::Tensor& t, const Conditioning& k) {
        const std::string p = fmt::format("step{}.unet_in.", step);
        report.check(p + "sample", x, out.get(p + "sample"), tol);
        report.check(p + "timestep", t[0], out.get(p + "timestep"), {0.0, 0.0});
        report.check(p + "time_ids", k.timeIds, out.get(p + "time_ids"), {0.0, 0.0});
        const at::Tensor e = g.unet->forward(x, t, k.context, k.pooled, k.timeIds);
        report.check(fmt::format("step{}.unet_out", step), e, out.get(fmt::format("step{}.unet_out", step)),
                     tol);
        return e;
    };
    si.observer = [&](const StepRecord& r) {
        const std::string p = fmt::format("step{}.", r.index);
        report.check(p + "latents_before", r.latentIn, out.get(p + "latents_before"), tol);
        report.check(p + "guided_noise_pred", r.guided, out.get(p + "guided_noise_pred"), tol);
        report.check(p + "pred_original_sample", r.x0, out.get(p + "pred_original_sample"), tol);
        report.check(p + "latents_after", r.latentOut, out.get(p + "latents_after"), tol);
        ++step;
    };
    const SamplingResult result = runSampler(si);
    report.check("final_latents", result.latent, out.get("final_latents"), tol);
    const at::Tensor decoded = g.vae->decode(result.latent / g.vae->config().scalingFactor);
    report.check("vae_decoded", decoded, out.get("vae_decoded"), tol);
    const at::Tensor image = (decoded / 2 + 0.5).clamp(0, 1);
    report.check("image", image, out.get("image"), tol);
    report.check("image_uint8_hwc", imageToUint8Hwc(image).to(at::kLong), out.get("image_uint8_hwc"),
                 {1.0, 0.0});
}

}  // namespace swd
