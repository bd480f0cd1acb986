// core/image: writing images with metadata in every format, reading it back, never overwriting.
#include "core/test_util.h"
#include "image/image_io.h"
#include "image/image_ops.h"
#include "pipeline/generation_request.h"
#include "sampling/preset_library.h"

#include <OpenImageIO/imageio.h>
#include <sys/resource.h>

#include <QElapsedTimer>
#include <QImage>
#include <QImageReader>
#include <QProcess>
#include <QRegularExpression>
#include <QStringDecoder>
#include <QtTest>

#include <chrono>
#include <nlohmann/json.hpp>

using namespace swd;
using swd::test::ScratchDir;

namespace {

RgbImageF gradient(int w, int h) {
    RgbImageF img;
    img.width = w;
    img.height = h;
    img.data.resize(static_cast<std::size_t>(w) * h * 3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            float* p = &img.data[(static_cast<std::size_t>(y) * w + x) * 3];
            p[0] = static_cast<float>(x) / (w - 1);
            p[1] = static_cast<float>(y) / (h - 1);
            p[2] = 0.3f;
        }
    return img;
}

ImageMetadata sampleMetadata(const std::string& prompt) {
    ImageMetadata m;
    m.parameters =
        prompt + "\nNegative prompt: blurry\nSteps: 6, Sampler: SwD scale-wise, CFG scale: 1, Seed: 42";
    m.request = R"({"prompt":")" + prompt + R"(","seed":42})";
    m.software = "SwD Studio test";
    return m;
}

bool fileContains(const std::filesystem::path& p, const std::string& needle) {
    return swd::test::readBytes(p).find(needle) != std::string::npos;
}

// ---- Independent readers, written from the formats' specifications (not from image/*.cpp) ----

std::uint32_t be32(const std::string& s, std::size_t at) {
    return std::uint32_t(std::uint8_t(s[at])) << 24 | std::uint32_t(std::uint8_t(s[at + 1])) << 16 |
           std::uint32_t(std::uint8_t(s[at + 2])) << 8 | std::uint8_t(s[at + 3]);
}

std::string be32Bytes(std::uint32_t v) {
    return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
}

// CRC-32 as the PNG specification defines it (polynomial 0xEDB88320, bit by bit).
std::uint32_t pngCrc(const std::string& bytes) {
    std::uint32_t c = 0xFFFFFFFFu;
    for (unsigned char b : bytes) {
        c ^= b;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xFFFFFFFFu;
}

std::string pngChunk(const std::string& type, const std::string& data) {
    return be32Bytes(std::uint32_t(data.size())) + type + data + be32Bytes(pngCrc(type + data));
}

const std::string kPngSignature("\x89PNG\r\n\x1a\n", 8);

std::string pngIhdr(std::uint32_t w, std::uint32_t h) {
    return pngChunk("IHDR", be32Bytes(w) + be32Bytes(h) + std::string("\x08\x02\x00\x00\x00", 5));
}

struct PngChunk {
    std::string type, data;
};

// The chunks of a PNG file; an empty list when the signature, a length or a CRC is wrong.
std::vector<PngChunk> pngChunksOf(const std::string& file) {
    std::vector<PngChunk> out;
    if (file.compare(0, 8, kPngSignature) != 0) return {};
    std::size_t pos = 8;
    while (pos + 12 <= file.size()) {
        const std::uint32_t length = be32(file, pos);
        if (pos + 12 + length > file.size()) return {};
        PngChunk c{file.substr(pos + 4, 4), file.substr(pos + 8, length)};
        if (be32(file, pos + 8 + length) != pngCrc(c.type + c.data)) return {};
        out.push_back(c);
        pos += 12 + length;
        if (c.type == "IEND") break;
    }
    return out;
}

// The value of the tEXt or uncompressed iTXt chunk `key` (as UTF-8), and which chunk type held it.
std::string pngTextOf(const std::vector<PngChunk>& chunks, const std::string& key, std::string* type) {
    for (const auto& c : chunks) {
        if (c.data.compare(0, key.size() + 1, key + '\0') != 0) continue;
        const std::string rest = c.data.substr(key.size() + 1);
        if (c.type == "tEXt") {
            *type = "tEXt";
            return QString::fromLatin1(rest.data(), qsizetype(rest.size())).toStdString();
        }
        if (c.type == "iTXt" && rest.size() >= 2 && rest[0] == 0) {
            const auto lang = rest.find('\0', 2), trans = rest.find('\0', lang + 1);
            *type = "iTXt";
            return rest.substr(trans + 1);
        }
    }
    return {};
}

// The Exif UserComment value (raw bytes) of a JPEG (APP1 "Exif\0\0") or TIFF file; "" when absent.
std::string exifUserCommentRaw(const std::string& file) {
    std::string tiff;
    if (file.compare(0, 2, "\xFF\xD8") == 0) {
        std::size_t pos = 2;
        while (pos + 4 <= file.size() && std::uint8_t(file[pos]) == 0xFF) {
            const auto marker = std::uint8_t(file[pos + 1]);
            const std::size_t length =
                std::size_t(std::uint8_t(file[pos + 2])) << 8 | std::uint8_t(file[pos + 3]);
            if (marker == 0xDA) break;
            if (marker == 0xE1 && file.compare(pos + 4, 6, std::string("Exif\0\0", 6)) == 0)
                tiff = file.substr(pos + 10, length - 8);
            pos += 2 + length;
        }
    } else {
        tiff = file;
    }
    if (tiff.size() < 8) return {};
    const bool big = tiff[0] == 'M';
    auto u16 = [&](std::size_t at) {
        const int a = std::uint8_t(tiff[at]), b = std::uint8_t(tiff[at + 1]);
        return big ? (a << 8 | b) : (b << 8 | a);
    };
    auto u32 = [&](std::size_t at) {
        return big ? std::uint32_t(u16(at)) << 16 | std::uint32_t(u16(at + 2))
                   : std::uint32_t(u16(at + 2)) << 16 | std::uint32_t(u16(at));
    };
    // The entry `tag` of the IFD at `ifd`: (count, offset of its value) for a value longer than 4 bytes.
    auto find = [&](std::uint32_t ifd, int tag, std::uint32_t* count) -> std::uint32_t {
        if (ifd + 2 > tiff.size()) return 0;
        for (int i = 0; i < u16(ifd); ++i) {
            const std::size_t e = ifd + 2 + 12 * std::size_t(i);
            if (e + 12 > tiff.size()) return 0;
            if (u16(e) == tag) {
                *count = u32(e + 4);
                return *count <= 4 ? std::uint32_t(e + 8) : u32(e + 8);
            }
        }
        return 0;
    };
    std::uint32_t count = 0;
    const std::uint32_t exifIfdEntry = find(u32(4), 0x8769, &count);
    if (!exifIfdEntry) return {};
    const std::uint32_t exifIfd = u32(exifIfdEntry);
    const std::uint32_t at = find(exifIfd, 0x9286, &count);
    if (!at || at + count > tiff.size()) return {};
    return tiff.substr(at, count);
}

// A UserComment with the "UNICODE\0" code, decoded as piexif.helper.UserComment.load does (UTF-16BE).
QString decodeUnicodeUserComment(const std::string& raw) {
    if (raw.compare(0, 8, std::string("UNICODE\0", 8)) != 0) return QStringLiteral("<not UNICODE>");
    QStringDecoder utf16be(QStringDecoder::Utf16BE);
    return utf16be(QByteArray::fromStdString(raw.substr(8)));
}

// A1111's parse_generation_parameters (modules/infotext_utils.py), from its documented format: the last
// line holds "Key: value" pairs (values with commas JSON-quoted) when it has at least 3 of them; the
// lines before are the prompt, up to a line starting with "Negative prompt:"; "WxH" values split into
// "Key-1" and "Key-2".
QMap<QString, QString> parseGenerationParameters(const QString& text) {
    static const QRegularExpression param(
        QStringLiteral("\\s*(\\w[\\w \\-/]+):\\s*(\"(?:\\\\.|[^\\\\\"])+\"|[^,]*)(?:,|$)"));
    static const QRegularExpression size(QStringLiteral("^(\\d+)x(\\d+)$"));
    QStringList lines = text.trimmed().split(QLatin1Char('\n'));
    QString last = lines.takeLast();
    int pairs = 0;
    for (auto it = param.globalMatch(last); it.hasNext(); it.next()) ++pairs;
    if (pairs < 3) {
        lines << last;
        last.clear();
    }
    QMap<QString, QString> res;
    QString prompt, negative;
    bool negativePart = false;
    for (QString line : lines) {
        line = line.trimmed();
        if (line.startsWith(QLatin1String("Negative prompt:"))) {
            negativePart = true;
            line = line.mid(16).trimmed();
        }
        QString& target = negativePart ? negative : prompt;
        target += (target.isEmpty() ? QString() : QStringLiteral("\n")) + line;
    }
    res[QStringLiteral("Prompt")] = prompt;
    res[QStringLiteral("Negative prompt")] = negative;
    for (auto it = param.globalMatch(last); it.hasNext();) {
        const auto m = it.next();
        QString v = m.captured(2);
        if (v.size() >= 2 && v.startsWith(QLatin1Char('"')) && v.endsWith(QLatin1Char('"')))
            v = QString::fromStdString(nlohmann::json::parse(v.toStdString()).get<std::string>());
        const auto sm = size.match(v);
        if (sm.hasMatch()) {
            res[m.captured(1) + QStringLiteral("-1")] = sm.captured(1);
            res[m.captured(1) + QStringLiteral("-2")] = sm.captured(2);
        } else {
            res[m.captured(1)] = v;
        }
    }
    return res;
}

// A realistic record: the A1111 text and the JSON of a SwD run with a LoRA and a negative prompt.
ImageMetadata generationMetadata(const std::string& prompt) {
    GenerationRequest r;
    r.prompt = prompt;
    r.negativePrompt = "blurry, low quality";
    r.seed = 1234;
    r.schedule = PresetLibrary::builtin().get("swd-2b-6step");
    RunProvenance p;
    p.modelName = "SD3.5 Medium";
    p.modelHash = std::string(64, 'b');
    p.adapterName = "yresearch/swd-medium-6-steps";
    p.adapterHash = "0123456789abcdef" + std::string(48, 'c');
    p.imageSeed = 1234;
    ImageMetadata m;
    m.parameters = a1111Parameters(r, p);
    m.request = imageRecordJson(r, p);
    m.software = "SwD Studio test";
    return m;
}

long maxRssKiB() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss;
}

QString runTool(const QString& program, const QStringList& args, int* exitCode) {
    QProcess process;
    process.setProcessChannelMode(QProcess::MergedChannels);
    process.start(program, args);
    if (!process.waitForFinished(60000)) {
        *exitCode = -1;
        return QStringLiteral("%1 did not run: %2").arg(program, process.errorString());
    }
    *exitCode = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
    return QString::fromUtf8(process.readAll());
}

}  // namespace

class TestImageIo : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void pngAsciiMetadataIsTextChunk() {
        ScratchDir dir;
        const auto written = writeImage(dir.file("a.png"), gradient(16, 8), sampleMetadata("a cat"));
        QCOMPARE(written, dir.file("a.png"));
        QVERIFY(fileContains(written, "tEXtparameters"));
        const ImageMetadata back = readImageMetadata(written);
        QCOMPARE(back.parameters, sampleMetadata("a cat").parameters);
        QCOMPARE(back.request, sampleMetadata("a cat").request);
        QCOMPARE(back.software, std::string("SwD Studio test"));
    }

    void pngNonAsciiMetadataIsUtf8Itxt() {
        ScratchDir dir;
        const std::string prompt = "café ☕ 猫, naïve façade";
        const auto written = writeImage(dir.file("u.png"), gradient(16, 8), sampleMetadata(prompt));
        QVERIFY(fileContains(written, "iTXtparameters"));
        QCOMPARE(readImageMetadata(written).parameters, sampleMetadata(prompt).parameters);
        // An independent reader (Qt, like A1111/PIL it reads iTXt as UTF-8) sees the same text.
        const QImage qimg(QString::fromStdString(written.string()));
        QVERIFY(!qimg.isNull());
        QCOMPARE(qimg.text(QStringLiteral("parameters")).toStdString(), sampleMetadata(prompt).parameters);
        QCOMPARE(qimg.width(), 16);
    }

    void pngPixelsRoundTrip() {
        ScratchDir dir;
        const RgbImageF img = gradient(32, 4);
        const RgbImage8 expected = img.toRgb8();
        const auto p8 = writeImage(dir.file("p8.png"), img, {}, {ImageFormat::Png8});
        const RgbImage8 back = readImageRgb8(p8);
        QCOMPARE(back.width, 32);
        QVERIFY(back.data == expected.data);
        // 16-bit keeps more than 8 bits: Qt reads it as a 16-bit format.
        const auto p16 = writeImage(dir.file("p16.png"), img, {}, {ImageFormat::Png16});
        QImageReader reader(QString::fromStdString(p16.string()));
        const QImage q16 = reader.read();
        QVERIFY(q16.depth() == 64 || q16.format() == QImage::Format_RGBX64 ||
                q16.format() == QImage::Format_RGBA64);
        const QRgba64 px = q16.pixelColor(31, 0).rgba64();
        QCOMPARE(int(px.red()), 65535);
        QCOMPARE(int(px.blue()), int(std::lround(0.3 * 65535)));
    }

    void otherFormatsKeepTheRun_data() {
        QTest::addColumn<int>("format");
        QTest::addColumn<QString>("name");
        QTest::newRow("jpeg") << int(ImageFormat::Jpeg) << "x.jpg";
        QTest::newRow("tiff") << int(ImageFormat::Tiff) << "x.tif";
        QTest::newRow("exr") << int(ImageFormat::Exr) << "x.exr";
    }
    void otherFormatsKeepTheRun() {
        QFETCH(int, format);
        QFETCH(QString, name);
        ScratchDir dir;
        const ImageMetadata meta = sampleMetadata("a red fox");
        const auto written = writeImage(dir.file(name.toStdString()), gradient(16, 16), meta,
                                        {static_cast<ImageFormat>(format)});
        const ImageMetadata back = readImageMetadata(written);
        QCOMPARE(nlohmann::json::parse(back.request), nlohmann::json::parse(meta.request));
        QVERIFY2(back.parameters.find("Steps: 6") != std::string::npos, back.parameters.c_str());
        const RgbImage8 px = readImageRgb8(written);
        QCOMPARE(px.width, 16);
        QCOMPARE(px.height, 16);
        const RgbImage8 expected = gradient(16, 16).toRgb8();
        int worst = 0;
        for (std::size_t i = 0; i < px.data.size(); ++i)
            worst = std::max(worst, std::abs(int(px.data[i]) - int(expected.data[i])));
        QVERIFY2(worst <= (format == int(ImageFormat::Jpeg) ? 12 : 1), qPrintable(QString::number(worst)));
    }

    // A1111's reader finds our parameters: PNG "parameters" text, JPEG/TIFF EXIF UserComment.
    void a1111ReadsOurParameters_data() {
        QTest::addColumn<int>("format");
        QTest::addColumn<QString>("name");
        QTest::newRow("png") << int(ImageFormat::Png8) << "a.png";
        QTest::newRow("png16") << int(ImageFormat::Png16) << "a16.png";
        QTest::newRow("jpeg") << int(ImageFormat::Jpeg) << "a.jpg";
        QTest::newRow("tiff") << int(ImageFormat::Tiff) << "a.tif";
    }
    void a1111ReadsOurParameters() {
        QFETCH(int, format);
        QFETCH(QString, name);
        ScratchDir dir;
        const std::string prompt = "a red fox, in the snow, café ☕ 猫 🦊";
        const ImageMetadata meta = generationMetadata(prompt);
        const auto written = writeImage(dir.file(name.toStdString()), gradient(16, 8), meta,
                                        {static_cast<ImageFormat>(format)});
        const std::string bytes = swd::test::readBytes(written);
        QString text;
        if (format == int(ImageFormat::Png8) || format == int(ImageFormat::Png16)) {
            std::string type;
            text = QString::fromStdString(pngTextOf(pngChunksOf(bytes), "parameters", &type));
            QCOMPARE(type, std::string("iTXt"));  // not Latin-1
        } else {
            text = decodeUnicodeUserComment(exifUserCommentRaw(bytes));
        }
        QCOMPARE(text.toStdString(), meta.parameters);
        const auto p = parseGenerationParameters(text);
        QCOMPARE(p.value("Prompt").toStdString(), prompt);
        QCOMPARE(p.value("Negative prompt"), QStringLiteral("blurry, low quality"));
        QCOMPARE(p.value("Steps"), QStringLiteral("6"));
        QCOMPARE(p.value("Sampler"), QStringLiteral("SwD scale-wise"));
        QCOMPARE(p.value("CFG scale"), QStringLiteral("1"));
        QCOMPARE(p.value("Seed"), QStringLiteral("1234"));
        QCOMPARE(p.value("Size-1"), QStringLiteral("1024"));
        QCOMPARE(p.value("Size-2"), QStringLiteral("1024"));
        QCOMPARE(p.value("Model hash"), QStringLiteral("bbbbbbbbbb"));
        QCOMPARE(p.value("Model"), QStringLiteral("SD3.5 Medium"));
        QCOMPARE(p.value("Lora hashes"), QStringLiteral("yresearch/swd-medium-6-steps: 0123456789"));
        QCOMPARE(p.value("Scales"), QStringLiteral("[32, 48, 64, 80, 96, 128]"));
        QVERIFY(p.value("Sigmas").startsWith(QLatin1String("[1, 0.9454")));
        // And our own reader restores the run from the same file.
        const ImageMetadata back = readImageMetadata(written);
        QCOMPARE(back.parameters, meta.parameters);
        QCOMPARE(nlohmann::json::parse(back.request), nlohmann::json::parse(meta.request));
        const ImageRecord record = parseImageRecord(back.request, name.toStdString());
        QCOMPARE(record.request.prompt, prompt);
        QCOMPARE(record.provenance.adapterName, std::string("yresearch/swd-medium-6-steps"));
    }

    void pngTextChunkWhenLatin1ItxtOtherwise() {
        ScratchDir dir;
        const std::string latin1Prompt = "café naïve façade, 25 °C, ½ price";
        const auto a = writeImage(dir.file("l.png"), gradient(8, 8), sampleMetadata(latin1Prompt));
        const auto chunks = pngChunksOf(swd::test::readBytes(a));
        QVERIFY(!chunks.empty());
        std::string type;
        QCOMPARE(pngTextOf(chunks, "parameters", &type), sampleMetadata(latin1Prompt).parameters);
        QCOMPARE(type, std::string("tEXt"));
        // The bytes are Latin-1: "é" is the single byte 0xE9.
        bool sawE9 = false;
        for (const auto& c : chunks)
            if (c.type == "tEXt" && c.data.rfind("parameters", 0) == 0)
                sawE9 = c.data.find("caf\xE9 ") != std::string::npos;
        QVERIFY(sawE9);
        QCOMPARE(readImageMetadata(a).parameters, sampleMetadata(latin1Prompt).parameters);
        QCOMPARE(QImage(QString::fromStdString(a.string())).text(QStringLiteral("parameters")).toStdString(),
                 sampleMetadata(latin1Prompt).parameters);

        for (const std::string prompt : {"猫 in a box", "a fox 🦊", "Ελληνικά"}) {
            const auto b = writeImage(dir.file("u.png"), gradient(8, 8), sampleMetadata(prompt));
            QCOMPARE(pngTextOf(pngChunksOf(swd::test::readBytes(b)), "parameters", &type),
                     sampleMetadata(prompt).parameters);
            QCOMPARE(type, std::string("iTXt"));
            QCOMPARE(readImageMetadata(b).parameters, sampleMetadata(prompt).parameters);
        }
    }

    void exifUserCommentIsUnicodeUtf16BigEndian() {
        ScratchDir dir;
        const ImageMetadata meta = sampleMetadata("a fox");
        const auto jpg = writeImage(dir.file("e.jpg"), gradient(8, 8), meta, {ImageFormat::Jpeg});
        const std::string raw = exifUserCommentRaw(swd::test::readBytes(jpg));
        // piexif's "unicode" encoding: the 8-byte code, then UTF-16 big-endian ("a" = 00 61).
        QCOMPARE(raw.substr(0, 10), std::string("UNICODE\0\0a", 10));
        QCOMPARE(raw.size(), 8 + 2 * meta.parameters.size());
    }

    void jpegSegmentsHaveNoComAndUtf8Iptc() {
        ScratchDir dir;
        const ImageMetadata meta = sampleMetadata("café ☕ 猫");
        const std::string bytes =
            swd::test::readBytes(writeImage(dir.file("i.jpg"), gradient(8, 8), meta, {ImageFormat::Jpeg}));
        std::size_t pos = 2;
        std::string app13;
        while (pos + 4 <= bytes.size() && std::uint8_t(bytes[pos + 1]) != 0xDA) {
            const auto marker = std::uint8_t(bytes[pos + 1]);
            const std::size_t length =
                std::size_t(std::uint8_t(bytes[pos + 2])) << 8 | std::uint8_t(bytes[pos + 3]);
            QVERIFY2(marker != 0xFE, "a COM segment was written");
            if (marker == 0xED) app13 = bytes.substr(pos + 4, length - 2);
            pos += 2 + length;
        }
        QVERIFY(app13.rfind(std::string("Photoshop 3.0\0008BIM\x04\x04", 20), 0) == 0);
        // IPTC 1:90 CodedCharacterSet = ESC % G, then 2:120 Caption-Abstract with the UTF-8 bytes.
        QVERIFY(app13.find(std::string("\x1C\x01\x5A\x00\x03\x1B%G", 8)) != std::string::npos);
        const std::string caption = std::string("\x1C\x02\x78", 3) + char(meta.parameters.size() >> 8) +
                                    char(meta.parameters.size() & 0xFF) + meta.parameters;
        QVERIFY(app13.find(caption) != std::string::npos);
    }

    // exiftool and pngcheck (installed by scripts/install-deps.sh --tests) read our files by the rules.
    void externalValidatorsAgree() {
        ScratchDir dir;
        const ImageMetadata meta = sampleMetadata("café ☕ 猫");
        const auto jpg = writeImage(dir.file("v.jpg"), gradient(16, 16), meta, {ImageFormat::Jpeg});
        const auto tif = writeImage(dir.file("v.tif"), gradient(16, 16), meta, {ImageFormat::Tiff});
        const auto png = writeImage(dir.file("v.png"), gradient(16, 16), sampleMetadata("café"));
        const auto pngU = writeImage(dir.file("w.png"), gradient(16, 16), meta);
        int rc = 0;
        for (const auto& file : {jpg, tif}) {
            const QString out = runTool(QStringLiteral("exiftool"),
                                        {QStringLiteral("-j"), QStringLiteral("-G1"), QStringLiteral("-a"),
                                         QStringLiteral("-UserComment"), QStringLiteral("-Caption-Abstract"),
                                         QStringLiteral("-CodedCharacterSet"), QStringLiteral("-Comment"),
                                         QStringLiteral("-validate"), QStringLiteral("-warning"),
                                         QString::fromStdString(file.string())},
                                        &rc);
            QVERIFY2(rc == 0, qPrintable(out));
            const auto j = nlohmann::json::parse(out.toStdString())[0];
            QCOMPARE(j.value("ExifIFD:UserComment", std::string()), meta.parameters);
            QVERIFY2(!j.contains("File:Comment"), qPrintable(out));
            if (file == jpg) {
                QCOMPARE(j.value("IPTC:Caption-Abstract", std::string()), meta.parameters);
                QCOMPARE(j.value("IPTC:CodedCharacterSet", std::string()), std::string("UTF8"));
                // Every tag EXIF requires of a JPEG is there and well-formed. (OpenImageIO's TIFF has
                // warnings of its own; and exiftool wants UNICODE text in the TIFF's byte order there,
                // where we keep piexif's big-endian, which it still decodes, as checked above.)
                QCOMPARE(j.value("ExifTool:Validate", std::string()), std::string("OK"));
            }
        }
        for (const auto& file : {png, pngU}) {
            const QString out = runTool(QStringLiteral("pngcheck"),
                                        {QStringLiteral("-vt"), QString::fromStdString(file.string())}, &rc);
            QVERIFY2(rc == 0 && out.contains(QLatin1String("No errors detected")), qPrintable(out));
            QVERIFY2(out.contains(file == png ? QLatin1String("tEXt") : QLatin1String("iTXt")),
                     qPrintable(out));
        }
    }

    void exrHoldsLinearValues() {
        ScratchDir dir;
        RgbImageF img;
        img.width = 4;
        img.height = 2;
        img.data.assign(4 * 2 * 3, 0.5f);
        img.data[3] = 1.0f;   // pixel 1, red
        img.data[6] = 0.02f;  // pixel 2, red: the linear segment of the sRGB curve
        const auto exr = writeImage(dir.file("l.exr"), img, sampleMetadata("a fox"), {ImageFormat::Exr});
        auto in = OIIO::ImageInput::open(exr.string());
        QVERIFY(in);
        QCOMPARE(in->spec().get_string_attribute("oiio:ColorSpace"), std::string("Linear"));
        const OIIO::ParamValue* chroma = in->spec().find_attribute("chromaticities");
        QVERIFY(chroma && chroma->type() == OIIO::TypeDesc(OIIO::TypeDesc::FLOAT, 8));
        QCOMPARE(static_cast<const float*>(chroma->data())[6], 0.3127f);  // D65 white x
        std::vector<float> px(4 * 2 * 3);
        QVERIFY(in->read_image(0, 0, 0, 3, OIIO::TypeDesc::FLOAT, px.data()));
        // sRGB decoding: ((0.5 + 0.055) / 1.055)^2.4 = 0.21404; 0.02 / 12.92 = 0.001548 (half precision).
        QVERIFY2(std::abs(px[0] - 0.21404f) < 2e-4f, qPrintable(QString::number(px[0])));
        QVERIFY(std::abs(px[3] - 1.0f) < 1e-3f);
        QVERIFY2(std::abs(px[6] - 0.001548f) < 2e-6f, qPrintable(QString::number(px[6])));
        // Displayed (8-bit) it is the same sRGB image again.
        const RgbImage8 back = readImageRgb8(exr);
        QVERIFY2(std::abs(int(back.data[0]) - 128) <= 1, qPrintable(QString::number(back.data[0])));  // 127.5
        QCOMPARE(int(back.data[6]), 5);  // lround(0.02 * 255)
    }

    void hugePngHeaderIsReadQuicklyAndRefusedForPixels() {
        ScratchDir dir;
        const std::string file = kPngSignature + pngIhdr(1000000, 1000000) +
                                 pngChunk("tEXt", std::string("parameters\0a fox", 16)) +
                                 pngChunk("IDAT", std::string("\x78\x9c\x03\x00\x00\x00\x00\x01", 8)) +
                                 pngChunk("IEND", "");
        QVERIFY(file.size() < 200);
        QVERIFY(!pngChunksOf(file).empty());  // a well-formed chunk list
        swd::test::writeBytes(dir.file("huge.png"), file);
        const long rssBefore = maxRssKiB();
        QElapsedTimer timer;
        timer.start();
        QCOMPARE(readImageMetadata(dir.file("huge.png")).parameters, std::string("a fox"));
        SWD_EXPECT_ERROR(readImageRgb8(dir.file("huge.png")), "huge.png", "1000000x1000000", "refused");
        QVERIFY2(timer.elapsed() < 2000, qPrintable(QString::number(timer.elapsed())));
        QVERIFY2(maxRssKiB() - rssBefore < 64 * 1024, qPrintable(QString::number(maxRssKiB() - rssBefore)));
    }

    void pngTextAfterImageDataIsFound() {
        ScratchDir dir;
        const std::string file =
            kPngSignature + pngIhdr(1, 1) +
            pngChunk("IDAT", std::string("\x78\x9c\x63\x60\x68\x68\x00\x00\x01\x84\x00\x81", 12)) +
            pngChunk("tEXt", std::string("parameters\0late text", 20)) + pngChunk("IEND", "");
        swd::test::writeBytes(dir.file("late.png"), file);
        QCOMPARE(readImageMetadata(dir.file("late.png")).parameters, std::string("late text"));
    }

    void zlibBombInPngTextIsBounded() {
        ScratchDir dir;
        // qCompress: a 4-byte length, then a zlib stream. 64 MiB of zeros deflate to about 64 KiB.
        const QByteArray bomb = qCompress(QByteArray(64 << 20, '\0'), 9).mid(4);
        QVERIFY(bomb.size() < 200000);
        const std::string ztxt = std::string("parameters\0\0", 12) + bomb.toStdString();
        swd::test::writeBytes(dir.file("bomb.png"),
                              kPngSignature + pngIhdr(1, 1) + pngChunk("zTXt", ztxt) + pngChunk("IEND", ""));
        const long rssBefore = maxRssKiB();
        QElapsedTimer timer;
        timer.start();
        SWD_EXPECT_ERROR(readImageMetadata(dir.file("bomb.png")), "bomb.png", "zTXt", "16 MiB");
        QVERIFY2(timer.elapsed() < 5000, qPrintable(QString::number(timer.elapsed())));
        QVERIFY2(maxRssKiB() - rssBefore < 96 * 1024, qPrintable(QString::number(maxRssKiB() - rssBefore)));
        // A small compressed text is read.
        const std::string small =
            std::string("parameters\0\0", 12) + qCompress(QByteArray("a fox")).mid(4).toStdString();
        swd::test::writeBytes(dir.file("z.png"),
                              kPngSignature + pngIhdr(1, 1) + pngChunk("zTXt", small) + pngChunk("IEND", ""));
        QCOMPARE(readImageMetadata(dir.file("z.png")).parameters, std::string("a fox"));
    }

    void malformedPngsAreBadInput() {
        ScratchDir dir;
        const std::string head = kPngSignature + pngIhdr(1, 1);
        swd::test::writeBytes(dir.file("t.png"), head + pngChunk("tEXt", std::string("parameters\0x", 12)));
        SWD_EXPECT_ERROR(readImageMetadata(dir.file("t.png")), "t.png", "truncated");
        swd::test::writeBytes(dir.file("n.png"), kPngSignature + pngChunk("tEXt", std::string("a\0b", 3)));
        SWD_EXPECT_ERROR(readImageMetadata(dir.file("n.png")), "n.png", "IHDR");
        // A 2 GiB text chunk is refused from its length, before reading it.
        swd::test::writeBytes(dir.file("l.png"), head + be32Bytes(0x7FFFFFF0u) + "tEXt" + "parameters");
        SWD_EXPECT_ERROR(readImageMetadata(dir.file("l.png")), "l.png", "16 MiB");
    }

    void filesWrittenBeforeStillRestore_data() {
        QTest::addColumn<QString>("name");
        QTest::newRow("png") << "before_interop.png";
        QTest::newRow("jpeg") << "before_interop.jpg";
        QTest::newRow("tiff") << "before_interop.tif";
    }
    void filesWrittenBeforeStillRestore() {
        // Written by the image_io.cpp of commit 3bdb284 (ImageDescription JSON + COM in JPEG, iTXt in PNG).
        QFETCH(QString, name);
        const ImageMetadata m = readImageMetadata(swd::test::dataDir() / "image_io" / name.toStdString());
        QCOMPARE(m.parameters, std::string("a café fox\nNegative prompt: fog\nSteps: 6, Sampler: SwD "
                                           "scale-wise, CFG scale: 1, Seed: 7"));
        QCOMPARE(nlohmann::json::parse(m.request),
                 nlohmann::json::parse(R"({"format":"swd-studio/1","prompt":"a café fox"})"));
        QCOMPARE(m.software, std::string("swd-studio 0.1.0"));
    }

    void readsA1111StyleJpegUserComment() {
        // A JPEG with only an EXIF UserComment (as A1111 writes): parameters come from there.
        ScratchDir dir;
        const auto jpg = writeImage(dir.file("a.jpg"), gradient(8, 8), {}, {ImageFormat::Jpeg});
        std::string bytes = swd::test::readBytes(jpg);
        const std::string text = "a castle\nSteps: 20, Sampler: Euler, CFG scale: 6, Seed: 1";
        // Big-endian TIFF: IFD0 with one entry (ExifIFD at 26), Exif IFD with UserComment at 44.
        std::string comment = std::string("UNICODE\0", 8);
        for (char c : text) comment += std::string{'\0', c};
        std::string tiff =
            std::string("MM\0*\0\0\0\x08", 8) + std::string("\0\x01\x87\x69\0\x04\0\0\0\x01\0\0\0\x1a", 14) +
            std::string(4, '\0') + std::string("\0\x01\x92\x86\0\x07", 6) +
            be32Bytes(std::uint32_t(comment.size())) + be32Bytes(44) + std::string(4, '\0') + comment;
        QCOMPARE(tiff.size(), 44 + comment.size());
        const std::string app1 = std::string("Exif\0\0", 6) + tiff;
        const std::size_t length = app1.size() + 2;
        bytes.insert(2, std::string{char(0xFF), char(0xE1), char(length >> 8), char(length & 0xFF)} + app1);
        swd::test::writeBytes(dir.file("b.jpg"), bytes);
        QCOMPARE(readImageMetadata(dir.file("b.jpg")).parameters, text);
    }

    void longPromptJpegKeepsParametersAndRecord() {
        // 20,000 characters: the UserComment (UTF-16) and the record do not both fit in the 64 KiB EXIF
        // segment with a second copy of the parameters inside the record, but they do without it.
        ScratchDir dir;
        const ImageMetadata meta = sampleMetadata(std::string(20000, 'x'));
        const auto jpg = writeImage(dir.file("long.jpg"), gradient(8, 8), meta, {ImageFormat::Jpeg});
        QCOMPARE(decodeUnicodeUserComment(exifUserCommentRaw(swd::test::readBytes(jpg))).toStdString(),
                 meta.parameters);
        const ImageMetadata back = readImageMetadata(jpg);
        QCOMPARE(back.parameters, meta.parameters);
        QCOMPARE(nlohmann::json::parse(back.request), nlohmann::json::parse(meta.request));
    }

    void temporaryFilesNeverStay() {
        ScratchDir dir;
        // A failure after the temporary file was written (metadata too large for JPEG) leaves nothing.
        ImageMetadata big = sampleMetadata(std::string(40000, 'x'));
        SWD_EXPECT_ERROR(writeImage(dir.file("big.jpg"), gradient(8, 8), big, {ImageFormat::Jpeg}), "big",
                         "64 KiB");
        QVERIFY(std::filesystem::is_empty(dir.path()));

        // Stale ones of ours go; fresh ones, other names and other kinds of file stay.
        const auto old = std::filesystem::file_time_type::clock::now() - std::chrono::hours(1);
        const std::vector<std::string> ours = {".swd-swd-00001.tmp0123abcd.png", ".swd-x.tmp.tmpdeadbeef.jpg",
                                               ".swd-y.tmp00000000.JPEG"};
        const std::vector<std::string> others = {".swd-x.tmp0123abcd.txt", ".x.tmp0123abcd.png",
                                                 "swd-00001.png",          ".swd-x.tmp0123ABCD.png",
                                                 ".swd-x.tmp0123abc.png",  "notes.tmp0123abcd.png"};
        for (const auto& n : ours) swd::test::writeBytes(dir.file(n), "x");
        for (const auto& n : others) swd::test::writeBytes(dir.file(n), "x");
        std::filesystem::create_directory(dir.file(".swd-d.tmp0123abcd.png"));
        for (const auto& e : std::filesystem::directory_iterator(dir.path()))
            std::filesystem::last_write_time(e.path(), old);
        swd::test::writeBytes(dir.file(".swd-fresh.tmp01234567.png"), "x");
        QCOMPARE(removeStaleTemporaryImages(dir.path()), 3);
        for (const auto& n : ours) QVERIFY2(!std::filesystem::exists(dir.file(n)), n.c_str());
        for (const auto& n : others) QVERIFY2(std::filesystem::exists(dir.file(n)), n.c_str());
        QVERIFY(std::filesystem::exists(dir.file(".swd-d.tmp0123abcd.png")));
        QVERIFY(std::filesystem::exists(dir.file(".swd-fresh.tmp01234567.png")));
    }

    void neverOverwrites() {
        ScratchDir dir;
        const auto first = writeImage(dir.file("same.png"), gradient(8, 8), sampleMetadata("first"));
        const auto second = writeImage(dir.file("same.png"), gradient(8, 8), sampleMetadata("second"));
        const auto third = writeImage(dir.file("same.png"), gradient(8, 8), sampleMetadata("third"));
        QCOMPARE(first, dir.file("same.png"));
        QCOMPARE(second, dir.file("same-1.png"));
        QCOMPARE(third, dir.file("same-2.png"));
        QVERIFY(readImageMetadata(first).parameters.rfind("first", 0) == 0);
        // No temporary files are left behind.
        int files = 0;
        for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
            ++files;
            QVERIFY2(e.path().filename().string()[0] != '.', e.path().c_str());
        }
        QCOMPARE(files, 3);
    }

    void nextPathCounts() {
        ScratchDir dir;
        QCOMPARE(nextImagePath(dir.path(), "swd", ImageFormat::Png8), dir.file("swd-00001.png"));
        writeImage(dir.file("swd-00007.png"), gradient(4, 4), {});
        QCOMPARE(nextImagePath(dir.path(), "swd", ImageFormat::Jpeg), dir.file("swd-00008.jpg"));
    }

    void psnrAndSsimAgainstClosedForms() {
        RgbImage8 a, b;
        a.width = b.width = 32;
        a.height = b.height = 24;
        a.data.assign(32 * 24 * 3, 100);
        b.data.assign(32 * 24 * 3, 101);
        QVERIFY(std::isinf(psnr(a, a)));
        // MSE 1 -> 10·log10(255²) = 48.1308 dB
        QVERIFY(std::abs(psnr(a, b) - 48.130803608679) < 1e-9);
        QVERIFY(std::abs(ssim(a, a) - 1.0) < 1e-12);
        // Constant images: only the luminance term is left, (2ab + C1) / (a² + b² + C1).
        b.data.assign(b.data.size(), 110);
        const double c1 = std::pow(0.01 * 255, 2);
        const double expected = (2.0 * 100 * 110 + c1) / (100.0 * 100 + 110.0 * 110 + c1);
        QVERIFY2(std::abs(ssim(a, b) - expected) < 1e-9, qPrintable(QString::number(ssim(a, b))));
        QCOMPARE(ssim(a, b), ssim(b, a));
        // Structure: an image against its negative is far from similar.
        RgbImage8 g = gradient(32, 24).toRgb8(), inv = g;
        for (auto& v : inv.data) v = static_cast<std::uint8_t>(255 - v);
        QVERIFY(ssim(g, inv) < 0.1);
        QVERIFY(ssim(g, g) > 0.999999);
        SWD_EXPECT_ERROR(psnr(a, gradient(8, 8).toRgb8()), "differ in size");
    }

    void resizeAndCompose() {
        RgbImage8 img;
        img.width = 2;
        img.height = 2;
        img.data = {0, 0, 0, 200, 200, 200, 0, 0, 0, 200, 200, 200};
        const RgbImage8 one = resizeImage(img, 1, 1);
        QCOMPARE(int(one.data[0]), 100);  // the average of the four
        const RgbImage8 big = resizeImage(gradient(8, 8).toRgb8(), 16, 16);
        QCOMPARE(big.width, 16);
        const RgbImage8 row = composeRow({gradient(8, 8).toRgb8(), gradient(16, 8).toRgb8()}, 8, 2);
        QCOMPARE(row.width, 2 + 8 + 2 + 16 + 2);
        QCOMPARE(row.height, 12);
        const RgbImage8 diff = differenceImage(one, one);
        QCOMPARE(int(diff.data[0]), 0);
    }

    void errorsNameTheFile() {
        SWD_EXPECT_ERROR(readImageMetadata("/nonexistent/x.png"), "/nonexistent/x.png", "no such image");
        ScratchDir dir;
        swd::test::writeBytes(dir.file("broken.png"), "not a png at all");
        SWD_EXPECT_ERROR(readImageMetadata(dir.file("broken.png")), "broken.png", "not a readable PNG");
        swd::test::writeBytes(dir.file("file"), "x");
        SWD_EXPECT_ERROR(writeImage(dir.file("file") / "sub" / "x.png", gradient(4, 4), {}), "output folder");
    }
};

int runImageIoTests(int argc, char** argv) {
    TestImageIo t;
    return QTest::qExec(&t, argc, argv);
}
#include "tst_image_io.moc"
