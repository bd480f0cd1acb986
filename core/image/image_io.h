// Writing generated images with the metadata that restores the run, and reading it back.
// PNG goes through libpng: text chunks are tEXt when the text is Latin-1 (as A1111/PIL write them) and
// iTXt (UTF-8) otherwise; they are read back by a chunk walk that never decodes pixels (png_text.h).
// JPEG, TIFF and EXR pixels go through OpenImageIO. JPEG and TIFF carry the A1111 text in EXIF
// UserComment as A1111 writes it (exif.h) and our JSON record in ImageDescription; JPEG also has a
// UTF-8 IPTC caption. EXR holds linear values (the engine's sRGB decoded), tagged linear Rec.709.
#pragma once

#include "image/image.h"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace swd {

enum class ImageFormat { Png8, Png16, Jpeg, Tiff, Exr };

const char* imageFormatExtension(ImageFormat format);  // ".png", ".jpg", ".tif", ".exr"
// From a file name's extension (".png" is 8-bit PNG); nullopt for an unsupported extension.
std::optional<ImageFormat> imageFormatForPath(const std::filesystem::path& path);
std::optional<ImageFormat> imageFormatFromId(const std::string& id);  // "png", "png16", "jpg", "tiff", "exr"

// The text an image carries. `parameters` is the A1111-compatible summary (prompt, "Negative prompt:",
// "Steps: ..., Sampler: ..."); `request` is SwD Studio's JSON of the whole request.
struct ImageMetadata {
    std::string parameters;
    std::string request;
    std::string software;
};

// Key of the JSON chunk / attribute.
inline constexpr const char* kRequestMetadataKey = "swd-studio";

struct WriteOptions {
    ImageFormat format = ImageFormat::Png8;
    int jpegQuality = 95;
};

// Writes `image` to `path`, or — when `path` exists — to the first free "stem-1.ext", "stem-2.ext", ...
// (never overwrites). The file appears atomically (written under a temporary name, then linked into
// place). Returns the path written. Throws BadInput with the path on any failure.
std::filesystem::path writeImage(const std::filesystem::path& path, const RgbImageF& image,
                                 const ImageMetadata& metadata, const WriteOptions& options = {});

// Removes the temporary files writeImage leaves when a process dies while writing: regular files named
// ".swd-<stem>.tmp<8 hex digits><image extension>" older than `olderThan` (so a running writer's file is
// never touched). Nothing else is removed. Returns how many were removed.
int removeStaleTemporaryImages(const std::filesystem::path& folder,
                               std::chrono::seconds olderThan = std::chrono::minutes(10));

// The metadata of an image written by writeImage (or by A1111: `parameters` only, from PNG text or
// JPEG/TIFF EXIF UserComment). Reads PNG text without decoding pixels, bounded to 16 MiB of text.
// Throws BadInput when the file cannot be read.
ImageMetadata readImageMetadata(const std::filesystem::path& path);

// Images larger than this are refused by the readers before any pixel buffer is allocated.
inline constexpr std::int64_t kMaxImageSide = 16384;
inline constexpr std::int64_t kMaxImagePixels = std::int64_t(1) << 28;

// The pixels of an image file (any format OpenImageIO reads), as 8-bit RGB (linear EXR data is encoded
// to sRGB). Throws BadInput naming the file for anything over kMaxImageSide / kMaxImagePixels.
RgbImage8 readImageRgb8(const std::filesystem::path& path);

// A path in `folder` for a new image: "<prefix>-<counter>.<ext>" with the first unused counter.
std::filesystem::path nextImagePath(const std::filesystem::path& folder, const std::string& prefix,
                                    ImageFormat format);

}  // namespace swd
