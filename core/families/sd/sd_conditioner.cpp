#include "families/sd/sd_conditioner.h"

#include "util/error.h"

#include <c10/core/InferenceMode.h>

namespace swd {

namespace fs = std::filesystem;

namespace {

// hidden_states[-back] of a forward that kept every hidden state (index 0 = embeddings).
const at::Tensor& hiddenFromEnd(const ClipTextOutput& out, int back, const char* encoder) {
    const int count = static_cast<int>(out.hiddenStates.size());
    if (back < 1 || back > count)
        throwBadInput(
            "{}: clip skip reaches hidden_states[-{}], but the encoder has only {} (embeddings and {} "
            "layers); use a smaller clip skip",
            encoder, back, count, count - 1);
    return out.hiddenStates[static_cast<std::size_t>(count - back)];
}

void checkIds(const at::Tensor& ids, const char* which) {
    if (!ids.defined() || ids.dim() != 2 || ids.size(0) < 1)
        throwBadInput("SD text conditioning: {} must be token ids [batch, 77], got {}", which,
                      ids.defined() ? shapeToString(ids.sizes()) : "nothing");
}

void requireDir(const fs::path& dir, const char* what, const fs::path& folder) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
        throwBadInput("{}: has no {} folder ({}); expected a diffusers SD1.5 / SDXL pipeline folder",
                      folder.string(), what, dir.string());
}

}  // namespace

SdTextPaths SdTextPaths::fromDiffusersFolder(const fs::path& folder) {
    SdTextPaths p;
    p.clipL = folder / "text_encoder";
    requireDir(p.clipL, "text_encoder/", folder);
    std::error_code ec;
    if (fs::is_directory(folder / "text_encoder_2", ec)) p.bigG = folder / "text_encoder_2";
    p.vocab = folder / "tokenizer" / "vocab.json";
    p.merges = folder / "tokenizer" / "merges.txt";
    return p;
}

SdConditioner::SdConditioner(ClipTextModel clipL, std::optional<ClipTextModel> bigG,
                             const ClipTokenizer& tokenizer)
    : m_clipL(std::move(clipL))
    , m_bigG(std::move(bigG))
    , m_tokenizer(tokenizer.withVariant(ClipTokenizer::Variant::ClipL))
    , m_tokenizer2(tokenizer.withVariant(ClipTokenizer::Variant::ClipG)) {
    if (!m_clipL.loaded()) throwInternal("SdConditioner: the CLIP-L encoder is not loaded");
    if (m_bigG && !m_bigG->loaded()) throwInternal("SdConditioner: the bigG encoder is not loaded");
    if (m_bigG && !m_bigG->hasProjection())
        throwBadInput(
            "SDXL text_encoder_2 has no text_projection.weight: the pooled embedding needs a "
            "CLIPTextModelWithProjection (check that text_encoder/ and text_encoder_2/ are not swapped)");
}

SdConditioner SdConditioner::sd15(ClipTextModel clipL, const ClipTokenizer& tokenizer) {
    return SdConditioner(std::move(clipL), std::nullopt, tokenizer);
}

SdConditioner SdConditioner::sdxl(ClipTextModel clipL, ClipTextModel bigG, const ClipTokenizer& tokenizer) {
    return SdConditioner(std::move(clipL), std::move(bigG), tokenizer);
}

SdConditioner SdConditioner::load(const SdTextPaths& paths, at::ScalarType dtype, at::Device device) {
    const ClipTokenizer tokenizer =
        ClipTokenizer::load(paths.vocab, paths.merges, ClipTokenizer::Variant::ClipL);
    ClipTextModel clipL =
        ClipTextModel::load(paths.clipL, "", dtype, device, ClipTextConfig::Activation::QuickGelu);
    if (paths.bigG.empty()) return sd15(std::move(clipL), tokenizer);
    ClipTextModel bigG = ClipTextModel::load(paths.bigG, "", dtype, device, ClipTextConfig::Activation::Gelu);
    return sdxl(std::move(clipL), std::move(bigG), tokenizer);
}

std::int64_t SdConditioner::contextWidth() const {
    return m_clipL.config().hidden + (m_bigG ? m_bigG->config().hidden : 0);
}

std::int64_t SdConditioner::pooledWidth() const {
    return m_bigG ? m_bigG->projectionDim() : 0;
}

at::Tensor SdConditioner::tokenIds(const std::vector<std::string>& prompts) const {
    return m_tokenizer.encodeBatch(prompts);
}

at::Tensor SdConditioner::tokenIds2(const std::vector<std::string>& prompts) const {
    if (!isSdxl()) throwInternal("SdConditioner::tokenIds2 on an SD1.5 conditioner");
    return m_tokenizer2.encodeBatch(prompts);
}

SdPromptEmbeds SdConditioner::encode(const std::vector<std::string>& prompts, int clipSkip) const {
    if (prompts.empty()) throwBadInput("SD text conditioning: no prompts given");
    return encodeIds(tokenIds(prompts), isSdxl() ? tokenIds2(prompts) : at::Tensor(), clipSkip);
}

SdPromptEmbeds SdConditioner::encodeIds(const at::Tensor& ids, const at::Tensor& ids2, int clipSkip) const {
    if (clipSkip < 0) throwBadInput("SD text conditioning: clip skip must be 0 or more, got {}", clipSkip);
    checkIds(ids, "tokenizer ids");
    c10::InferenceMode guard;
    const bool keepAll = clipSkip > 0;
    SdPromptEmbeds e;
    if (!isSdxl()) {
        const ClipTextOutput out = m_clipL.forward(ids, keepAll);
        // SiD-LSG: text_encoder(ids)[0]; diffusers' clip skip re-applies the final norm to an earlier layer.
        e.context = keepAll ? m_clipL.finalLayerNorm(hiddenFromEnd(out, clipSkip + 1, "CLIP-L"))
                            : out.lastHiddenState;
        return e;
    }
    checkIds(ids2, "tokenizer_2 ids");
    if (ids2.size(0) != ids.size(0))
        throwBadInput("SDXL text conditioning: {} ids from tokenizer but {} from tokenizer_2", ids.size(0),
                      ids2.size(0));
    const ClipTextOutput l = m_clipL.forward(ids, keepAll);
    const ClipTextOutput g = m_bigG->forward(ids2, keepAll);
    // hidden_states[-(n + 2)]: the penultimate layer (n = 0) or n layers before it, without the final norm.
    const at::Tensor a = keepAll ? hiddenFromEnd(l, clipSkip + 2, "CLIP-L") : l.penultimate;
    const at::Tensor b = keepAll ? hiddenFromEnd(g, clipSkip + 2, "bigG") : g.penultimate;
    e.context = at::cat({a, b}, -1);
    e.pooled = g.pooled;
    return e;
}

SdPromptEmbeds SdConditioner::encodeNegative(const std::optional<std::vector<std::string>>& negatives,
                                             const SdPromptEmbeds& positive) const {
    if (!positive.context.defined() || positive.context.dim() != 3)
        throwBadInput("SD text conditioning: the negative prompt needs the positive embeddings [B, 77, D]");
    const std::int64_t batch = positive.context.size(0);
    if (!negatives && forceZerosForEmptyPrompt()) {
        // force_zeros_for_empty_prompt: exact zeros, not the encoding of "".
        c10::InferenceMode guard;
        SdPromptEmbeds zero{at::zeros_like(positive.context), {}};
        if (positive.pooled.defined()) zero.pooled = at::zeros_like(positive.pooled);
        return zero;
    }
    std::vector<std::string> texts = negatives ? *negatives : std::vector<std::string>{""};
    if (texts.size() == 1 && batch > 1) texts.assign(static_cast<std::size_t>(batch), texts.front());
    if (static_cast<std::int64_t>(texts.size()) != batch)
        throwBadInput("SD text conditioning: {} negative prompts for {} prompts; give one, or one per prompt",
                      texts.size(), batch);
    return encode(texts, 0);
}

SdxlTimeIds SdxlTimeIds::forImage(std::int64_t height, std::int64_t width) {
    if (height < 1 || width < 1)
        throwBadInput("SDXL time ids: the image size must be positive, got {}x{}", height, width);
    SdxlTimeIds t;
    t.originalHeight = t.targetHeight = static_cast<double>(height);
    t.originalWidth = t.targetWidth = static_cast<double>(width);
    return t;
}

at::Tensor SdxlTimeIds::tensor(std::int64_t batch) const {
    if (batch < 1) throwBadInput("SDXL time ids: the batch must be at least 1, got {}", batch);
    const at::Tensor row = at::tensor(
        {static_cast<float>(originalHeight), static_cast<float>(originalWidth), static_cast<float>(cropTop),
         static_cast<float>(cropLeft), static_cast<float>(targetHeight), static_cast<float>(targetWidth)},
        at::kFloat);
    return row.unsqueeze(0).repeat({batch, 1}).contiguous();
}

}  // namespace swd
