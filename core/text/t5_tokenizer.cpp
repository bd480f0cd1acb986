#include "text/t5_tokenizer.h"

#include "text/utf8.h"
#include "util/error.h"

#include <algorithm>
#include <limits>
#include <unordered_map>

namespace swd {

namespace {

// Rust tokenizers' unigram: an unknown character costs the lowest piece score minus this.
constexpr double kUnkPenalty = 10.0;
const char* const kMetaspace = "\xE2\x96\x81";  // U+2581

struct SpecialToken {
    std::string text;
    std::int64_t id;
    bool stripAround;  // <extra_id_N> eat the whitespace on both sides (lstrip/rstrip in the config)
};

std::vector<SpecialToken> t5SpecialTokens() {
    std::vector<SpecialToken> out = {{"<pad>", 0, false}, {"</s>", 1, false}, {"<unk>", 2, false}};
    for (int n = 0; n < 100; ++n) out.push_back({"<extra_id_" + std::to_string(n) + ">", 32099 - n, true});
    return out;
}

std::string stripPythonSpace(const std::string& s, bool left, bool right) {
    std::vector<char32_t> cps;
    utf8::decode(s, cps);
    std::size_t b = 0, e = cps.size();
    if (left)
        while (b < e && utf8::isPythonSpace(cps[b])) ++b;
    if (right)
        while (e > b && utf8::isPythonSpace(cps[e - 1])) --e;
    return utf8::encode(std::u32string(cps.begin() + static_cast<std::ptrdiff_t>(b),
                                       cps.begin() + static_cast<std::ptrdiff_t>(e)));
}

}  // namespace

struct T5Tokenizer::Data {
    SentencePieceModel model;
    std::unordered_map<std::string, std::pair<std::int64_t, double>> pieces;  // piece -> (id, score)
    std::size_t maxPieceBytes = 1;
    double unkScore = 0.0;
    int vocabSize = 0;
    std::vector<SpecialToken> specials = t5SpecialTokens();
};

T5Tokenizer T5Tokenizer::load(const std::filesystem::path& spieceModel) {
    auto data = std::make_shared<Data>();
    data->model = SentencePieceModel::load(spieceModel);
    const auto vocab = data->model.vocabulary();
    data->vocabSize = static_cast<int>(vocab.size());
    const char* expected[] = {"<pad>", "</s>", "<unk>"};
    for (int id = 0; id < 3; ++id)
        if (static_cast<int>(vocab.size()) <= id || vocab[static_cast<std::size_t>(id)].piece != expected[id])
            throwBadInput(
                "{}: piece {} is '{}', expected '{}'; this is not T5's spiece.model (pass "
                "tokenizer_3/spiece.model)",
                spieceModel.string(), id,
                static_cast<int>(vocab.size()) > id ? vocab[static_cast<std::size_t>(id)].piece : "",
                expected[id]);
    double minScore = std::numeric_limits<double>::infinity();
    for (std::size_t id = 0; id < vocab.size(); ++id) {
        const auto& e = vocab[id];
        minScore = std::min(minScore, static_cast<double>(e.score));
        if (e.kind != 1) continue;  // unknown, control, unused and byte pieces are never matched in text
        data->pieces.emplace(e.piece,
                             std::make_pair(static_cast<std::int64_t>(id), static_cast<double>(e.score)));
        data->maxPieceBytes = std::max(data->maxPieceBytes, e.piece.size());
    }
    data->unkScore = minScore - kUnkPenalty;
    T5Tokenizer tok;
    tok.m_data = std::move(data);
    return tok;
}

int T5Tokenizer::vocabularySize() const {
    return m_data->vocabSize;
}

// Rust tokenizers' Unigram::encode_optimized on one pre-tokenized word (starting with U+2581).
void T5Tokenizer::viterbi(const std::string& word, std::vector<Token>& out) const {
    struct Node {
        std::int64_t id = -1;
        double score = 0.0;
        std::int64_t start = -1;
    };
    const std::size_t n = word.size();
    std::vector<Node> best(n + 1);
    std::size_t start = 0;
    while (start < n) {
        const double base = best[start].score;
        const std::size_t charLen =
            std::min(utf8::sequenceLength(static_cast<unsigned char>(word[start])), n - start);
        bool hasSingleChar = false;
        const std::size_t maxLen = std::min(m_data->maxPieceBytes, n - start);
        for (std::size_t len = 1; len <= maxLen; ++len) {
            const std::size_t end = start + len;
            if (end < n && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80)
                continue;  // not a boundary
            const auto it = m_data->pieces.find(word.substr(start, len));
            if (it == m_data->pieces.end()) continue;
            const double candidate = it->second.second + base;
            Node& target = best[end];
            if (target.start < 0 || candidate > target.score) {
                target.score = candidate;
                target.start = static_cast<std::int64_t>(start);
                target.id = it->second.first;
            }
            if (len == charLen) hasSingleChar = true;
        }
        if (!hasSingleChar) {
            Node& target = best[start + charLen];
            const double candidate = m_data->unkScore + base;
            if (target.start < 0 || candidate > target.score) {
                target.score = candidate;
                target.start = static_cast<std::int64_t>(start);
                target.id = kUnkId;
            }
        }
        start += charLen;
    }
    // Backtrack; consecutive unknown characters become one <unk>.
    std::vector<Token> reversed;
    std::size_t end = n;
    while (end > 0) {
        const Node& node = best[end];
        const auto s = static_cast<std::size_t>(node.start);
        std::string text = word.substr(s, end - s);
        if (node.id == kUnkId && !reversed.empty() && reversed.back().id == kUnkId)
            reversed.back().text = text + reversed.back().text;
        else
            reversed.push_back(Token{node.id, std::move(text)});
        end = s;
    }
    out.insert(out.end(), reversed.rbegin(), reversed.rend());
}

std::vector<T5Tokenizer::Token> T5Tokenizer::run(const std::string& text, Mode mode) const {
    std::vector<char32_t> cps;
    std::size_t bad = 0;
    if (!utf8::decode(text, cps, &bad))
        throwBadInput("prompt: not valid UTF-8 (bad byte 0x{:02x} at offset {}); pass UTF-8 text",
                      static_cast<unsigned>(static_cast<unsigned char>(text[bad])), bad);

    // Split out the special tokens (leftmost, then longest match), as transformers' added-tokens trie and
    // the Rust AddedVocabulary do.
    struct Segment {
        std::string text;
        const SpecialToken* special = nullptr;
    };
    std::vector<Segment> segments;
    std::size_t start = 0, i = 0;
    while (i < text.size()) {
        const SpecialToken* match = nullptr;
        if (text[i] == '<')
            for (const auto& s : m_data->specials)
                if (text.compare(i, s.text.size(), s.text) == 0 &&
                    (!match || s.text.size() > match->text.size()))
                    match = &s;
        if (!match) {
            ++i;
            continue;
        }
        if (i > start) segments.push_back({text.substr(start, i - start), nullptr});
        segments.push_back({match->text, match});
        i += match->text.size();
        start = i;
    }
    if (start < text.size()) segments.push_back({text.substr(start), nullptr});
    for (std::size_t k = 0; k < segments.size(); ++k) {
        if (!segments[k].special || !segments[k].special->stripAround) continue;
        if (k > 0 && !segments[k - 1].special)
            segments[k - 1].text = stripPythonSpace(segments[k - 1].text, false, true);
        if (k + 1 < segments.size() && !segments[k + 1].special)
            segments[k + 1].text = stripPythonSpace(segments[k + 1].text, true, false);
    }

    std::vector<Token> tokens;
    for (const auto& segment : segments) {
        if (segment.special) {
            tokens.push_back(Token{segment.special->id, segment.special->text});
            continue;
        }
        if (segment.text.empty()) continue;
        const auto pieces = m_data->model.encode(segment.text);
        if (mode == Mode::Slow) {
            for (const auto& p : pieces) tokens.push_back(Token{p.id, p.text});
            continue;
        }
        // Fast: the normalized text (sentencepiece's pieces cover it exactly), cut into words before each
        // U+2581 (Metaspace pre-tokenizer), each segmented by the double-precision Viterbi.
        std::string normalized;
        for (const auto& p : pieces) normalized += p.text;
        std::size_t wordStart = 0;
        for (std::size_t pos = 1; pos <= normalized.size(); ++pos) {
            if (pos == normalized.size() || normalized.compare(pos, 3, kMetaspace) == 0) {
                if (pos > wordStart) viterbi(normalized.substr(wordStart, pos - wordStart), tokens);
                wordStart = pos;
            }
        }
    }
    return tokens;
}

std::vector<std::int64_t> T5Tokenizer::tokenIds(const std::string& text, Mode mode) const {
    std::vector<std::int64_t> ids;
    for (const auto& t : run(text, mode)) ids.push_back(t.id);
    return ids;
}

std::vector<std::string> T5Tokenizer::tokenize(const std::string& text, Mode mode) const {
    std::vector<std::string> out;
    for (auto& t : run(text, mode)) out.push_back(std::move(t.text));
    return out;
}

std::vector<std::int64_t> T5Tokenizer::encode(const std::string& text, int maxLength, Mode mode) const {
    if (maxLength < 1) throwBadInput("T5 tokenizer: max length {} must be at least 1", maxLength);
    std::vector<std::int64_t> ids = tokenIds(text, mode);
    if (ids.size() > static_cast<std::size_t>(maxLength - 1))
        ids.resize(static_cast<std::size_t>(maxLength - 1));
    ids.push_back(kEosId);
    ids.resize(static_cast<std::size_t>(maxLength), kPadId);
    return ids;
}

at::Tensor T5Tokenizer::encodeBatch(const std::vector<std::string>& prompts, int maxLength, Mode mode) const {
    at::Tensor out = at::empty({static_cast<std::int64_t>(prompts.size()), maxLength}, at::kLong);
    auto* p = out.data_ptr<std::int64_t>();
    for (std::size_t b = 0; b < prompts.size(); ++b) {
        const auto ids = encode(prompts[b], maxLength, mode);
        std::copy(ids.begin(), ids.end(), p + b * static_cast<std::size_t>(maxLength));
    }
    return out;
}

}  // namespace swd
