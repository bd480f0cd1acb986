// SD1.5 and SDXL prompt conditioning (tests/data/golden/README.md "SDXL text encoding",
// spec/sid-fewstep.md §2):
//   SD1.5 (SiD-LSG encode_prompt): CLIP-L last_hidden_state, AFTER the final LayerNorm -> [B, 77, 768].
//   SDXL (StableDiffusionXLPipeline.encode_prompt): cat(CLIP-L hidden_states[-2], bigG hidden_states[-2])
//   (penultimate layer, no final norm) -> [B, 77, 768 + 1280]; pooled = bigG text_embeds (text_projection of
//   the final-normed state at argmax(ids)) -> [B, 1280]. tokenizer pads with 49407, tokenizer_2 with "!" (0).
// Negative prompts: with `negative_prompt=None` SDXL's force_zeros_for_empty_prompt makes both negative
// embeddings exact zeros; an explicit "" is encoded like any prompt. The encoders are given loaded.
#pragma once

#include "text/clip_text_model.h"
#include "text/clip_tokenizer.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace swd {

struct SdPromptEmbeds {
    at::Tensor context;  // [B, 77, D] fp32: the UNet's encoder_hidden_states
    at::Tensor pooled;   // [B, P] fp32: SDXL's text_embeds (bigG projection); undefined for SD1.5
};

// Where the text side of a diffusers SD1.5 / SDXL folder is: text_encoder/, text_encoder_2/ (SDXL),
// tokenizer/vocab.json + merges.txt (tokenizer_2/ holds the same vocabulary; only its padding differs).
struct SdTextPaths {
    std::filesystem::path clipL, bigG;  // bigG empty: SD1.5
    std::filesystem::path vocab, merges;

    // text_encoder_2/ present -> SDXL. Throws BadInput naming what is missing.
    static SdTextPaths fromDiffusersFolder(const std::filesystem::path& folder);
};

class SdConditioner {
public:
    // SD1.5: one CLIP-L encoder. Either tokenizer variant may be given: the CLIP-L one (pad 49407) is used.
    static SdConditioner sd15(ClipTextModel clipL, const ClipTokenizer& tokenizer);
    // SDXL: CLIP-L (CLIPTextModel) and bigG (CLIPTextModelWithProjection); tokenizer (pad 49407) and
    // tokenizer_2 ("!" = 0 pads and is a special token) are made from `tokenizer`'s vocabulary.
    static SdConditioner sdxl(ClipTextModel clipL, ClipTextModel bigG, const ClipTokenizer& tokenizer);
    // Loads the encoders (config.json beside each decides heads and activation) and the tokenizer.
    static SdConditioner load(const SdTextPaths& paths, at::ScalarType dtype, at::Device device = at::kCPU);

    bool isSdxl() const { return m_bigG.has_value(); }
    // True (SDXL's model_index.json): a missing negative prompt gives zero embeddings. SD1.5's pipeline
    // encodes "" instead.
    bool forceZerosForEmptyPrompt() const { return isSdxl(); }
    // Width of the context (768 / 2048 for the real models) and of the pooled vector (0 for SD1.5).
    std::int64_t contextWidth() const;
    std::int64_t pooledWidth() const;

    // Token ids [B, 77] of tokenizer (CLIP-L) and tokenizer_2 (bigG, SDXL only).
    at::Tensor tokenIds(const std::vector<std::string>& prompts) const;
    at::Tensor tokenIds2(const std::vector<std::string>& prompts) const;

    // The prompts' embeddings. clipSkip n >= 1 takes an earlier layer: SDXL hidden_states[-(n + 2)] of both
    // encoders (diffusers' SDXL clip_skip); SD1.5 final_layer_norm(hidden_states[-(n + 1)]) (diffusers'
    // StableDiffusionPipeline; SiD itself uses 0).
    SdPromptEmbeds encode(const std::vector<std::string>& prompts, int clipSkip = 0) const;
    // The same from token ids (ids2: tokenizer_2's, SDXL only).
    SdPromptEmbeds encodeIds(const at::Tensor& ids, const at::Tensor& ids2 = {}, int clipSkip = 0) const;
    // The unconditional embeddings for CFG against `positive`: nullopt -> zeros shaped like `positive` when
    // forceZerosForEmptyPrompt() (SDXL), else "" per prompt; otherwise one negative per prompt (or one for
    // all), encoded without clip skip (the pipeline's negative branch ignores it).
    SdPromptEmbeds encodeNegative(const std::optional<std::vector<std::string>>& negatives,
                                  const SdPromptEmbeds& positive) const;

    const ClipTokenizer& tokenizer() const { return m_tokenizer; }
    const ClipTokenizer& tokenizer2() const { return m_tokenizer2; }
    const ClipTextModel& clipL() const { return m_clipL; }
    const ClipTextModel* bigG() const { return m_bigG ? &*m_bigG : nullptr; }

private:
    SdConditioner(ClipTextModel clipL, std::optional<ClipTextModel> bigG, const ClipTokenizer& tokenizer);

    ClipTextModel m_clipL;
    std::optional<ClipTextModel> m_bigG;
    ClipTokenizer m_tokenizer, m_tokenizer2;
};

// SDXL's added time ids: the original size, the crop's top-left corner and the target size, in pixels.
struct SdxlTimeIds {
    double originalHeight = 1024, originalWidth = 1024;
    double cropTop = 0, cropLeft = 0;
    double targetHeight = 1024, targetWidth = 1024;

    // diffusers' default: original = target = the generated image's size, no crop.
    static SdxlTimeIds forImage(std::int64_t height, std::int64_t width);
    // [batch, 6] fp32: (orig_h, orig_w, crop_top, crop_left, target_h, target_w) in every row.
    at::Tensor tensor(std::int64_t batch) const;
};

}  // namespace swd
