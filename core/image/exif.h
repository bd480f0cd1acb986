// EXIF metadata as A1111 (through piexif) writes it, so A1111's read_info_from_image, civitai and
// exiftool find the generation parameters in JPEG and TIFF files: the text goes into the Exif IFD's
// UserComment (tag 0x9286, UNDEFINED) as the 8-byte code "UNICODE\0" followed by UTF-16BE (piexif's
// "unicode" encoding, which piexif also decodes as UTF-16BE whatever the TIFF byte order).
//
// Written by hand because OpenImageIO 2.4 drops Exif:UserComment on write and Debian's libexif has no -dev
// package on our build machines; the structures are small: a TIFF header, IFD0 and one Exif IFD.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace swd {

struct ExifFields {
    std::string imageDescription;  // IFD0 0x010E, ASCII (7-bit: callers escape anything else)
    std::string software;          // IFD0 0x0131, ASCII
    std::string userComment;       // Exif IFD 0x9286, UTF-8 here, "UNICODE\0" + UTF-16BE in the file
    // When set, the tags EXIF 2.3 requires of a JPEG are added too (resolution 72 dpi, sRGB, Y Cb Cr,
    // the pixel size), so that validators accept the block.
    std::uint32_t width = 0, height = 0;
};

// The UserComment value bytes for `utf8`: "UNICODE\0" then UTF-16BE (invalid UTF-8 becomes U+FFFD).
std::string encodeUserComment(const std::string& utf8);
// The text of a UserComment value: "UNICODE\0" (UTF-16, big-endian unless a BOM says otherwise),
// "ASCII\0\0\0" and the undefined code (UTF-8 or ASCII) are decoded; nullopt for other codes (JIS).
std::optional<std::string> decodeUserComment(const std::string& raw);

// A big-endian TIFF structure ("MM\0*", IFD0, Exif IFD) holding the non-empty fields: the payload of
// a JPEG APP1 segment after its "Exif\0\0" identifier.
std::string buildExifTiff(const ExifFields& fields);

// The APP13 payload ("Photoshop 3.0" resource 0x0404) with IPTC 1:90 CodedCharacterSet = ESC % G (UTF-8)
// and 2:120 Caption-Abstract = `caption`, cut at a character boundary to IPTC's 2000 bytes.
std::string buildIptcApp13(const std::string& caption);

// `jpeg` (a complete JPEG stream) with its APP1 (Exif, XMP), APP13 and COM segments replaced by the
// given APP1 Exif and APP13 payloads (empty: none), placed after SOI and any APP0. Throws BadInput
// naming `label` when the stream is not a JPEG.
std::string replaceJpegMetadata(const std::string& jpeg, const std::string& exifTiff,
                                const std::string& app13, const std::string& label);

// `tiff` (a complete classic TIFF file, either byte order) with `utf8` added as Exif UserComment of its
// first image: the Exif IFD and a copy of IFD0 that points to it are appended, the header is repointed.
std::string addTiffUserComment(const std::string& tiff, const std::string& utf8, const std::string& label);

// The Exif UserComment of a JPEG or TIFF file's bytes (the decoded text), or nullopt when there is none.
// Never throws: damaged structures just give nullopt.
std::optional<std::string> findExifUserComment(const std::string& fileBytes);

}  // namespace swd
