// Reading the text chunks of a PNG without decoding its pixels: a walk over the chunks (length, type,
// CRC) that skips image data, keeps at most a bounded amount of text and inflates compressed text with
// the same bound. A 176-byte file claiming 10^6 x 10^6 pixels costs no more than its 176 bytes.
#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

namespace swd {

struct PngTextChunk {
    std::string key;    // the keyword (Latin-1 in the file, UTF-8 here)
    std::string value;  // UTF-8: tEXt/zTXt are converted from Latin-1, iTXt is UTF-8 already
};

struct PngTextInfo {
    std::uint32_t width = 0, height = 0;  // from IHDR
    std::vector<PngTextChunk> texts;      // in file order, before and after the image data
};

// What the walk keeps at most: the sum of all text values, after inflating.
inline constexpr std::uint64_t kMaxPngTextBytes = 16u << 20;

// Walks `in` from the PNG signature to IEND. Throws BadInput naming `label` when the bytes are not a PNG,
// a chunk is truncated or too long, IHDR is missing or malformed, or the text (inflated) would exceed
// `maxTextBytes`. Text chunks with a bad CRC or a malformed layout are skipped, as libpng does.
PngTextInfo readPngTextChunks(std::istream& in, const std::string& label,
                              std::uint64_t maxTextBytes = kMaxPngTextBytes);

// Text for a PNG tEXt chunk: `utf8` as Latin-1 when every character is in U+0001..U+00FF, else false.
bool utf8ToLatin1(const std::string& utf8, std::string* latin1);
std::string latin1ToUtf8(const std::string& latin1);

}  // namespace swd
