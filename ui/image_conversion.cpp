#include "image_conversion.h"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <utility>
#include <vector>

namespace swd::ui {

namespace {
void releaseBuffer(void* info) {
    delete static_cast<std::vector<std::uint8_t>*>(info);
}
}  // namespace

QImage toQImage(RgbImage8&& image) {
    if (image.empty() || image.data.size() < static_cast<std::size_t>(image.width) * image.height * 3)
        return {};
    auto* buffer = new std::vector<std::uint8_t>(std::move(image.data));
    const int width = image.width, height = image.height;
    image = RgbImage8{};
    // The QImage owns the vector through the cleanup function; rows are tightly packed (3·width bytes).
    return QImage(buffer->data(), width, height, static_cast<qsizetype>(width) * 3, QImage::Format_RGB888,
                  releaseBuffer, buffer);
}

QImage toQImage(const RgbImage8& image) {
    RgbImage8 copy = image;
    return toQImage(std::move(copy));
}

RgbImage8 toRgbImage8(const QImage& image) {
    RgbImage8 out;
    if (image.isNull()) return out;
    const QImage rgb = image.convertToFormat(QImage::Format_RGB888);
    out.width = rgb.width();
    out.height = rgb.height();
    out.data.resize(static_cast<std::size_t>(out.width) * out.height * 3);
    for (int y = 0; y < out.height; ++y)
        std::copy_n(rgb.constScanLine(y), out.width * 3,
                    out.data.data() + static_cast<std::size_t>(y) * out.width * 3);
    return out;
}

RgbImageF toRgbImageF(const QImage& image) {
    return toFloatImage(toRgbImage8(image));
}

QImage thumbnail(const QImage& image, const QSize& box, bool upscale) {
    if (image.isNull() || box.isEmpty()) return image;
    if (image.width() <= box.width() && image.height() <= box.height()) {
        if (!upscale) return image;
        return image.scaled(box, Qt::KeepAspectRatio, Qt::FastTransformation);
    }
    return image.scaled(box, Qt::KeepAspectRatio, Qt::SmoothTransformation);
}

QImage differenceImage(const QImage& a, const QImage& b, double gain) {
    if (a.isNull() || b.isNull()) return {};
    const QImage ra = a.convertToFormat(QImage::Format_RGB888);
    QImage rb =
        b.size() == a.size() ? b : b.scaled(a.size(), Qt::IgnoreAspectRatio, Qt::SmoothTransformation);
    rb = rb.convertToFormat(QImage::Format_RGB888);
    QImage out(ra.size(), QImage::Format_RGB888);
    for (int y = 0; y < ra.height(); ++y) {
        const uchar* pa = ra.constScanLine(y);
        const uchar* pb = rb.constScanLine(y);
        uchar* po = out.scanLine(y);
        for (int x = 0; x < ra.width() * 3; ++x) {
            const double d = std::abs(int(pa[x]) - int(pb[x])) * gain;
            po[x] = static_cast<uchar>(std::min(255.0, d));
        }
    }
    return out;
}

}  // namespace swd::ui
