// T5 tokenizer (tokenizer_3/spiece.model) through sentencepiece. Two modes:
// - Fast: what the SD3 pipeline uses (transformers' T5TokenizerFast / Rust `tokenizers`): sentencepiece's
//   normalisation, then the unigram Viterbi of the Rust implementation (scores summed in double, ties to
//   the earliest-starting last piece, consecutive unknowns fused). It differs from sentencepiece only on
//   exact score ties, e.g. runs of one character ("AAAA...", "----").
// - Slow: sentencepiece's own segmentation (transformers' T5Tokenizer, legacy=True).
// Both split the special tokens typed in the text (<pad>, </s>, <unk>, <extra_id_N>) first, append </s>
// (id 1) and pad with <pad> (id 0); there is no BOS.
#pragma once

#include "text/spm_library.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace swd {

class T5Tokenizer {
public:
    enum class Mode { Fast, Slow };

    static constexpr int kPadId = 0;
    static constexpr int kEosId = 1;
    static constexpr int kUnkId = 2;

    // Loads spiece.model (through the sentencepiece module) and checks it is T5's: <pad>, </s>, <unk> at
    // ids 0, 1, 2. Throws BadInput naming the file.
    static T5Tokenizer load(const std::filesystem::path& spieceModel);

    // Piece ids of `text` without </s> and without truncation.
    std::vector<std::int64_t> tokenIds(const std::string& text, Mode mode = Mode::Fast) const;
    // Piece strings of `text` (for messages and tests).
    std::vector<std::string> tokenize(const std::string& text, Mode mode = Mode::Fast) const;
    // What the pipeline feeds the encoder: ids[:maxLength-1] + [1], padded with 0 to maxLength.
    std::vector<std::int64_t> encode(const std::string& text, int maxLength, Mode mode = Mode::Fast) const;
    // encode() of every prompt as an int64 tensor [B, maxLength].
    at::Tensor encodeBatch(const std::vector<std::string>& prompts, int maxLength,
                           Mode mode = Mode::Fast) const;

    int vocabularySize() const;

private:
    struct Data;
    struct Token {
        std::int64_t id;
        std::string text;
    };
    std::vector<Token> run(const std::string& text, Mode mode) const;
    void viterbi(const std::string& word, std::vector<Token>& out) const;

    std::shared_ptr<const Data> m_data;
};

}  // namespace swd
