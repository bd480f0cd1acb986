// Writing generated images with the metadata that restores the run, and reading it back.
// PNG goes through libpng: text chunks are tEXt when ASCII and iTXt (UTF-8) otherwise, so non-ASCII
// prompts survive in PIL / A1111 / Qt readers (OpenImageIO writes Latin-1 tEXt). JPEG, TIFF and EXR go
// through OpenImageIO.
#pragma once

#include "image/image.h"

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

// The metadata of an image written by writeImage (or by A1111: `parameters` only). Throws BadInput
// when the file cannot be read.
ImageMetadata readImageMetadata(const std::filesystem::path& path);

// The pixels of an image file (any format OpenImageIO reads), as 8-bit RGB.
RgbImage8 readImageRgb8(const std::filesystem::path& path);

// A path in `folder` for a new image: "<prefix>-<counter>.<ext>" with the first unused counter.
std::filesystem::path nextImagePath(const std::filesystem::path& folder, const std::string& prefix,
                                    ImageFormat format);

}  // namespace swd
