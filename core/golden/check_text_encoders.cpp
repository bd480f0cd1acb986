// Golden kind "text_encoders": transformers' CLIPTextModelWithProjection (CLIP-L-like, bigG-like) and
// T5EncoderModel on real token ids, in fp32: every hidden state, the last one, the penultimate one SD3 uses,
// and the pooled text_embeds. The case's input ids are also checked against our tokenizers.
#include "golden/golden_components.h"
#include "golden/golden_kinds.h"

#include "text/clip_text_model.h"
#include "text/clip_tokenizer.h"
#include "text/t5_encoder.h"
#include "text/t5_tokenizer.h"

#include <fmt/format.h>

namespace swd {

void checkTextEncodersCase(const GoldenCase& c, GoldenReport& report) {
    const Tolerance tol = c.tolerance();
    const TensorStore inputs = c.file("inputs.safetensors");
    const TensorStore outputs = c.file("outputs.safetensors");
    const auto device = at::Device(c.options().device);
    const auto& encoders = c.json().at("encoders");
    auto weightsOf = [&](const char* name) {
        std::string path = encoders.at(name).at("weights").get<std::string>();
        return (c.dir() / path).lexically_normal();
    };
    auto compareAll = [&](const std::string& name, const std::vector<at::Tensor>& hidden,
                          const at::Tensor& last, const at::Tensor& penultimate) {
        for (std::size_t i = 0; i < hidden.size(); ++i) {
            const std::string key = fmt::format("{}.hidden_states.{}", name, i);
            report.check(key, hidden[i], outputs.get(key), tol);
        }
        report.check(name + ".last_hidden_state", last, outputs.get(name + ".last_hidden_state"), tol);
        report.check(name + ".penultimate_hidden_state", penultimate,
                     outputs.get(name + ".penultimate_hidden_state"), tol);
    };
    for (const char* name : {"text_encoder", "text_encoder_2"}) {
        const auto activation = std::string(name) == "text_encoder" ? ClipTextConfig::Activation::QuickGelu
                                                                    : ClipTextConfig::Activation::Gelu;
        const auto model = ClipTextModel::load(weightsOf(name), "", at::kFloat, device, activation);
        const auto out = model.forward(inputs.get(std::string(name) + ".input_ids"), true);
        compareAll(name, out.hiddenStates, out.lastHiddenState, out.penultimate);
        report.check(std::string(name) + ".text_embeds", out.pooled,
                     outputs.get(std::string(name) + ".text_embeds"), tol);
    }
    {
        const auto model = T5Encoder::load(weightsOf("text_encoder_3"), "", at::kFloat, device);
        const auto out = model.forward(inputs.get("text_encoder_3.input_ids"), true);
        compareAll("text_encoder_3", out.hiddenStates, out.lastHiddenState,
                   out.hiddenStates[out.hiddenStates.size() - 2]);
    }

    // The ids the case was run on are what our tokenizers make of its prompts.
    std::vector<std::string> prompts;
    for (const auto& p : c.json().at("prompts")) prompts.push_back(p.get<std::string>());
    const CaseTokenizers tokenizers = loadCaseTokenizers(c);
    const ClipTokenizer& clipL = tokenizers.clipL;
    const ClipTokenizer& clipG = tokenizers.clipG;
    const T5Tokenizer& t5 = tokenizers.t5;
    const std::int64_t t5Length = inputs.info("text_encoder_3.input_ids").shape.at(1);
    auto sameIds = [&](const std::string& name, const at::Tensor& got) {
        const at::Tensor want = inputs.get(name).to(at::kLong);
        const bool ok = got.sizes() == want.sizes() && at::equal(got, want);
        report.checkCondition(name + " (from the prompts, exact)", ok,
                              ok ? "" : "our tokenizer gives other ids");
    };
    sameIds("text_encoder.input_ids", clipL.encodeBatch(prompts));
    sameIds("text_encoder_2.input_ids", clipG.encodeBatch(prompts));
    sameIds("text_encoder_3.input_ids", t5.encodeBatch(prompts, static_cast<int>(t5Length)));
}

}  // namespace swd
