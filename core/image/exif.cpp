#include "image/exif.h"

#include "text/utf8.h"
#include "util/error.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace swd {

namespace {

constexpr char kUnicodeCode[8] = {'U', 'N', 'I', 'C', 'O', 'D', 'E', '\0'};
constexpr char kAsciiCode[8] = {'A', 'S', 'C', 'I', 'I', '\0', '\0', '\0'};
constexpr char kExifId[6] = {'E', 'x', 'i', 'f', '\0', '\0'};

constexpr std::uint16_t kTypeAscii = 2, kTypeShort = 3, kTypeLong = 4, kTypeRational = 5, kTypeUndefined = 7;
constexpr std::uint16_t kTagImageDescription = 0x010E, kTagSoftware = 0x0131, kTagExifIfd = 0x8769;
constexpr std::uint16_t kTagExifVersion = 0x9000, kTagUserComment = 0x9286;
constexpr std::size_t kMaxIfdEntries = 4096;

// Reads and writes integers in a TIFF structure's byte order.
struct ByteOrder {
    bool big = true;

    void put16(std::string& out, std::uint16_t v) const {
        out += char(big ? v >> 8 : v & 0xFF);
        out += char(big ? v & 0xFF : v >> 8);
    }
    void put32(std::string& out, std::uint32_t v) const {
        for (int i = 0; i < 4; ++i) out += char(v >> (big ? 24 - 8 * i : 8 * i));
    }
    void set32(std::string& out, std::size_t at, std::uint32_t v) const {
        std::string b;
        put32(b, v);
        out.replace(at, 4, b);
    }
    std::uint16_t get16(const std::string& s, std::size_t at) const {
        const auto a = std::uint8_t(s[at]), b = std::uint8_t(s[at + 1]);
        return big ? std::uint16_t(a << 8 | b) : std::uint16_t(b << 8 | a);
    }
    std::uint32_t get32(const std::string& s, std::size_t at) const {
        std::uint32_t v = 0;
        for (int i = 0; i < 4; ++i) v |= std::uint32_t(std::uint8_t(s[at + i])) << (big ? 24 - 8 * i : 8 * i);
        return v;
    }
};

// One directory entry. `value` holds the value bytes in the structure's byte order; `rawField` entries
// were copied from an existing file and keep their 4-byte value/offset field as it is.
struct IfdEntry {
    std::uint16_t tag = 0, type = 0;
    std::uint32_t count = 0;
    std::string value;
    bool rawField = false;
};

void padToWord(std::string& out) {
    if (out.size() % 2) out += '\0';
}

// Appends an IFD (entries sorted by tag, out-of-line values after it) at the end of `out`, where offsets
// count from the start of `out`. Returns the IFD's offset.
std::uint32_t appendIfd(std::string& out, std::vector<IfdEntry> entries, const ByteOrder& order,
                        std::uint32_t nextIfd) {
    std::sort(entries.begin(), entries.end(),
              [](const IfdEntry& a, const IfdEntry& b) { return a.tag < b.tag; });
    padToWord(out);
    const std::size_t ifd = out.size();
    order.put16(out, static_cast<std::uint16_t>(entries.size()));
    std::vector<std::size_t> fieldAt;
    for (const auto& e : entries) {
        order.put16(out, e.tag);
        order.put16(out, e.type);
        order.put32(out, e.count);
        fieldAt.push_back(out.size());
        if (e.rawField || e.value.size() <= 4)
            out += e.value + std::string(4 - std::min<std::size_t>(4, e.value.size()), '\0');
        else
            out += std::string(4, '\0');
    }
    order.put32(out, nextIfd);
    for (std::size_t i = 0; i < entries.size(); ++i) {
        if (entries[i].rawField || entries[i].value.size() <= 4) continue;
        padToWord(out);
        order.set32(out, fieldAt[i], static_cast<std::uint32_t>(out.size()));
        out += entries[i].value;
    }
    return static_cast<std::uint32_t>(ifd);
}

IfdEntry asciiEntry(std::uint16_t tag, const std::string& text) {
    return {tag, kTypeAscii, static_cast<std::uint32_t>(text.size() + 1), text + '\0', false};
}

IfdEntry userCommentEntry(const std::string& utf8) {
    const std::string raw = encodeUserComment(utf8);
    return {kTagUserComment, kTypeUndefined, static_cast<std::uint32_t>(raw.size()), raw, false};
}

IfdEntry shortEntry(std::uint16_t tag, std::uint16_t v, const ByteOrder& order) {
    std::string b;
    order.put16(b, v);
    return {tag, kTypeShort, 1, b, false};
}

IfdEntry longEntry(std::uint16_t tag, std::uint32_t v, const ByteOrder& order) {
    std::string b;
    order.put32(b, v);
    return {tag, kTypeLong, 1, b, false};
}

IfdEntry rationalEntry(std::uint16_t tag, std::uint32_t numerator, std::uint32_t denominator,
                       const ByteOrder& order) {
    std::string b;
    order.put32(b, numerator);
    order.put32(b, denominator);
    return {tag, kTypeRational, 1, b, false};
}

IfdEntry exifVersionEntry() {
    return {kTagExifVersion, kTypeUndefined, 4, "0230", false};
}

// A parsed IFD of an existing TIFF structure: its entries as raw 12-byte records.
struct ParsedIfd {
    std::vector<IfdEntry> entries;
    std::uint32_t nextIfd = 0;
};

std::optional<ParsedIfd> parseIfd(const std::string& tiff, std::uint32_t at, const ByteOrder& order) {
    if (at < 8 || std::size_t(at) + 2 > tiff.size()) return std::nullopt;
    const std::size_t n = order.get16(tiff, at);
    if (n > kMaxIfdEntries || at + 2 + 12 * n + 4 > tiff.size()) return std::nullopt;
    ParsedIfd ifd;
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t e = at + 2 + 12 * i;
        ifd.entries.push_back({order.get16(tiff, e), order.get16(tiff, e + 2), order.get32(tiff, e + 4),
                               tiff.substr(e + 8, 4), true});
    }
    ifd.nextIfd = order.get32(tiff, at + 2 + 12 * n);
    return ifd;
}

std::optional<ByteOrder> tiffByteOrder(const std::string& tiff) {
    if (tiff.size() < 8) return std::nullopt;
    ByteOrder order;
    if (tiff.compare(0, 2, "MM") == 0)
        order.big = true;
    else if (tiff.compare(0, 2, "II") == 0)
        order.big = false;
    else
        return std::nullopt;
    if (order.get16(tiff, 2) != 42) return std::nullopt;
    return order;
}

// The bytes of a raw entry's value (inline or at its offset), or nullopt when they lie outside `tiff`.
std::optional<std::string> entryBytes(const std::string& tiff, const IfdEntry& e, const ByteOrder& order) {
    static constexpr std::size_t kTypeSize[] = {0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8};
    if (e.type == 0 || e.type >= std::size(kTypeSize)) return std::nullopt;
    const std::uint64_t size = std::uint64_t(e.count) * kTypeSize[e.type];
    if (size <= 4) return e.value.substr(0, size);
    const std::uint32_t offset = order.get32(e.value, 0);
    if (offset + size > tiff.size()) return std::nullopt;
    return tiff.substr(offset, size);
}

std::optional<std::string> userCommentOfTiff(const std::string& tiff) {
    const auto order = tiffByteOrder(tiff);
    if (!order) return std::nullopt;
    const auto ifd0 = parseIfd(tiff, order->get32(tiff, 4), *order);
    if (!ifd0) return std::nullopt;
    for (const auto& e : ifd0->entries) {
        if (e.tag != kTagExifIfd) continue;
        const auto exif = parseIfd(tiff, order->get32(e.value, 0), *order);
        if (!exif) return std::nullopt;
        for (const auto& x : exif->entries)
            if (x.tag == kTagUserComment)
                if (const auto raw = entryBytes(tiff, x, *order)) return decodeUserComment(*raw);
    }
    return std::nullopt;
}

struct JpegSegment {
    unsigned char marker = 0;
    std::size_t begin = 0, payload = 0, end = 0;  // marker (with fill bytes), data after the length, end
};

// The segments before the scan data (SOS), or nullopt when `jpeg` is not a well-formed JPEG header.
std::optional<std::vector<JpegSegment>> jpegHeaderSegments(const std::string& jpeg, std::size_t* scanAt) {
    if (jpeg.size() < 4 || std::uint8_t(jpeg[0]) != 0xFF || std::uint8_t(jpeg[1]) != 0xD8)
        return std::nullopt;
    std::vector<JpegSegment> segments;
    std::size_t pos = 2;
    for (;;) {
        if (pos + 4 > jpeg.size() || std::uint8_t(jpeg[pos]) != 0xFF) return std::nullopt;
        std::size_t m = pos + 1;
        while (m < jpeg.size() && std::uint8_t(jpeg[m]) == 0xFF) ++m;  // fill bytes
        if (m + 3 > jpeg.size()) return std::nullopt;
        const auto marker = std::uint8_t(jpeg[m]);
        if (marker == 0xDA) {
            *scanAt = pos;
            return segments;
        }
        if (marker == 0xD9 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) return std::nullopt;
        const std::size_t length = std::size_t(std::uint8_t(jpeg[m + 1])) << 8 | std::uint8_t(jpeg[m + 2]);
        if (length < 2 || m + 1 + length > jpeg.size()) return std::nullopt;
        segments.push_back({marker, pos, m + 3, m + 1 + length});
        pos = m + 1 + length;
    }
}

std::string jpegSegment(unsigned char marker, const std::string& payload) {
    const std::size_t length = payload.size() + 2;
    std::string out = {char(0xFF), char(marker), char(length >> 8), char(length & 0xFF)};
    return out + payload;
}

void appendUtf16Be(std::string& out, char32_t c) {
    auto unit = [&out](std::uint32_t u) {
        out += char(u >> 8);
        out += char(u & 0xFF);
    };
    if (c < 0x10000) {
        unit(c);
    } else {
        c -= 0x10000;
        unit(0xD800 + (c >> 10));
        unit(0xDC00 + (c & 0x3FF));
    }
}

}  // namespace

std::string encodeUserComment(const std::string& utf8) {
    std::string out(kUnicodeCode, 8);
    out.reserve(8 + 2 * utf8.size());
    std::size_t i = 0;
    std::vector<char32_t> cps;
    while (i < utf8.size()) {
        // Decode one sequence at a time so one bad byte costs one U+FFFD, not the whole text.
        const std::size_t len = std::min(utf8::sequenceLength(std::uint8_t(utf8[i])), utf8.size() - i);
        if (utf8::decode(std::string_view(utf8).substr(i, len), cps) && cps.size() == 1) {
            appendUtf16Be(out, cps[0]);
            i += len;
        } else {
            appendUtf16Be(out, 0xFFFD);
            i += 1;
        }
    }
    return out;
}

std::optional<std::string> decodeUserComment(const std::string& raw) {
    if (raw.size() < 8) return std::nullopt;
    std::string body = raw.substr(8);
    if (raw.compare(0, 8, kUnicodeCode, 8) == 0) {
        if (body.size() % 2) body.pop_back();
        bool big = true;
        std::size_t start = 0;
        if (body.size() >= 2 && std::uint8_t(body[0]) == 0xFE && std::uint8_t(body[1]) == 0xFF) {
            start = 2;
        } else if (body.size() >= 2 && std::uint8_t(body[0]) == 0xFF && std::uint8_t(body[1]) == 0xFE) {
            big = false, start = 2;
        } else {
            // No BOM: piexif writes big-endian; writers that follow the TIFF byte order may not. Mostly
            // Latin text has its zero bytes first in big-endian units.
            std::size_t zeroHigh = 0, zeroLow = 0;
            for (std::size_t i = 0; i + 1 < body.size(); i += 2) {
                zeroHigh += body[i] == 0;
                zeroLow += body[i + 1] == 0;
            }
            big = zeroHigh >= zeroLow;
        }
        std::string out;
        for (std::size_t i = start; i + 1 < body.size(); i += 2) {
            auto unit = [&](std::size_t at) -> std::uint32_t {
                const std::uint32_t a = std::uint8_t(body[at]), b = std::uint8_t(body[at + 1]);
                return big ? (a << 8 | b) : (b << 8 | a);
            };
            std::uint32_t u = unit(i);
            if (u >= 0xD800 && u <= 0xDBFF && i + 3 < body.size()) {
                const std::uint32_t low = unit(i + 2);
                if (low >= 0xDC00 && low <= 0xDFFF) {
                    utf8::append(out, 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00));
                    i += 2;
                    continue;
                }
            }
            utf8::append(out, (u >= 0xD800 && u <= 0xDFFF) ? 0xFFFD : u);
        }
        while (!out.empty() && out.back() == '\0') out.pop_back();
        return out;
    }
    if (raw.compare(0, 8, kAsciiCode, 8) == 0 || raw.compare(0, 8, std::string(8, '\0')) == 0) {
        while (!body.empty() && (body.back() == '\0' || body.back() == ' ')) body.pop_back();
        return body;
    }
    return std::nullopt;
}

std::string buildExifTiff(const ExifFields& fields) {
    const ByteOrder order{true};
    std::string out = {'M', 'M', '\0', '*'};
    order.put32(out, 0);  // IFD0's offset, set below
    std::vector<IfdEntry> ifd0, exif;
    if (fields.width > 0 && fields.height > 0) {
        ifd0.push_back(rationalEntry(0x011A, 72, 1, order));  // XResolution
        ifd0.push_back(rationalEntry(0x011B, 72, 1, order));  // YResolution
        ifd0.push_back(shortEntry(0x0128, 2, order));         // ResolutionUnit: inches
        ifd0.push_back(shortEntry(0x0213, 1, order));         // YCbCrPositioning: centred
        exif.push_back({0x9101, kTypeUndefined, 4, std::string("\1\2\3\0", 4), false});  // Y Cb Cr
        exif.push_back({0xA000, kTypeUndefined, 4, "0100", false});                      // FlashpixVersion
        exif.push_back(shortEntry(0xA001, 1, order));                                    // ColorSpace: sRGB
        exif.push_back(longEntry(0xA002, fields.width, order));
        exif.push_back(longEntry(0xA003, fields.height, order));
    }
    if (!fields.userComment.empty()) exif.push_back(userCommentEntry(fields.userComment));
    if (!exif.empty()) {
        exif.push_back(exifVersionEntry());
        const std::uint32_t at = appendIfd(out, exif, order, 0);
        std::string pointer;
        order.put32(pointer, at);
        ifd0.push_back({kTagExifIfd, kTypeLong, 1, pointer, false});
    }
    if (!fields.imageDescription.empty())
        ifd0.push_back(asciiEntry(kTagImageDescription, fields.imageDescription));
    if (!fields.software.empty()) ifd0.push_back(asciiEntry(kTagSoftware, fields.software));
    order.set32(out, 4, appendIfd(out, ifd0, order, 0));
    return out;
}

std::string buildIptcApp13(const std::string& caption) {
    // IIM dataset: 0x1C, record, dataset number, 2-byte big-endian length, data.
    auto dataset = [](int record, int number, const std::string& data) {
        return std::string{char(0x1C), char(record), char(number), char(data.size() >> 8),
                           char(data.size() & 0xFF)} +
               data;
    };
    std::string text = caption.substr(0, 2000);
    // Do not cut a UTF-8 sequence: drop continuation bytes and the lead byte they belong to.
    if (caption.size() > 2000) {
        while (!text.empty() && (std::uint8_t(text.back()) & 0xC0) == 0x80) text.pop_back();
        if (!text.empty() && std::uint8_t(text.back()) >= 0xC0) text.pop_back();
    }
    const std::string iptc =
        dataset(1, 90, "\x1B%G") + dataset(2, 0, std::string("\x00\x04", 2)) + dataset(2, 120, text);
    // Photoshop image resource: "8BIM", id 0x0404, empty Pascal name padded to even, size, data padded.
    std::string out =
        std::string("Photoshop 3.0") + '\0' + "8BIM" + std::string{char(0x04), char(0x04), 0, 0};
    ByteOrder{true}.put32(out, static_cast<std::uint32_t>(iptc.size()));
    out += iptc;
    padToWord(out);
    return out;
}

std::string replaceJpegMetadata(const std::string& jpeg, const std::string& exifTiff,
                                const std::string& app13, const std::string& label) {
    std::size_t scanAt = 0;
    const auto segments = jpegHeaderSegments(jpeg, &scanAt);
    if (!segments) throwBadInput("{}: the written JPEG stream is malformed; cannot add its metadata", label);
    constexpr std::size_t kMaxPayload = 65533;
    if (exifTiff.size() + 6 > kMaxPayload || app13.size() > kMaxPayload)
        throwBadInput(
            "{}: the image metadata ({} bytes of EXIF) does not fit in a JPEG's 64 KiB segment; shorten "
            "the prompt or write PNG",
            label, exifTiff.size());
    std::string out = jpeg.substr(0, 2);
    std::string rest;
    for (const auto& s : *segments) {
        if (s.marker == 0xE0)
            out += jpeg.substr(s.begin, s.end - s.begin);
        else if (s.marker != 0xE1 && s.marker != 0xED && s.marker != 0xFE)
            rest += jpeg.substr(s.begin, s.end - s.begin);
    }
    if (!exifTiff.empty()) out += jpegSegment(0xE1, std::string(kExifId, 6) + exifTiff);
    if (!app13.empty()) out += jpegSegment(0xED, app13);
    return out + rest + jpeg.substr(scanAt);
}

std::string addTiffUserComment(const std::string& tiff, const std::string& utf8, const std::string& label) {
    const auto order = tiffByteOrder(tiff);
    if (!order) throwBadInput("{}: the written TIFF file has no valid TIFF header", label);
    const auto ifd0 = parseIfd(tiff, order->get32(tiff, 4), *order);
    if (!ifd0) throwBadInput("{}: the written TIFF file has a malformed first directory", label);
    std::vector<IfdEntry> exifEntries = {userCommentEntry(utf8)};
    std::vector<IfdEntry> ifd0Entries;
    for (const auto& e : ifd0->entries) {
        if (e.tag != kTagExifIfd) {
            ifd0Entries.push_back(e);
            continue;
        }
        // Keep what the writer put in its Exif IFD, but our UserComment.
        const auto exif = parseIfd(tiff, order->get32(e.value, 0), *order);
        if (!exif) throwBadInput("{}: the written TIFF file has a malformed Exif directory", label);
        for (const auto& x : exif->entries)
            if (x.tag != kTagUserComment) exifEntries.push_back(x);
    }
    if (std::none_of(exifEntries.begin(), exifEntries.end(),
                     [](const IfdEntry& e) { return e.tag == kTagExifVersion; }))
        exifEntries.push_back(exifVersionEntry());
    std::string out = tiff;
    if (out.size() + 64 + 2 * utf8.size() + 12 * (ifd0Entries.size() + exifEntries.size()) > 0xFFFFFFF0u)
        throwBadInput("{}: the TIFF file is too large for classic TIFF offsets", label);
    const std::uint32_t exif = appendIfd(out, exifEntries, *order, 0);
    std::string pointer;
    order->put32(pointer, exif);
    ifd0Entries.push_back({kTagExifIfd, kTypeLong, 1, pointer, true});
    order->set32(out, 4, appendIfd(out, ifd0Entries, *order, ifd0->nextIfd));
    return out;
}

std::optional<std::string> findExifUserComment(const std::string& bytes) {
    if (tiffByteOrder(bytes)) return userCommentOfTiff(bytes);
    std::size_t scanAt = 0;
    const auto segments = jpegHeaderSegments(bytes, &scanAt);
    if (!segments) return std::nullopt;
    for (const auto& s : *segments) {
        if (s.marker != 0xE1 || s.end - s.payload < 6 || bytes.compare(s.payload, 6, kExifId, 6) != 0)
            continue;
        if (auto text = userCommentOfTiff(bytes.substr(s.payload + 6, s.end - s.payload - 6))) return text;
    }
    return std::nullopt;
}

}  // namespace swd
