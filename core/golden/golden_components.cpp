#include "golden/golden_components.h"

#include <fmt/format.h>

namespace swd {

GoldenComponents loadGoldenComponents(const GoldenCase& c) {
    const auto components = c.pathField("components");
    const auto tokenizers = c.tokenizersDir();
    TextEncoderPaths paths = TextEncoderPaths::fromDiffusersFolder(components);
    paths.clipVocab = tokenizers / "clip" / "vocab.json";
    paths.clipMerges = tokenizers / "clip" / "merges.txt";
    paths.t5Spiece = tokenizers / "t5" / "spiece.model";
    GoldenComponents g;
    g.text = std::make_unique<Sd3Conditioner>(paths, at::kFloat, at::kCPU, true);
    g.transformer = MMDiT::load(TensorStore::open(components / "transformer"), at::kFloat, at::kCPU);
    g.vae = AutoencoderKl::load(TensorStore::open(components / "vae"), at::kFloat, at::kCPU);
    return g;
}

void checkGoldenTokenIds(const GoldenCase& c, GoldenReport& report, const Sd3Conditioner& text,
                         const std::string& prompt, const std::string& prefix, int t5Length) {
    const TensorStore inputs = c.file("inputs.safetensors");
    auto exact = [&](const std::string& name, const std::vector<int64_t>& ids) {
        if (!inputs.has(name)) return;
        const at::Tensor expected = inputs.get(name).reshape({-1});
        const at::Tensor got = at::tensor(ids, at::kLong);
        report.check(name, got, expected, {0.0, 0.0});
    };
    exact(prefix + ".clip_l.input_ids", text.clipLTokenizer().encode(prompt));
    exact(prefix + ".clip_g.input_ids", text.clipGTokenizer().encode(prompt));
    if (text.t5Tokenizer()) exact(prefix + ".t5.input_ids", text.t5Tokenizer()->encode(prompt, t5Length));
}

CaseTokenizers loadCaseTokenizers(const GoldenCase& c) {
    const auto dir = c.tokenizersDir();
    return CaseTokenizers{ClipTokenizer::load(dir / "clip" / "vocab.json", dir / "clip" / "merges.txt",
                                              ClipTokenizer::Variant::ClipL),
                          ClipTokenizer::load(dir / "clip" / "vocab.json", dir / "clip" / "merges.txt",
                                              ClipTokenizer::Variant::ClipG),
                          T5Tokenizer::load(dir / "t5" / "spiece.model")};
}

}  // namespace swd
