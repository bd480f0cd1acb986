#include "text/clip_tokenizer.h"

#include "text/utf8.h"
#include "util/error.h"
#include "util/file_read.h"
#include "util/json_reader.h"

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <climits>
#include <fstream>
#include <sstream>
#include <unordered_map>

namespace swd {

namespace fs = std::filesystem;

namespace {

const char* const kBosToken = "<|startoftext|>";
const char* const kEosToken = "<|endoftext|>";
// transformers reads merges.txt lines 1 .. 49152 - 256 - 2 (the first line is the "#version" header).
constexpr std::size_t kMaxMerges = 49152 - 256 - 2;

// GPT-2's reversible byte -> printable character map (bytes_to_unicode), as UTF-8 strings.
std::vector<std::string> byteEncoderTable() {
    std::vector<int> printable;
    for (int b = '!'; b <= '~'; ++b) printable.push_back(b);
    for (int b = 0xA1; b <= 0xAC; ++b) printable.push_back(b);
    for (int b = 0xAE; b <= 0xFF; ++b) printable.push_back(b);
    std::vector<std::string> table(256);
    std::vector<bool> assigned(256, false);
    for (int b : printable) {
        utf8::append(table[static_cast<std::size_t>(b)], static_cast<char32_t>(b));
        assigned[static_cast<std::size_t>(b)] = true;
    }
    int next = 0;
    for (int b = 0; b < 256; ++b) {
        if (assigned[static_cast<std::size_t>(b)]) continue;
        utf8::append(table[static_cast<std::size_t>(b)], static_cast<char32_t>(256 + next));
        ++next;
    }
    return table;
}

// transformers' BasicTokenizer._is_chinese_char: the CJK Unified Ideographs blocks.
bool isCjkIdeograph(char32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) ||
           (c >= 0x2B820 && c <= 0x2CEAF) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

bool isOtherCategory(char32_t c) {  // Unicode general category C* (Cc, Cf, Cs, Co, Cn)
    switch (u_charType(static_cast<UChar32>(c))) {
        case U_CONTROL_CHAR:
        case U_FORMAT_CHAR:
        case U_SURROGATE:
        case U_PRIVATE_USE_CHAR:
        case U_UNASSIGNED:
            return true;
        default:
            return false;
    }
}

bool isLetter(char32_t c) {  // \p{L}
    switch (u_charType(static_cast<UChar32>(c))) {
        case U_UPPERCASE_LETTER:
        case U_LOWERCASE_LETTER:
        case U_TITLECASE_LETTER:
        case U_MODIFIER_LETTER:
        case U_OTHER_LETTER:
            return true;
        default:
            return false;
    }
}

bool isNumber(char32_t c) {  // \p{N}
    switch (u_charType(static_cast<UChar32>(c))) {
        case U_DECIMAL_DIGIT_NUMBER:
        case U_LETTER_NUMBER:
        case U_OTHER_NUMBER:
            return true;
        default:
            return false;
    }
}

bool isRegexSpace(char32_t c) {  // \s
    return u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_WHITE_SPACE) != 0;
}

std::u16string toUtf16(const std::u32string& s) {
    std::u16string out;
    out.reserve(s.size());
    for (char32_t c : s) {
        if (c < 0x10000) {
            out += static_cast<char16_t>(c);
        } else {
            c -= 0x10000;
            out += static_cast<char16_t>(0xD800 + (c >> 10));
            out += static_cast<char16_t>(0xDC00 + (c & 0x3FF));
        }
    }
    return out;
}

std::u32string fromUtf16(const std::u16string& s) {
    std::u32string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        char32_t c = s[i];
        if (c >= 0xD800 && c <= 0xDBFF && i + 1 < s.size() && s[i + 1] >= 0xDC00 && s[i + 1] <= 0xDFFF) {
            c = 0x10000 + ((c - 0xD800) << 10) + (static_cast<char32_t>(s[i + 1]) - 0xDC00);
            ++i;
        }
        out += c;
    }
    return out;
}

std::u32string nfc(const std::u32string& text) {
    UErrorCode status = U_ZERO_ERROR;
    const UNormalizer2* normalizer = unorm2_getNFCInstance(&status);
    if (U_FAILURE(status)) throwInternal("ICU: no NFC normaliser ({})", u_errorName(status));
    const std::u16string src = toUtf16(text);
    std::u16string dst(src.size() * 3 + 16, u'\0');
    const int32_t n = unorm2_normalize(normalizer, reinterpret_cast<const UChar*>(src.data()),
                                       static_cast<int32_t>(src.size()), reinterpret_cast<UChar*>(dst.data()),
                                       static_cast<int32_t>(dst.size()), &status);
    if (U_FAILURE(status)) throwInternal("ICU: NFC normalisation failed ({})", u_errorName(status));
    dst.resize(static_cast<std::size_t>(n));
    return fromUtf16(dst);
}

// Python's str.lower(): full Unicode lower-case mapping (İ -> i̇, final sigma), root locale.
std::u32string lower(const std::u32string& text) {
    const std::u16string src = toUtf16(text);
    std::u16string dst(src.size() * 3 + 16, u'\0');
    UErrorCode status = U_ZERO_ERROR;
    const int32_t n = u_strToLower(reinterpret_cast<UChar*>(dst.data()), static_cast<int32_t>(dst.size()),
                                   reinterpret_cast<const UChar*>(src.data()),
                                   static_cast<int32_t>(src.size()), "", &status);
    if (U_FAILURE(status)) throwInternal("ICU: lower-casing failed ({})", u_errorName(status));
    dst.resize(static_cast<std::size_t>(n));
    return fromUtf16(dst);
}

// transformers' BasicTokenizer(do_lower_case, strip_accents=False, do_split_on_punc=False).tokenize:
// the words of the text, cleaned, NFC-normalised and lower-cased.
std::vector<std::u32string> basicTokenize(const std::u32string& text) {
    std::u32string cleaned;
    cleaned.reserve(text.size());
    for (char32_t c : text) {
        if (c == 0 || c == 0xFFFD) continue;
        const bool whitespace = c == U' ' || c == U'\t' || c == U'\n' || c == U'\r' ||
                                u_charType(static_cast<UChar32>(c)) == U_SPACE_SEPARATOR;
        const bool control = !(c == U'\t' || c == U'\n' || c == U'\r') && isOtherCategory(c);
        if (control) continue;
        if (whitespace) {
            cleaned += U' ';
        } else if (isCjkIdeograph(c)) {
            cleaned += U' ';
            cleaned += c;
            cleaned += U' ';
        } else {
            cleaned += c;
        }
    }
    const std::u32string normalized = nfc(cleaned);
    std::vector<std::u32string> words;
    std::u32string word;
    for (char32_t c : normalized) {
        if (utf8::isPythonSpace(c)) {
            if (!word.empty()) words.push_back(lower(word));
            word.clear();
        } else {
            word += c;
        }
    }
    if (!word.empty()) words.push_back(lower(word));
    return words;
}

bool startsWith(const std::u32string& s, std::size_t at, const char* ascii) {
    for (std::size_t k = 0; ascii[k]; ++k)
        if (at + k >= s.size() || s[at + k] != static_cast<char32_t>(static_cast<unsigned char>(ascii[k])))
            return false;
    return true;
}

// The CLIP pre-tokenisation regex, case-insensitive:
// <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
void regexPieces(const std::u32string& word, std::vector<std::u32string>& out) {
    std::size_t i = 0;
    const std::size_t n = word.size();
    while (i < n) {
        std::size_t len = 0;
        if (startsWith(word, i, kBosToken)) {
            len = 15;
        } else if (startsWith(word, i, kEosToken)) {
            len = 13;
        } else if (word[i] == U'\'' && i + 1 < n) {
            const auto is = [&](std::size_t k, char32_t lowerAscii) {
                if (i + k >= n) return false;
                const char32_t c = word[i + k];
                return c == lowerAscii || c == lowerAscii - 32 || (lowerAscii == U's' && c == 0x17F);
            };
            if (is(1, U's') || is(1, U't') || is(1, U'm') || is(1, U'd'))
                len = 2;
            else if ((is(1, U'r') && is(2, U'e')) || (is(1, U'v') && is(2, U'e')) ||
                     (is(1, U'l') && is(2, U'l')))
                len = 3;
        }
        if (len == 0) {
            const char32_t c = word[i];
            if (isLetter(c)) {
                len = 1;
                while (i + len < n && isLetter(word[i + len])) ++len;
            } else if (isNumber(c)) {
                len = 1;
            } else if (isRegexSpace(c)) {
                ++i;  // not part of any piece
                continue;
            } else {
                len = 1;
                while (i + len < n) {
                    const char32_t d = word[i + len];
                    if (isLetter(d) || isNumber(d) || isRegexSpace(d)) break;
                    ++len;
                }
            }
        }
        out.push_back(word.substr(i, len));
        i += len;
    }
}

std::string readFile(const fs::path& path, const char* what) {
    std::error_code ec;
    if (!fs::exists(path, ec))
        throwBadInput("{}: no such file; the CLIP tokenizer needs {} (from the model's tokenizer/ folder)",
                      path.string(), what);
    // vocab.json is 1.6 MB, merges.txt 0.5 MB; 64 MB is far beyond any CLIP tokenizer.
    return readRegularFile(path, what, 64ull * 1024 * 1024);
}

}  // namespace

struct ClipTokenizer::Data {
    std::unordered_map<std::string, std::int64_t> vocab;
    std::unordered_map<std::string, int> mergeRanks;  // "first second" -> rank
    std::vector<std::string> byteEncoder;
    std::int64_t bosId = kBosId;
    std::int64_t eosId = kEosId;

    int rank(const std::string& a, const std::string& b) const {
        std::string key;
        key.reserve(a.size() + b.size() + 1);
        key += a;
        key += ' ';
        key += b;
        const auto it = mergeRanks.find(key);
        return it == mergeRanks.end() ? INT_MAX : it->second;
    }

    // transformers' CLIPTokenizer.bpe: merge the lowest-ranked adjacent pair everywhere until none is left.
    std::vector<std::string> bpe(const std::string& encodedWord) const {
        std::vector<std::string> symbols;
        for (std::size_t i = 0; i < encodedWord.size();) {
            const std::size_t len = utf8::sequenceLength(static_cast<unsigned char>(encodedWord[i]));
            symbols.push_back(encodedWord.substr(i, len));
            i += len;
        }
        if (symbols.empty()) return symbols;
        symbols.back() += "</w>";
        while (symbols.size() > 1) {
            int best = INT_MAX;
            std::size_t bestAt = 0;
            for (std::size_t i = 0; i + 1 < symbols.size(); ++i) {
                const int r = rank(symbols[i], symbols[i + 1]);
                if (r < best) best = r, bestAt = i;
            }
            if (best == INT_MAX) break;
            const std::string first = symbols[bestAt], second = symbols[bestAt + 1];
            std::vector<std::string> merged;
            merged.reserve(symbols.size());
            for (std::size_t i = 0; i < symbols.size();) {
                if (i + 1 < symbols.size() && symbols[i] == first && symbols[i + 1] == second) {
                    merged.push_back(first + second);
                    i += 2;
                } else {
                    merged.push_back(symbols[i]);
                    ++i;
                }
            }
            symbols = std::move(merged);
        }
        return symbols;
    }
};

ClipTokenizer ClipTokenizer::load(const fs::path& vocabJson, const fs::path& mergesTxt, Variant variant) {
    auto data = std::make_shared<Data>();
    data->byteEncoder = byteEncoderTable();

    // vocab.json: {token: id}
    {
        const std::string text = readFile(vocabJson, "vocab.json");
        const nlohmann::json json = parseJson(text, vocabJson.string());
        if (!json.is_object() || json.empty())
            throwBadInput("{}: expected a JSON object {{token: id}} (the CLIP vocabulary), found {}",
                          vocabJson.string(), json.type_name());
        data->vocab.reserve(json.size());
        for (auto it = json.begin(); it != json.end(); ++it) {
            if (!it->is_number_integer() || it->get<std::int64_t>() < 0)
                throwBadInput("{}: token '{}' has id {}, expected a non-negative integer", vocabJson.string(),
                              cutForMessage(it.key()), describeJson(*it));
            data->vocab.emplace(it.key(), it->get<std::int64_t>());
        }
        for (const char* special : {kBosToken, kEosToken})
            if (!data->vocab.count(special))
                throwBadInput(
                    "{}: has no '{}' token; expected a CLIP vocabulary (49408 tokens ending with "
                    "<|startoftext|> and <|endoftext|>)",
                    vocabJson.string(), special);
        for (int b = 0; b < 256; ++b) {
            const std::string& symbol = data->byteEncoder[static_cast<std::size_t>(b)];
            if (!data->vocab.count(symbol) || !data->vocab.count(symbol + "</w>"))
                throwBadInput(
                    "{}: lacks the byte symbol '{}' (byte {}) or its '</w>' form; expected a byte-level "
                    "CLIP vocabulary",
                    vocabJson.string(), symbol, b);
        }
        data->bosId = data->vocab.at(kBosToken);
        data->eosId = data->vocab.at(kEosToken);
    }

    // merges.txt: "#version: 0.2" then one "first second" pair per line, best first.
    {
        const std::string text = readFile(mergesTxt, "merges.txt");
        std::istringstream in(text);
        std::string line;
        std::size_t lineNo = 0;
        while (std::getline(in, line)) {
            ++lineNo;
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (lineNo == 1 && line.rfind("#", 0) == 0) continue;  // the "#version" header
            if (line.empty()) continue;
            if (data->mergeRanks.size() >= kMaxMerges) break;
            const auto space = line.find(' ');
            if (space == std::string::npos || space == 0 || space + 1 >= line.size() ||
                line.find(' ', space + 1) != std::string::npos)
                throwBadInput(
                    "{}: line {} is '{}', expected two symbols separated by one space (a BPE merge); "
                    "download the model's tokenizer/merges.txt again",
                    mergesTxt.string(), lineNo, line.substr(0, 80));
            const std::string merged = line.substr(0, space) + line.substr(space + 1);
            if (!data->vocab.count(merged))
                throwBadInput(
                    "{}: line {} merges '{}' into '{}', which {} does not contain: vocab.json and "
                    "merges.txt are from different tokenizers",
                    mergesTxt.string(), lineNo, line, merged, vocabJson.filename().string());
            data->mergeRanks.emplace(line, static_cast<int>(data->mergeRanks.size()));
        }
        if (data->mergeRanks.empty())
            throwBadInput("{}: holds no BPE merges; expected '#version: 0.2' and 48894 merge lines",
                          mergesTxt.string());
    }

    ClipTokenizer tok;
    tok.m_data = std::move(data);
    return tok.withVariant(variant);
}

ClipTokenizer ClipTokenizer::withVariant(Variant variant) const {
    ClipTokenizer tok;
    tok.m_data = m_data;
    tok.m_variant = variant;
    tok.m_specialTokens = {kBosToken, kEosToken};
    if (variant == Variant::ClipG) {
        const auto bang = m_data->vocab.find("!");
        if (bang == m_data->vocab.end())
            throwBadInput(
                "CLIP tokenizer: the vocabulary has no '!' token, the pad token of SD3's CLIP-G tokenizer");
        tok.m_padId = static_cast<int>(bang->second);
        tok.m_specialTokens.push_back("!");
    } else {
        tok.m_padId = static_cast<int>(m_data->eosId);
    }
    return tok;
}

std::int64_t ClipTokenizer::tokenToId(const std::string& token) const {
    const auto it = m_data->vocab.find(token);
    return it == m_data->vocab.end() ? -1 : it->second;
}

std::vector<std::string> ClipTokenizer::tokenize(const std::string& text) const {
    std::vector<char32_t> cps;
    std::size_t bad = 0;
    if (!utf8::decode(text, cps, &bad))
        throwBadInput("prompt: not valid UTF-8 (bad byte 0x{:02x} at offset {}); pass UTF-8 text",
                      static_cast<unsigned>(static_cast<unsigned char>(text[bad])), bad);
    const std::u32string u(cps.begin(), cps.end());

    // Special tokens typed in the text are split out first (transformers' added-tokens trie: the leftmost,
    // then longest match).
    std::vector<std::u32string> specials;
    for (const auto& s : m_specialTokens) {
        std::vector<char32_t> v;
        utf8::decode(s, v);
        specials.emplace_back(v.begin(), v.end());
    }
    std::vector<std::string> tokens;
    auto tokenizeSegment = [&](const std::u32string& segment) {
        for (const auto& word : basicTokenize(segment)) {
            std::vector<std::u32string> pieces;
            regexPieces(word, pieces);
            for (const auto& piece : pieces) {
                const std::string pieceUtf8 = utf8::encode(piece);
                if (pieceUtf8 == kBosToken || pieceUtf8 == kEosToken) {
                    tokens.push_back(pieceUtf8);
                    continue;
                }
                std::string encoded;
                for (unsigned char b : pieceUtf8) encoded += m_data->byteEncoder[b];
                for (auto& symbol : m_data->bpe(encoded)) tokens.push_back(std::move(symbol));
            }
        }
    };
    std::size_t start = 0, i = 0;
    while (i < u.size()) {
        std::size_t matched = 0;
        for (const auto& s : specials)
            if (s.size() > matched && u.compare(i, s.size(), s) == 0) matched = s.size();
        if (matched == 0) {
            ++i;
            continue;
        }
        if (i > start) tokenizeSegment(u.substr(start, i - start));
        tokens.push_back(utf8::encode(u.substr(i, matched)));
        i += matched;
        start = i;
    }
    if (start < u.size()) tokenizeSegment(u.substr(start));
    return tokens;
}

std::vector<std::int64_t> ClipTokenizer::tokenIds(const std::string& text) const {
    std::vector<std::int64_t> ids;
    for (const auto& token : tokenize(text)) {
        const auto it = m_data->vocab.find(token);
        ids.push_back(it == m_data->vocab.end() ? m_data->eosId : it->second);  // unk = <|endoftext|>
    }
    return ids;
}

std::vector<std::int64_t> ClipTokenizer::encode(const std::string& text) const {
    std::vector<std::int64_t> ids = tokenIds(text);
    if (ids.size() > static_cast<std::size_t>(kMaxLength - 2)) ids.resize(kMaxLength - 2);
    std::vector<std::int64_t> out;
    out.reserve(kMaxLength);
    out.push_back(m_data->bosId);
    out.insert(out.end(), ids.begin(), ids.end());
    out.push_back(m_data->eosId);
    out.resize(kMaxLength, m_padId);
    return out;
}

at::Tensor ClipTokenizer::encodeBatch(const std::vector<std::string>& prompts) const {
    at::Tensor out = at::empty({static_cast<std::int64_t>(prompts.size()), kMaxLength}, at::kLong);
    auto* p = out.data_ptr<std::int64_t>();
    for (std::size_t b = 0; b < prompts.size(); ++b) {
        const auto ids = encode(prompts[b]);
        std::copy(ids.begin(), ids.end(), p + b * kMaxLength);
    }
    return out;
}

}  // namespace swd
