// CLIP byte-level BPE tokenizer (vocab.json + merges.txt of a model's tokenizer/ and tokenizer_2/),
// reproducing transformers' slow CLIPTokenizer as the SD3 pipeline runs it (without ftfy): special tokens
// typed in the text are split out first, then BasicTokenizer normalisation (NFC, control characters
// dropped, whitespace runs split words, spaces around CJK ideographs, lower-casing with accents kept),
// the CLIP regex with Unicode letter / number classes, and BPE with the '</w>' word end.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace swd {

class ClipTokenizer {
public:
    // Which SD3 tokenizer: they share vocab and merges but pad differently.
    enum class Variant {
        ClipL,  // tokenizer/: pad token <|endoftext|> (49407)
        ClipG,  // tokenizer_2/: pad token "!" (id 0), which is then also a special token in the text
    };

    static constexpr int kBosId = 49406;
    static constexpr int kEosId = 49407;
    static constexpr int kMaxLength = 77;

    // Reads the vocabulary and merges; throws BadInput naming the file and what is wrong.
    static ClipTokenizer load(const std::filesystem::path& vocabJson, const std::filesystem::path& mergesTxt,
                              Variant variant);

    // The same vocabulary and merges (shared, not copied) as the other variant: CLIP-L and CLIP-G differ
    // only in padding and in "!" being a special token.
    ClipTokenizer withVariant(Variant variant) const;

    Variant variant() const { return m_variant; }
    int padId() const { return m_padId; }

    // Token strings of `text` without BOS/EOS and without truncation (e.g. "photo</w>", "<|endoftext|>").
    std::vector<std::string> tokenize(const std::string& text) const;
    // Ids of `text` without BOS/EOS and without truncation.
    std::vector<std::int64_t> tokenIds(const std::string& text) const;
    // What the pipeline feeds the encoder: [49406] + ids[:75] + [49407], padded to 77 with padId().
    std::vector<std::int64_t> encode(const std::string& text) const;
    // encode() of every prompt as an int64 tensor [B, 77].
    at::Tensor encodeBatch(const std::vector<std::string>& prompts) const;

    // The id of a token string, or -1.
    std::int64_t tokenToId(const std::string& token) const;

private:
    struct Data;
    std::shared_ptr<const Data> m_data;
    Variant m_variant = Variant::ClipL;
    int m_padId = kEosId;
    std::vector<std::string> m_specialTokens;  // split out of the text before normalisation
};

}  // namespace swd
