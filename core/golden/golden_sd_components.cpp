#include "golden/golden_sd_components.h"

#include "io/tensor_store.h"
#include "models/unet_config.h"

namespace swd {

GoldenSdComponents loadGoldenSdComponents(const GoldenCase& c) {
    const nlohmann::json& parts = c.json().at("components");
    const auto folder = [&](const char* key) { return c.dir() / parts.at(key).get<std::string>(); };
    SdTextPaths paths;
    paths.clipL = folder("text_encoder");
    if (parts.contains("text_encoder_2")) paths.bigG = folder("text_encoder_2");
    paths.vocab = c.tokenizersDir() / "clip" / "vocab.json";
    paths.merges = c.tokenizersDir() / "clip" / "merges.txt";
    GoldenSdComponents g;
    g.text = SdConditioner::load(paths, at::kFloat);
    const auto unet = folder("unet");
    g.unet = SdUnet::load(TensorStore::open(unet), UnetConfig::fromJson(unet / "config.json"), at::kFloat);
    g.vae = AutoencoderKl::load(TensorStore::open(folder("vae")), at::kFloat);
    return g;
}

SdPromptEmbeds encodeGoldenPrompts(const GoldenCase& c, GoldenReport& report, const SdConditioner& text,
                                   const std::vector<std::string>& prompts, const std::string& idsPrefix) {
    const TensorStore inputs = c.file("inputs.safetensors");
    const at::Tensor ids = text.tokenIds(prompts);
    const at::Tensor ids2 = text.isSdxl() ? text.tokenIds2(prompts) : at::Tensor();
    const auto exact = [&](const std::string& name, const at::Tensor& got) {
        if (inputs.has(name)) report.check(name, got, inputs.get(name), {0.0, 0.0});
    };
    exact(idsPrefix + ".text_encoder.input_ids", ids);
    if (ids2.defined()) exact(idsPrefix + ".text_encoder_2.input_ids", ids2);
    return text.encodeIds(ids, ids2);
}

}  // namespace swd
