#include "image/png_text.h"

#include "text/utf8.h"
#include "util/error.h"

#include <zlib.h>

#include <array>
#include <cstring>

namespace swd {

namespace {

constexpr std::array<unsigned char, 8> kSignature = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
// PNG limits a chunk's length to 2^31 - 1.
constexpr std::uint32_t kMaxChunkLength = 0x7FFFFFFFu;

std::uint32_t bigEndian32(const unsigned char* p) {
    return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}

bool isChunkType(const unsigned char* t) {
    for (int i = 0; i < 4; ++i)
        if (!((t[i] >= 'A' && t[i] <= 'Z') || (t[i] >= 'a' && t[i] <= 'z'))) return false;
    return true;
}

enum class Inflated { Ok, Corrupt, TooLarge };

// Inflates a zlib stream into `out`, stopping as soon as it would exceed `limit` bytes.
Inflated inflateBounded(const unsigned char* data, std::size_t size, std::size_t limit, std::string* out) {
    z_stream z{};
    if (inflateInit(&z) != Z_OK) return Inflated::Corrupt;
    z.next_in = const_cast<Bytef*>(data);
    z.avail_in = static_cast<uInt>(size);
    std::array<char, 16384> buffer;
    int rc = Z_OK;
    while (rc == Z_OK) {
        z.next_out = reinterpret_cast<Bytef*>(buffer.data());
        z.avail_out = static_cast<uInt>(buffer.size());
        rc = inflate(&z, Z_NO_FLUSH);
        const std::size_t produced = buffer.size() - z.avail_out;
        if (out->size() + produced > limit) {
            inflateEnd(&z);
            return Inflated::TooLarge;
        }
        out->append(buffer.data(), produced);
    }
    inflateEnd(&z);
    return rc == Z_STREAM_END ? Inflated::Ok : Inflated::Corrupt;
}

// Splits "keyword\0rest" at the first NUL; false when there is none or the keyword is not 1..79 bytes.
bool splitKeyword(const std::string& data, std::string* key, std::size_t* rest) {
    const auto nul = data.find('\0');
    if (nul == std::string::npos || nul == 0 || nul > 79) return false;
    *key = latin1ToUtf8(data.substr(0, nul));
    *rest = nul + 1;
    return true;
}

[[noreturn]] void throwTextTooLarge(const std::string& label, const char* type, const std::string& key,
                                    std::uint64_t limit) {
    throwBadInput(
        "{}: the compressed {} chunk \"{}\" inflates beyond the {} MiB limit for PNG text; refusing to "
        "read it (a zlib bomb?)",
        label, type, key.substr(0, 79), limit >> 20);
}

}  // namespace

bool utf8ToLatin1(const std::string& utf8, std::string* latin1) {
    std::vector<char32_t> cps;
    if (!utf8::decode(utf8, cps)) return false;
    std::string out;
    out.reserve(cps.size());
    for (char32_t c : cps) {
        if (c == 0 || c > 0xFF) return false;
        out += static_cast<char>(static_cast<unsigned char>(c));
    }
    *latin1 = std::move(out);
    return true;
}

std::string latin1ToUtf8(const std::string& latin1) {
    std::string out;
    out.reserve(latin1.size());
    for (unsigned char c : latin1) utf8::append(out, c);
    return out;
}

PngTextInfo readPngTextChunks(std::istream& in, const std::string& label, std::uint64_t maxTextBytes) {
    std::array<unsigned char, 8> head{};
    if (!in.read(reinterpret_cast<char*>(head.data()), 8) || head != kSignature)
        throwBadInput("{}: not a readable PNG file (the PNG signature is missing)", label);
    PngTextInfo info;
    std::uint64_t textBytes = 0;
    bool first = true;
    for (;;) {
        if (!in.read(reinterpret_cast<char*>(head.data()), 8))
            throwBadInput("{}: the PNG file is truncated (it ends before the IEND chunk)", label);
        const std::uint32_t length = bigEndian32(head.data());
        const unsigned char* type = head.data() + 4;
        const std::string typeName(reinterpret_cast<const char*>(type), 4);
        if (!isChunkType(type) || length > kMaxChunkLength)
            throwBadInput("{}: corrupt PNG chunk header (type bytes {:02x} {:02x} {:02x} {:02x}, length {})",
                          label, type[0], type[1], type[2], type[3], length);
        if (first && typeName != "IHDR")
            throwBadInput("{}: the PNG file does not start with an IHDR chunk", label);
        const bool isText = typeName == "tEXt" || typeName == "zTXt" || typeName == "iTXt";
        if (typeName == "IEND") break;
        if (!first && !isText) {
            // Image data and everything else: skipped unread (the CRC too).
            if (!in.seekg(static_cast<std::streamoff>(length) + 4, std::ios::cur))
                throwBadInput("{}: the PNG file is truncated in a {} chunk", label, typeName);
            continue;
        }
        if (isText && textBytes + length > maxTextBytes)
            throwBadInput("{}: the PNG text chunks hold more than {} MiB of text; refusing to read them",
                          label, maxTextBytes >> 20);
        if (!isText && length != 13)
            throwBadInput("{}: the PNG IHDR chunk has length {} (13 expected)", label, length);
        std::string data(length, '\0');
        std::array<unsigned char, 4> crcBytes{};
        if (!in.read(data.data(), length) || !in.read(reinterpret_cast<char*>(crcBytes.data()), 4))
            throwBadInput("{}: the PNG file is truncated in a {} chunk", label, typeName);
        uLong crc = crc32(0L, type, 4);
        crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(length));
        const bool crcOk = crc == bigEndian32(crcBytes.data());
        if (first) {
            if (!crcOk) throwBadInput("{}: the PNG IHDR chunk has a bad CRC (corrupt file)", label);
            const auto* d = reinterpret_cast<const unsigned char*>(data.data());
            info.width = bigEndian32(d);
            info.height = bigEndian32(d + 4);
            if (info.width == 0 || info.height == 0 || info.width > kMaxChunkLength ||
                info.height > kMaxChunkLength)
                throwBadInput("{}: the PNG IHDR gives an invalid size {}x{}", label, info.width, info.height);
            first = false;
            continue;
        }
        if (!crcOk) continue;
        PngTextChunk chunk;
        std::size_t pos = 0;
        if (!splitKeyword(data, &chunk.key, &pos)) continue;
        const std::size_t budget = static_cast<std::size_t>(maxTextBytes - textBytes);
        if (typeName == "tEXt") {
            chunk.value = latin1ToUtf8(data.substr(pos));
        } else if (typeName == "zTXt") {
            // compression method (0 = zlib), then the stream
            if (pos >= data.size() || data[pos] != 0) continue;
            std::string latin1;
            const Inflated r = inflateBounded(reinterpret_cast<const unsigned char*>(data.data()) + pos + 1,
                                              data.size() - pos - 1, budget, &latin1);
            if (r == Inflated::TooLarge) throwTextTooLarge(label, "zTXt", chunk.key, maxTextBytes);
            if (r == Inflated::Corrupt) continue;
            chunk.value = latin1ToUtf8(latin1);
        } else {
            // iTXt: compression flag, method, language tag\0, translated keyword\0, text (UTF-8)
            if (pos + 2 > data.size()) continue;
            const bool compressed = data[pos] != 0;
            if (compressed && data[pos + 1] != 0) continue;
            const auto langEnd = data.find('\0', pos + 2);
            const auto transEnd = langEnd == std::string::npos ? langEnd : data.find('\0', langEnd + 1);
            if (transEnd == std::string::npos) continue;
            if (compressed) {
                const Inflated r =
                    inflateBounded(reinterpret_cast<const unsigned char*>(data.data()) + transEnd + 1,
                                   data.size() - transEnd - 1, budget, &chunk.value);
                if (r == Inflated::TooLarge) throwTextTooLarge(label, "iTXt", chunk.key, maxTextBytes);
                if (r == Inflated::Corrupt) continue;
            } else {
                chunk.value = data.substr(transEnd + 1);
            }
        }
        textBytes += std::max<std::uint64_t>(chunk.value.size(), length);
        if (textBytes > maxTextBytes)
            throwBadInput("{}: the PNG text chunks hold more than {} MiB of text; refusing to read them",
                          label, maxTextBytes >> 20);
        info.texts.push_back(std::move(chunk));
    }
    if (first) throwBadInput("{}: the PNG file does not start with an IHDR chunk", label);
    return info;
}

}  // namespace swd
