#include "image/image_io.h"

#include "util/error.h"

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
#include <random>

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

bool isAscii(const std::string& s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

std::string latin1ToUtf8(const char* text, std::size_t length) {
    std::string out;
    for (std::size_t i = 0; i < length; ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            out += static_cast<char>(c);
        } else {
            out += static_cast<char>(0xC0 | (c >> 6));
            out += static_cast<char>(0x80 | (c & 0x3F));
        }
    }
    return out;
}

struct PngText {
    std::string key, value;
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
        // ASCII as tEXt (what every reader knows), anything else as uncompressed UTF-8 iTXt.
        chunks[i].compression =
            isAscii(texts[i].value) ? PNG_TEXT_COMPRESSION_NONE : PNG_ITXT_COMPRESSION_NONE;
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
    if (!metadata.parameters.empty()) texts.push_back({"parameters", metadata.parameters});
    if (!metadata.request.empty()) texts.push_back({kRequestMetadataKey, metadata.request});
    if (!metadata.software.empty()) texts.push_back({"Software", metadata.software});
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

bool readPngTexts(FILE* file, std::vector<PngText>* texts, char* error) {
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, error, pngError, pngWarning);
    if (!png) return false;
    png_infop info = png_create_info_struct(png);
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
        return false;
    }
    png_init_io(png, file);
    png_read_png(png, info, PNG_TRANSFORM_IDENTITY, nullptr);
    png_textp chunks = nullptr;
    int count = 0;
    png_get_text(png, info, &chunks, &count);
    for (int i = 0; i < count; ++i) {
        const bool utf8 = chunks[i].compression == PNG_ITXT_COMPRESSION_NONE ||
                          chunks[i].compression == PNG_ITXT_COMPRESSION_zTXt;
        const std::size_t length = utf8 ? chunks[i].itxt_length : chunks[i].text_length;
        texts->push_back({chunks[i].key,
                          utf8 ? std::string(chunks[i].text, length) : latin1ToUtf8(chunks[i].text, length)});
    }
    png_destroy_read_struct(&png, &info, nullptr);
    return true;
}

void writeWithOiio(const fs::path& path, const RgbImageF& image, ImageFormat format,
                   const ImageMetadata& metadata, int jpegQuality) {
    auto out = OIIO::ImageOutput::create(path.string());
    if (!out) throwBadInput("{}: OpenImageIO cannot write this format: {}", path.string(), OIIO::geterror());
    const OIIO::TypeDesc type = format == ImageFormat::Exr    ? OIIO::TypeDesc::HALF
                                : format == ImageFormat::Tiff ? OIIO::TypeDesc::UINT16
                                                              : OIIO::TypeDesc::UINT8;
    OIIO::ImageSpec spec(image.width, image.height, 3, type);
    if (format == ImageFormat::Jpeg) spec.attribute("CompressionQuality", jpegQuality);
    if (format == ImageFormat::Exr) spec.attribute("compression", "zip");
    if (format == ImageFormat::Exr) {
        // EXR headers keep any string attribute.
        if (!metadata.parameters.empty()) spec.attribute("parameters", metadata.parameters);
        if (!metadata.request.empty()) spec.attribute(kRequestMetadataKey, metadata.request);
    } else {
        // OpenImageIO keeps only ImageDescription in JPEG and TIFF (it drops Exif:UserComment and custom
        // names), so the summary travels inside the request JSON there.
        std::string description = metadata.request;
        if (!metadata.parameters.empty()) {
            nlohmann::json j = nlohmann::json::object();
            if (!metadata.request.empty()) {
                try {
                    j = nlohmann::json::parse(metadata.request);
                } catch (const nlohmann::json::exception&) {
                    j = nlohmann::json::object({{"request", metadata.request}});
                }
            }
            j[kParametersJsonKey] = metadata.parameters;
            description = j.dump();
        }
        if (!description.empty()) spec.attribute("ImageDescription", description);
    }
    if (!metadata.software.empty()) spec.attribute("Software", metadata.software);
    if (!out->open(path.string(), spec) || !out->write_image(OIIO::TypeDesc::FLOAT, image.data.data()) ||
        !out->close())
        throwBadInput("{}: writing the image failed: {}", path.string(), out->geterror());
}

fs::path temporarySibling(const fs::path& path) {
    std::random_device rd;
    return path.parent_path() /
           fmt::format(".{}.tmp{:08x}{}", path.stem().string(), rd(), path.extension().string());
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

    const fs::path tmp = temporarySibling(path);
    try {
        if (options.format == ImageFormat::Png8 || options.format == ImageFormat::Png16)
            writePng(tmp, image, options.format == ImageFormat::Png16, metadata);
        else
            writeWithOiio(tmp, image, options.format, metadata, options.jpegQuality);
    } catch (...) {
        fs::remove(tmp, ec);
        throw;
    }
    // link() never replaces an existing file: the first free name wins, even against another writer.
    const std::string stem = path.stem().string(), ext = path.extension().string();
    for (int n = 0; n < 100000; ++n) {
        const fs::path candidate = n == 0 ? path : path.parent_path() / fmt::format("{}-{}{}", stem, n, ext);
        if (::link(tmp.c_str(), candidate.c_str()) == 0) {
            fs::remove(tmp, ec);
            return candidate;
        }
        if (errno == EEXIST) continue;
        // File systems without hard links: fall back to a checked rename.
        if (!fs::exists(candidate, ec)) {
            fs::rename(tmp, candidate, ec);
            if (!ec) return candidate;
        }
        const int err = errno;
        fs::remove(tmp, ec);
        throwBadInput("{}: cannot move the written image into place ({})", candidate.string(),
                      std::strerror(err));
    }
    fs::remove(tmp, ec);
    throwBadInput("{}: no free file name left", path.string());
}

ImageMetadata readImageMetadata(const fs::path& path) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) throwBadInput("{}: no such image file", path.string());
    ImageMetadata meta;
    const auto format = imageFormatForPath(path);
    if (format == ImageFormat::Png8) {
        FILE* file = std::fopen(path.c_str(), "rb");
        if (!file) throwBadInput("{}: cannot open ({})", path.string(), std::strerror(errno));
        std::vector<PngText> texts;
        char error[256] = "unknown libpng error";
        const bool ok = readPngTexts(file, &texts, error);
        std::fclose(file);
        if (!ok) throwBadInput("{}: not a readable PNG file: {}", path.string(), error);
        for (const auto& t : texts) {
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
            nlohmann::json j = nlohmann::json::parse(description);
            if (j.is_object() && j.contains(kParametersJsonKey)) {
                meta.parameters = j[kParametersJsonKey].get<std::string>();
                j.erase(kParametersJsonKey);
            }
            if (!j.empty()) meta.request = j.dump();
        } catch (const nlohmann::json::exception&) {
            // someone else's description: not a request
        }
    }
    return meta;
}

RgbImage8 readImageRgb8(const fs::path& path) {
    auto in = OIIO::ImageInput::open(path.string());
    if (!in) throwBadInput("{}: not a readable image: {}", path.string(), OIIO::geterror());
    const OIIO::ImageSpec& spec = in->spec();
    RgbImage8 img;
    img.width = spec.width;
    img.height = spec.height;
    img.data.resize(static_cast<std::size_t>(spec.width) * spec.height * 3);
    const int channels = std::min(spec.nchannels, 3);
    std::vector<std::uint8_t> all(static_cast<std::size_t>(spec.width) * spec.height * spec.nchannels);
    if (!in->read_image(0, 0, 0, spec.nchannels, OIIO::TypeDesc::UINT8, all.data()))
        throwBadInput("{}: reading the pixels failed: {}", path.string(), in->geterror());
    in->close();
    for (std::size_t p = 0; p < static_cast<std::size_t>(spec.width) * spec.height; ++p)
        for (int c = 0; c < 3; ++c)
            img.data[p * 3 + c] =
                all[p * spec.nchannels + static_cast<std::size_t>(std::min(c, channels - 1))];
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
