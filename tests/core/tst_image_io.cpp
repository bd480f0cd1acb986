// core/image: writing images with metadata in every format, reading it back, never overwriting.
#include "core/test_util.h"
#include "image/image_io.h"
#include "image/image_ops.h"

#include <QImage>
#include <QImageReader>
#include <QtTest>

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
