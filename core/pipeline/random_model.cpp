#include "pipeline/random_model.h"

#include "models/lora.h"
#include "models/random_weights.h"
#include "models/vae.h"
#include "models/vae_keys.h"
#include "text/clip_text_model.h"
#include "text/t5_encoder.h"
#include "util/error.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>

namespace swd {

std::vector<std::pair<std::string, std::pair<std::int64_t, std::int64_t>>> swdAdapterModules(
    const MMDiTConfig& c) {
    const std::int64_t h = c.hidden(), ff = 4 * h;
    std::vector<std::pair<std::string, std::pair<std::int64_t, std::int64_t>>> m;  // name, (out, in)
    for (int i = 0; i < c.numLayers; ++i) {
        const std::string b = fmt::format("transformer_blocks.{}.", i);
        for (const char* a : {"attn.to_q", "attn.to_k", "attn.to_v", "attn.to_out.0"})
            m.push_back({b + a, {h, h}});
        if (c.isDual(i))
            for (const char* a : {"attn2.to_q", "attn2.to_k", "attn2.to_v", "attn2.to_out.0"})
                m.push_back({b + a, {h, h}});
        m.push_back({b + "ff.net.0.proj", {ff, h}});
        m.push_back({b + "ff.net.2", {h, ff}});
        if (!c.contextPreOnly(i)) {
            m.push_back({b + "ff_context.net.0.proj", {ff, h}});
            m.push_back({b + "ff_context.net.2", {h, ff}});
        }
    }
    return m;
}

RandomModel makeRandomModel(ModelFamily family, at::ScalarType dtype, bool withT5, int adapterRank) {
    MMDiTConfig tc;  // SD3.5 Medium by default
    if (family == ModelFamily::SD35Large) {
        tc.numLayers = 38;
        tc.numHeads = 38;
        tc.captionProjectionDim = 2432;
        tc.posEmbedMaxSize = 192;
        tc.dualAttentionLayers.clear();
    } else if (family != ModelFamily::SD35Medium) {
        throwBadInput("random-weight models exist for SD3.5 Medium and Large, not {}",
                      modelFamilyName(family));
    }
    auto tokenizers = findBundledTokenizers();
    if (!tokenizers)
        throwBadInput("the shipped tokenizer files were not found (share/swd-studio/tokenizers)");

    auto weights = std::make_shared<ModelWeights>();
    weights->transformer = randomWeightStore(mmditParameters(tc, MMDiTLayout::Diffusers), dtype, 11,
                                             fmt::format("random {}", tc.describe()));
    weights->vae =
        randomWeightStore(vaeParameterShapes(VaeConfig::sd3(), false), dtype, 12, "random SD3 VAE");
    weights->clipL = randomWeightStore(ClipTextModel::parameterShapes(ClipTextConfig::clipL(), 768), dtype,
                                       13, "random CLIP-L");
    weights->clipG = randomWeightStore(ClipTextModel::parameterShapes(ClipTextConfig::clipG(), 1280), dtype,
                                       14, "random CLIP-G");
    if (withT5)
        weights->t5 = randomWeightStore(T5Encoder::parameterShapes(T5EncoderConfig::t5xxl()), dtype, 15,
                                        "random T5-XXL");
    if (adapterRank > 0) {
        auto gen = at::detail::createCPUGenerator(16);
        std::map<std::string, at::Tensor> factors;
        for (const auto& [module, dims] : swdAdapterModules(tc)) {
            factors[module + ".lora_A.weight"] =
                at::randn({adapterRank, dims.second}, gen, at::TensorOptions().dtype(at::kFloat)) * 0.01;
            factors[module + ".lora_B.weight"] =
                at::randn({dims.first, adapterRank}, gen, at::TensorOptions().dtype(at::kFloat)) * 0.01;
        }
        weights->adapter =
            LoraAdapter::fromTensors(factors, adapterRank, fmt::format("random rank-{} LoRA", adapterRank));
    }

    RandomModel m;
    m.set.family = family;
    m.set.displayName = fmt::format("{} architecture, random weights", modelFamilyName(family));
    m.set.realSize = true;
    m.set.clipVocab = tokenizers->clipVocab;
    m.set.clipMerges = tokenizers->clipMerges;
    m.set.t5Spiece = tokenizers->t5Spiece;
    m.set.tokenizerOrigin = tokenizers->origin;
    if (!withT5) m.set.notes.push_back("T5-XXL left out");
    m.weights = weights;
    return m;
}

}  // namespace swd
