#include "image/image_io.h"

#include "image/exif.h"
#include "image/png_text.h"
#include "util/error.h"
#include "util/json_reader.h"

#include <OpenImageIO/imageio.h>
#include <fmt/format.h>
#include <png.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <regex>

namespace swd {

namespace fs = std::filesystem;

RgbImage8 RgbImageF::toRgb8() const {
    RgbImage8 out;
    out.width = width;
    out.height = height;
    out.data.resize(data.size());
    for (std::size_t i = 0; i < data.size(); ++i) {
        const float v = std::clamp(data[i], 0.0f, 1.0f);
        out.data[i] = static_cast<std::uint8_t>(std::lround(v * 255.0f));
    }
    return out;
}

RgbImageF toFloatImage(const RgbImage8& image) {
    RgbImageF out;
    out.width = image.width;
    out.height = image.height;
    out.data.resize(image.data.size());
    for (std::size_t i = 0; i < image.data.size(); ++i)
        out.data[i] = static_cast<float>(image.data[i]) / 255.0f;
    return out;
}

const char* imageFormatExtension(ImageFormat format) {
    switch (format) {
        case ImageFormat::Png8:
        case ImageFormat::Png16:
            return ".png";
        case ImageFormat::Jpeg:
            return ".jpg";
        case ImageFormat::Tiff:
            return ".tif";
        case ImageFormat::Exr:
            return ".exr";
    }
    return ".png";
}

std::optional<ImageFormat> imageFormatForPath(const fs::path& path) {
    std::string ext = path.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    if (ext == ".png") return ImageFormat::Png8;
    if (ext == ".jpg" || ext == ".jpeg") return ImageFormat::Jpeg;
    if (ext == ".tif" || ext == ".tiff") return ImageFormat::Tiff;
    if (ext == ".exr") return ImageFormat::Exr;
    return std::nullopt;
}

std::optional<ImageFormat> imageFormatFromId(const std::string& id) {
    if (id == "png" || id == "png8") return ImageFormat::Png8;
    if (id == "png16") return ImageFormat::Png16;
    if (id == "jpg" || id == "jpeg") return ImageFormat::Jpeg;
    if (id == "tif" || id == "tiff") return ImageFormat::Tiff;
    if (id == "exr") return ImageFormat::Exr;
    return std::nullopt;
}

namespace {

constexpr const char* kParametersJsonKey = "a1111_parameters";
// What fits in one JPEG APP1 segment after its "Exif\0\0" identifier.
constexpr std::size_t kMaxJpegExifBytes = 65533 - 6;
// Files larger than this are not searched for EXIF metadata (nor rewritten to add it).
constexpr std::uintmax_t kMaxMetadataFileBytes = std::uintmax_t(1) << 30;

// A text chunk to write: tEXt holds Latin-1, iTXt UTF-8.
struct PngText {
    std::string key, value;
    bool latin1 = false;
};

void pngError(png_structp png, png_const_charp message) {
    auto* buffer = static_cast<char*>(png_get_error_ptr(png));
    std::snprintf(buffer, 256, "%s", message);
    png_longjmp(png, 1);
}

void pngWarning(png_structp, png_const_charp) {}

// Plain C-style: no object with a destructor may live across setjmp/longjmp.
bool writePngFile(FILE* file, const RgbImageF& image, bool sixteen, const std::vector<PngText>& texts,
                  png_text* chunks, const std::vector<std::vector<png_byte>>& rows, char* error) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, error, pngError, pngWarning);
    if (!png) return false;
    png_infop info = png_create_info_struct(png);
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, info ? &info : nullptr);
        return false;
    }
    png_init_io(png, file);
    png_set_IHDR(png, info, static_cast<png_uint_32>(image.width), static_cast<png_uint_32>(image.height),
                 sixteen ? 16 : 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    for (std::size_t i = 0; i < texts.size(); ++i) {
        std::memset(&chunks[i], 0, sizeof(png_text));
        // Latin-1 text as tEXt (what A1111/PIL write and every reader knows), anything else as UTF-8 iTXt.
        chunks[i].compression = texts[i].latin1 ? PNG_TEXT_COMPRESSION_NONE : PNG_ITXT_COMPRESSION_NONE;
        chunks[i].key = const_cast<char*>(texts[i].key.c_str());
        chunks[i].text = const_cast<char*>(texts[i].value.c_str());
        if (chunks[i].compression == PNG_TEXT_COMPRESSION_NONE)
            chunks[i].text_length = texts[i].value.size();
        else
            chunks[i].itxt_length = texts[i].value.size();
        chunks[i].lang = nullptr;
        chunks[i].lang_key = nullptr;
    }
    if (!texts.empty()) png_set_text(png, info, chunks, static_cast<int>(texts.size()));
    png_write_info(png, info);
    for (const auto& row : rows) png_write_row(png, row.data());
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return true;
}

void writePng(const fs::path& path, const RgbImageF& image, bool sixteen, const ImageMetadata& metadata) {
    std::vector<PngText> texts;
    auto add = [&texts](const char* key, const std::string& utf8) {
        if (utf8.empty()) return;
        PngText t{key, utf8, false};
        t.latin1 = utf8ToLatin1(utf8, &t.value);
        texts.push_back(std::move(t));
    };
    add("parameters", metadata.parameters);
    add(kRequestMetadataKey, metadata.request);
    add("Software", metadata.software);
    const std::size_t rowValues = static_cast<std::size_t>(image.width) * 3;
    std::vector<std::vector<png_byte>> rows(static_cast<std::size_t>(image.height));
    for (int y = 0; y < image.height; ++y) {
        auto& row = rows[static_cast<std::size_t>(y)];
        row.resize(rowValues * (sixteen ? 2 : 1));
        const float* src = image.data.data() + static_cast<std::size_t>(y) * rowValues;
        for (std::size_t i = 0; i < rowValues; ++i) {
            const float v = std::clamp(src[i], 0.0f, 1.0f);
            if (sixteen) {
                const auto q = static_cast<std::uint16_t>(std::lround(v * 65535.0f));
                row[2 * i] = static_cast<png_byte>(q >> 8);  // PNG is big-endian
                row[2 * i + 1] = static_cast<png_byte>(q & 0xFF);
            } else {
                row[i] = static_cast<png_byte>(std::lround(v * 255.0f));
            }
        }
    }
    FILE* file = std::fopen(path.c_str(), "wb");
    if (!file) throwBadInput("{}: cannot create the file ({})", path.string(), std::strerror(errno));
    char error[256] = "unknown libpng error";
    std::vector<png_text> chunks(texts.size() + 1);
    const bool ok = writePngFile(file, image, sixteen, texts, chunks.data(), rows, error);
    const bool closed = std::fclose(file) == 0;
    if (!ok || !closed)
        throwBadInput("{}: writing the PNG failed: {}", path.string(), ok ? "disk full?" : error);
}

// The file's first `maxBytes` bytes (all of it when `whole` and it is larger: BadInput).
std::string readWholeFile(const fs::path& path, std::uintmax_t maxBytes, bool whole = false) {
    std::ifstream in(path, std::ios::binary);
    std::error_code ec;
    const std::uintmax_t size = fs::file_size(path, ec);
    if (!in || ec) throwBadInput("{}: cannot read the file ({})", path.string(), std::strerror(errno));
    if (whole && size > maxBytes)
        throwBadInput("{}: the file is larger than {} MiB; cannot add its metadata", path.string(),
                      maxBytes >> 20);
    std::string bytes(static_cast<std::size_t>(std::min(size, maxBytes)), '\0');
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    bytes.resize(static_cast<std::size_t>(in.gcount()));
    return bytes;
}

void writeWholeFile(const fs::path& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) throwBadInput("{}: writing the image metadata failed (disk full?)", path.string());
}

// The record we read back: the request JSON with the A1111 text inside, escaped to 7-bit ASCII so that
// it is a valid EXIF/TIFF ASCII value (the JSON still decodes to the same UTF-8).
std::string descriptionJson(const ImageMetadata& metadata, bool withParameters = true) {
    nlohmann::json j = nlohmann::json::object();
    if (!metadata.request.empty()) {
        try {
            j = nlohmann::json::parse(metadata.request);
        } catch (const nlohmann::json::exception&) {
            j = nlohmann::json::object({{"request", metadata.request}});
        }
    }
    if (withParameters && !metadata.parameters.empty()) j[kParametersJsonKey] = metadata.parameters;
    if (j.empty()) return {};
    return j.dump(-1, ' ', true);
}

float srgbToLinear(float v) {
    v = std::clamp(v, 0.0f, 1.0f);
    return v <= 0.04045f ? v / 12.92f : std::pow((v + 0.055f) / 1.055f, 2.4f);
}

float linearToSrgb(float v) {
    v = std::clamp(v, 0.0f, 1.0f);
    return v <= 0.0031308f ? v * 12.92f : 1.055f * std::pow(v, 1.0f / 2.4f) - 0.055f;
}

void writeWithOiio(const fs::path& path, const RgbImageF& image, ImageFormat format,
                   const ImageMetadata& metadata, int jpegQuality) {
    auto out = OIIO::ImageOutput::create(path.string());
    if (!out) throwBadInput("{}: OpenImageIO cannot write this format: {}", path.string(), OIIO::geterror());
    const OIIO::TypeDesc type = format == ImageFormat::Exr    ? OIIO::TypeDesc::HALF
                                : format == ImageFormat::Tiff ? OIIO::TypeDesc::UINT16
                                                              : OIIO::TypeDesc::UINT8;
    OIIO::ImageSpec spec(image.width, image.height, 3, type);
    const float* pixels = image.data.data();
    std::vector<float> linear;
    if (format == ImageFormat::Jpeg) {
        // OpenImageIO writes the pixels only: it would drop Exif:UserComment and end its COM segment in a
        // NUL byte, so the metadata segments are put in afterwards (image/exif.h).
        spec.attribute("CompressionQuality", jpegQuality);
    } else if (format == ImageFormat::Tiff) {
        const std::string description = descriptionJson(metadata);
        if (!description.empty()) spec.attribute("ImageDescription", description);
        if (!metadata.software.empty()) spec.attribute("Software", metadata.software);
    } else {
        // EXR holds scene-linear values: decode the engine's sRGB and say so (Rec.709 primaries, D65).
        spec.attribute("compression", "zip");
        spec.attribute("oiio:ColorSpace", "Linear");
        static const float kRec709[8] = {0.64f, 0.33f, 0.30f, 0.60f, 0.15f, 0.06f, 0.3127f, 0.3290f};
        spec.attribute("chromaticities", OIIO::TypeDesc(OIIO::TypeDesc::FLOAT, 8), kRec709);
        // EXR headers keep any string attribute.
        if (!metadata.parameters.empty()) spec.attribute("parameters", metadata.parameters);
        if (!metadata.request.empty()) spec.attribute(kRequestMetadataKey, metadata.request);
        if (!metadata.software.empty()) spec.attribute("Software", metadata.software);
        linear.resize(image.data.size());
        std::transform(image.data.begin(), image.data.end(), linear.begin(), srgbToLinear);
        pixels = linear.data();
    }
    if (!out->open(path.string(), spec) || !out->write_image(OIIO::TypeDesc::FLOAT, pixels) || !out->close())
        throwBadInput("{}: writing the image failed: {}", path.string(), out->geterror());
    out.reset();
    if (format == ImageFormat::Jpeg) {
        // As A1111 writes JPEG: the parameters in EXIF UserComment; besides them our record in
        // ImageDescription and the parameters as a UTF-8-marked IPTC caption. No COM segment.
        ExifFields exif{descriptionJson(metadata), metadata.software, metadata.parameters,
                        static_cast<std::uint32_t>(image.width), static_cast<std::uint32_t>(image.height)};
        const std::string app13 = metadata.parameters.empty() ? "" : buildIptcApp13(metadata.parameters);
        std::string exifTiff = buildExifTiff(exif);
        if (exifTiff.size() > kMaxJpegExifBytes) {
            // A long prompt: the record leaves out its copy of the parameters (read from UserComment then).
            exif.imageDescription = descriptionJson(metadata, false);
            exifTiff = buildExifTiff(exif);
        }
        writeWholeFile(path, replaceJpegMetadata(readWholeFile(path, kMaxMetadataFileBytes, true), exifTiff,
                                                 app13, path.string()));
    } else if (format == ImageFormat::Tiff && !metadata.parameters.empty()) {
        // OpenImageIO drops Exif:UserComment here too: an Exif IFD holding it is appended to its TIFF.
        writeWholeFile(path, addTiffUserComment(readWholeFile(path, kMaxMetadataFileBytes, true),
                                                metadata.parameters, path.string()));
    }
}

constexpr const char* kTemporaryPrefix = ".swd-";

fs::path temporarySibling(const fs::path& path) {
    std::random_device rd;
    return path.parent_path() / fmt::format("{}{}.tmp{:08x}{}", kTemporaryPrefix, path.stem().string(), rd(),
                                            path.extension().string());
}

// Removes the temporary file unless it was handed over.
struct TemporaryFile {
    fs::path path;
    ~TemporaryFile() {
        std::error_code ec;
        if (!path.empty()) fs::remove(path, ec);
    }
};

// Width and height are checked before any pixel buffer is allocated.
void checkImageSize(const fs::path& path, std::int64_t width, std::int64_t height, int channels) {
    if (width <= 0 || height <= 0 || channels <= 0)
        throwBadInput("{}: the image has an invalid size {}x{} with {} channels", path.string(), width,
                      height, channels);
    if (width > kMaxImageSide || height > kMaxImageSide || width * height > kMaxImagePixels || channels > 16)
        throwBadInput(
            "{}: the image is {}x{} pixels ({} channels); images larger than {}x{} ({} megapixels) are "
            "refused",
            path.string(), width, height, channels, kMaxImageSide, kMaxImageSide, kMaxImagePixels >> 20);
}

}  // namespace

fs::path writeImage(const fs::path& path, const RgbImageF& image, const ImageMetadata& metadata,
                    const WriteOptions& options) {
    if (image.empty() || image.data.size() != static_cast<std::size_t>(image.width) * image.height * 3)
        throwInternal("writeImage({}): the image buffer is empty or has the wrong size", path.string());
    std::error_code ec;
    const fs::path folder = path.parent_path().empty() ? fs::path(".") : path.parent_path();
    fs::create_directories(folder, ec);
    if (!fs::is_directory(folder, ec))
        throwBadInput("{}: the output folder does not exist and cannot be created", folder.string());

    TemporaryFile tmp{temporarySibling(path)};
    if (options.format == ImageFormat::Png8 || options.format == ImageFormat::Png16)
        writePng(tmp.path, image, options.format == ImageFormat::Png16, metadata);
    else
        writeWithOiio(tmp.path, image, options.format, metadata, options.jpegQuality);
    // link() never replaces an existing file: the first free name wins, even against another writer.
    const std::string stem = path.stem().string(), ext = path.extension().string();
    for (int n = 0; n < 100000; ++n) {
        const fs::path candidate = n == 0 ? path : path.parent_path() / fmt::format("{}-{}{}", stem, n, ext);
        if (::link(tmp.path.c_str(), candidate.c_str()) == 0) return candidate;  // tmp's name goes
        if (errno == EEXIST) continue;
        // File systems without hard links: fall back to a checked rename.
        const int err = errno;
        if (!fs::exists(candidate, ec)) {
            fs::rename(tmp.path, candidate, ec);
            if (!ec) {
                tmp.path.clear();
                return candidate;
            }
        }
        throwBadInput("{}: cannot move the written image into place ({})", candidate.string(),
                      std::strerror(err));
    }
    throwBadInput("{}: no free file name left", path.string());
}

int removeStaleTemporaryImages(const fs::path& folder, std::chrono::seconds olderThan) {
    // Exactly the names temporarySibling() makes: ".swd-<stem>.tmp<8 hex digits><an image extension>".
    static const std::regex pattern(R"(^\.swd-.*\.tmp[0-9a-f]{8}\.[A-Za-z]+$)");
    std::error_code ec;
    const auto now = fs::file_time_type::clock::now();
    // Collected first: removing entries while a directory is being read may skip others.
    std::vector<fs::path> stale;
    for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.rfind(kTemporaryPrefix, 0) != 0 || !std::regex_match(name, pattern) ||
            !imageFormatForPath(it->path()))
            continue;
        std::error_code fileEc;
        if (it->is_symlink(fileEc) || !it->is_regular_file(fileEc)) continue;
        const auto written = fs::last_write_time(it->path(), fileEc);
        if (!fileEc && now - written >= olderThan) stale.push_back(it->path());
    }
    int removed = 0;
    for (const auto& p : stale)
        if (fs::remove(p, ec)) ++removed;
    return removed;
}

ImageMetadata readImageMetadata(const fs::path& path) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) throwBadInput("{}: no such image file", path.string());
    ImageMetadata meta;
    const auto format = imageFormatForPath(path);
    if (format == ImageFormat::Png8) {
        std::ifstream in(path, std::ios::binary);
        if (!in) throwBadInput("{}: cannot open ({})", path.string(), std::strerror(errno));
        for (const auto& t : readPngTextChunks(in, path.string()).texts) {
            if (t.key == "parameters")
                meta.parameters = t.value;
            else if (t.key == kRequestMetadataKey)
                meta.request = t.value;
            else if (t.key == "Software")
                meta.software = t.value;
        }
        return meta;
    }
    auto in = OIIO::ImageInput::open(path.string());
    if (!in) throwBadInput("{}: not a readable image: {}", path.string(), OIIO::geterror());
    const OIIO::ImageSpec& spec = in->spec();
    meta.request = spec.get_string_attribute(kRequestMetadataKey);
    meta.parameters = spec.get_string_attribute("parameters");
    meta.software = spec.get_string_attribute("Software");
    const std::string description = spec.get_string_attribute("ImageDescription");
    in->close();
    if (meta.request.empty() && !description.empty() && description.front() == '{') {
        try {
            // Bounded like every JSON from outside: a description nested 60k deep must not reach dump().
            nlohmann::json j = parseJson(description, path.string() + " (ImageDescription)");
            if (j.is_object() && j.contains(kParametersJsonKey) && j[kParametersJsonKey].is_string()) {
                meta.parameters = j[kParametersJsonKey].get<std::string>();
                j.erase(kParametersJsonKey);
            }
            if (!j.empty()) meta.request = j.dump();
        } catch (const std::exception&) {
            // someone else's description: not a request
        }
    }
    if (meta.parameters.empty() && (format == ImageFormat::Jpeg || format == ImageFormat::Tiff)) {
        // A1111's JPEG (and other writers' TIFF): the parameters are the EXIF UserComment.
        // JPEG metadata precedes the scan data; a TIFF's directories may be anywhere.
        const std::uintmax_t limit = format == ImageFormat::Jpeg ? (4u << 20) : (256u << 20);
        if (auto comment = findExifUserComment(readWholeFile(path, limit)))
            meta.parameters = std::move(*comment);
    }
    return meta;
}

RgbImage8 readImageRgb8(const fs::path& path) {
    auto in = OIIO::ImageInput::open(path.string());
    if (!in) throwBadInput("{}: not a readable image: {}", path.string(), OIIO::geterror());
    const OIIO::ImageSpec& spec = in->spec();
    checkImageSize(path, spec.width, spec.height, spec.nchannels);
    RgbImage8 img;
    img.width = spec.width;
    img.height = spec.height;
    const std::size_t pixels = static_cast<std::size_t>(spec.width) * spec.height;
    img.data.resize(pixels * 3);
    const int channels = std::min(spec.nchannels, 3);
    auto channelOf = [&](std::size_t p, int c) {
        return p * spec.nchannels + static_cast<std::size_t>(std::min(c, channels - 1));
    };
    const std::string colorSpace = spec.get_string_attribute("oiio:ColorSpace");
    const bool linear = imageFormatForPath(path) == ImageFormat::Exr || colorSpace == "Linear" ||
                        colorSpace == "linear" || colorSpace == "lin_rec709";
    if (linear) {
        // Scene-linear data (EXR): encode to sRGB for display, as the engine's images are.
        std::vector<float> all(pixels * spec.nchannels);
        if (!in->read_image(0, 0, 0, spec.nchannels, OIIO::TypeDesc::FLOAT, all.data()))
            throwBadInput("{}: reading the pixels failed: {}", path.string(), in->geterror());
        for (std::size_t p = 0; p < pixels; ++p)
            for (int c = 0; c < 3; ++c)
                img.data[p * 3 + c] =
                    static_cast<std::uint8_t>(std::lround(linearToSrgb(all[channelOf(p, c)]) * 255.0f));
    } else {
        std::vector<std::uint8_t> all(pixels * spec.nchannels);
        if (!in->read_image(0, 0, 0, spec.nchannels, OIIO::TypeDesc::UINT8, all.data()))
            throwBadInput("{}: reading the pixels failed: {}", path.string(), in->geterror());
        for (std::size_t p = 0; p < pixels; ++p)
            for (int c = 0; c < 3; ++c) img.data[p * 3 + c] = all[channelOf(p, c)];
    }
    in->close();
    return img;
}

fs::path nextImagePath(const fs::path& folder, const std::string& prefix, ImageFormat format) {
    std::error_code ec;
    int highest = 0;
    for (const auto& entry : fs::directory_iterator(folder, ec)) {
        const std::string name = entry.path().stem().string();
        if (name.rfind(prefix + "-", 0) != 0) continue;
        const std::string rest = name.substr(prefix.size() + 1);
        const std::string digits = rest.substr(0, rest.find_first_not_of("0123456789"));
        if (!digits.empty() && digits.size() < 9) highest = std::max(highest, std::stoi(digits));
    }
    return folder / fmt::format("{}-{:05d}{}", prefix, highest + 1, imageFormatExtension(format));
}

}  // namespace swd
