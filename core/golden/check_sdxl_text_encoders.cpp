// Golden kind "sdxl_text_encoders": the two SDXL text encoders (CLIP-L-like CLIPTextModel, bigG-like
// CLIPTextModelWithProjection) on the case's ids, StableDiffusionXLPipeline.encode_prompt (prompt, clip skip,
// negatives, zero negatives for negative_prompt=None) and SiD-LSG's SD1.5 encoding, all in fp32; the token
// ids of both tokenizers must equal the case's exactly.
#include "golden/golden_kinds.h"

#include "families/sd/sd_conditioner.h"
#include "text/clip_text_model.h"
#include "text/clip_tokenizer.h"

#include <fmt/format.h>

namespace swd {

namespace {

std::vector<std::string> stringList(const nlohmann::json& j) {
    std::vector<std::string> out;
    for (const auto& p : j) out.push_back(p.get<std::string>());
    return out;
}

void sameIds(GoldenReport& report, const TensorStore& inputs, const std::string& name,
             const at::Tensor& got) {
    const at::Tensor want = inputs.get(name).to(at::kLong);
    const bool ok = got.sizes() == want.sizes() && at::equal(got, want);
    std::string detail;
    if (!ok && got.sizes() == want.sizes()) {
        const at::Tensor rows = (got != want).any(1).nonzero().reshape({-1});
        detail = fmt::format("our tokenizer gives other ids, first for prompt {}", rows[0].item<int64_t>());
    } else if (!ok) {
        detail = fmt::format("shape {} vs {}", shapeToString(got.sizes()), shapeToString(want.sizes()));
    }
    report.checkCondition(name + " (from the prompts, exact)", ok, detail);
}

// Every stored output of one encoder run on the case's ids.
ClipTextModel checkEncoder(const GoldenCase& c, GoldenReport& report, const char* name,
                           ClipTextConfig::Activation activation, const char* pooledName) {
    const Tolerance tol = c.tolerance();
    const TensorStore inputs = c.file("inputs.safetensors");
    const TensorStore outputs = c.file("outputs.safetensors");
    const auto dir =
        (c.dir() / c.json().at("encoders").at(name).at("weights").get<std::string>()).lexically_normal();
    ClipTextModel model =
        ClipTextModel::load(dir, "", at::kFloat, at::Device(c.options().device), activation);
    const auto out = model.forward(inputs.get(std::string(name) + ".input_ids"), true);
    for (std::size_t i = 0; i < out.hiddenStates.size(); ++i) {
        const std::string key = fmt::format("{}.hidden_states.{}", name, i);
        report.check(key, out.hiddenStates[i].cpu(), outputs.get(key), tol);
    }
    const std::string n = name;
    report.check(n + ".last_hidden_state", out.lastHiddenState.cpu(), outputs.get(n + ".last_hidden_state"),
                 tol);
    report.check(n + ".penultimate_hidden_state", out.penultimate.cpu(),
                 outputs.get(n + ".penultimate_hidden_state"), tol);
    report.check(n + "." + pooledName, out.pooled.cpu(), outputs.get(n + "." + pooledName), tol);
    return model;
}

}  // namespace

void checkSdxlTextEncodersCase(const GoldenCase& c, GoldenReport& report) {
    const Tolerance tol = c.tolerance();
    const TensorStore inputs = c.file("inputs.safetensors");
    const TensorStore outputs = c.file("outputs.safetensors");
    const std::vector<std::string> prompts = stringList(c.json().at("prompts"));
    const std::vector<std::string> negatives = stringList(c.json().at("negative_prompts"));

    ClipTextModel clipL =
        checkEncoder(c, report, "text_encoder", ClipTextConfig::Activation::QuickGelu, "pooler_output");
    ClipTextModel bigG =
        checkEncoder(c, report, "text_encoder_2", ClipTextConfig::Activation::Gelu, "text_embeds");

    const auto tokDir = c.tokenizersDir() / "clip";
    const ClipTokenizer tokenizer =
        ClipTokenizer::load(tokDir / "vocab.json", tokDir / "merges.txt", ClipTokenizer::Variant::ClipL);
    const SdConditioner sdxl = SdConditioner::sdxl(clipL, bigG, tokenizer);
    const SdConditioner sd15 = SdConditioner::sd15(clipL, tokenizer);

    sameIds(report, inputs, "text_encoder.input_ids", sdxl.tokenIds(prompts));
    sameIds(report, inputs, "text_encoder_2.input_ids", sdxl.tokenIds2(prompts));
    sameIds(report, inputs, "negative.text_encoder.input_ids", sdxl.tokenIds(negatives));
    sameIds(report, inputs, "negative.text_encoder_2.input_ids", sdxl.tokenIds2(negatives));

    auto check = [&](const std::string& key, const at::Tensor& got) {
        report.check(key, got.cpu(), outputs.get(key), tol);
    };
    const SdPromptEmbeds pos = sdxl.encode(prompts);
    check("sdxl.prompt_embeds", pos.context);
    check("sdxl.pooled_prompt_embeds", pos.pooled);
    check("sdxl.prompt_embeds_clip_skip1", sdxl.encode(prompts, 1).context);
    const SdPromptEmbeds neg = sdxl.encodeNegative(negatives, pos);
    check("sdxl.negative_prompt_embeds", neg.context);
    check("sdxl.negative_pooled_prompt_embeds", neg.pooled);
    const SdPromptEmbeds zero = sdxl.encodeNegative(std::nullopt, pos);
    const bool zeros =
        zero.context.sizes() == pos.context.sizes() && zero.pooled.sizes() == pos.pooled.sizes() &&
        zero.context.abs().max().item<float>() == 0.0f && zero.pooled.abs().max().item<float>() == 0.0f;
    report.checkCondition("sdxl.negative_* with negative_prompt=None (exact zeros)", zeros,
                          "force_zeros_for_empty_prompt must give exact zeros of the positive shapes");
    check("sd15.prompt_embeds", sd15.encode(prompts).context);
}

}  // namespace swd
