#include "image/image_ops.h"

#include "util/error.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace swd {

RgbImage8 resizeImage(const RgbImage8& src, int width, int height) {
    if (src.empty() || width <= 0 || height <= 0) throwInternal("resizeImage: empty image or size");
    RgbImage8 out;
    out.width = width;
    out.height = height;
    out.data.resize(static_cast<std::size_t>(width) * height * 3);
    const float sx = static_cast<float>(src.width) / width, sy = static_cast<float>(src.height) / height;
    for (int y = 0; y < height; ++y) {
        const float fy = std::clamp((y + 0.5f) * sy - 0.5f, 0.0f, static_cast<float>(src.height - 1));
        const int y0 = static_cast<int>(fy), y1 = std::min(y0 + 1, src.height - 1);
        const float wy = fy - y0;
        for (int x = 0; x < width; ++x) {
            const float fx = std::clamp((x + 0.5f) * sx - 0.5f, 0.0f, static_cast<float>(src.width - 1));
            const int x0 = static_cast<int>(fx), x1 = std::min(x0 + 1, src.width - 1);
            const float wx = fx - x0;
            for (int c = 0; c < 3; ++c) {
                auto px = [&](int xx, int yy) {
                    return static_cast<float>(
                        src.data[(static_cast<std::size_t>(yy) * src.width + xx) * 3 + c]);
                };
                const float v = (1 - wy) * ((1 - wx) * px(x0, y0) + wx * px(x1, y0)) +
                                wy * ((1 - wx) * px(x0, y1) + wx * px(x1, y1));
                out.data[(static_cast<std::size_t>(y) * width + x) * 3 + c] =
                    static_cast<std::uint8_t>(std::lround(std::clamp(v, 0.0f, 255.0f)));
            }
        }
    }
    return out;
}

RgbImage8 composeRow(const std::vector<RgbImage8>& images, int height, int gap, std::uint8_t background) {
    std::vector<RgbImage8> scaled;
    int width = gap;
    for (const auto& img : images) {
        if (img.empty()) continue;
        const int w =
            std::max(1, static_cast<int>(std::lround(static_cast<double>(img.width) * height / img.height)));
        scaled.push_back(img.width == w && img.height == height ? img : resizeImage(img, w, height));
        width += w + gap;
    }
    RgbImage8 out;
    out.width = width;
    out.height = height + 2 * gap;
    out.data.assign(static_cast<std::size_t>(out.width) * out.height * 3, background);
    int x0 = gap;
    for (const auto& img : scaled) {
        for (int y = 0; y < img.height; ++y)
            std::copy_n(&img.data[static_cast<std::size_t>(y) * img.width * 3], img.width * 3,
                        &out.data[(static_cast<std::size_t>(y + gap) * out.width + x0) * 3]);
        x0 += img.width + gap;
    }
    return out;
}

namespace {
void requireSameSize(const RgbImage8& a, const RgbImage8& b, const char* what) {
    if (a.width != b.width || a.height != b.height || a.data.size() != b.data.size())
        throwBadInput("{}: the images differ in size ({}x{} and {}x{})", what, a.width, a.height, b.width,
                      b.height);
}

std::vector<double> luma(const RgbImage8& img) {
    std::vector<double> out(static_cast<std::size_t>(img.width) * img.height);
    for (std::size_t i = 0; i < out.size(); ++i)
        out[i] = 0.299 * img.data[3 * i] + 0.587 * img.data[3 * i + 1] + 0.114 * img.data[3 * i + 2];
    return out;
}
}  // namespace

double psnr(const RgbImage8& a, const RgbImage8& b) {
    requireSameSize(a, b, "PSNR");
    double sum = 0;
    for (std::size_t i = 0; i < a.data.size(); ++i) {
        const double d = static_cast<double>(a.data[i]) - b.data[i];
        sum += d * d;
    }
    const double mse = sum / static_cast<double>(a.data.size());
    if (mse == 0) return std::numeric_limits<double>::infinity();
    return 10.0 * std::log10(255.0 * 255.0 / mse);
}

double ssim(const RgbImage8& a, const RgbImage8& b) {
    requireSameSize(a, b, "SSIM");
    const int w = a.width, h = a.height;
    const int radius = 5;  // 11x11 window
    const auto la = luma(a), lb = luma(b);
    if (w < 2 * radius + 1 || h < 2 * radius + 1) {
        // Too small for a window: one window over the whole image.
        double ma = 0, mb = 0;
        for (std::size_t i = 0; i < la.size(); ++i) ma += la[i], mb += lb[i];
        ma /= la.size(), mb /= lb.size();
        double va = 0, vb = 0, cov = 0;
        for (std::size_t i = 0; i < la.size(); ++i)
            va += (la[i] - ma) * (la[i] - ma), vb += (lb[i] - mb) * (lb[i] - mb),
                cov += (la[i] - ma) * (lb[i] - mb);
        va /= la.size(), vb /= la.size(), cov /= la.size();
        const double c1 = std::pow(0.01 * 255, 2), c2 = std::pow(0.03 * 255, 2);
        return ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
    }
    double kernel[2 * radius + 1], ksum = 0;
    for (int i = -radius; i <= radius; ++i) ksum += kernel[i + radius] = std::exp(-(i * i) / (2 * 1.5 * 1.5));
    for (double& k : kernel) k /= ksum;
    // Separable Gaussian filtering of a, b, a², b², ab ("valid" region only).
    auto filter = [&](const std::vector<double>& img) {
        std::vector<double> tmp(static_cast<std::size_t>(w) * h, 0.0), out;
        for (int y = 0; y < h; ++y)
            for (int x = radius; x < w - radius; ++x) {
                double s = 0;
                for (int k = -radius; k <= radius; ++k)
                    s += kernel[k + radius] * img[static_cast<std::size_t>(y) * w + x + k];
                tmp[static_cast<std::size_t>(y) * w + x] = s;
            }
        for (int y = radius; y < h - radius; ++y)
            for (int x = radius; x < w - radius; ++x) {
                double s = 0;
                for (int k = -radius; k <= radius; ++k)
                    s += kernel[k + radius] * tmp[static_cast<std::size_t>(y + k) * w + x];
                out.push_back(s);
            }
        return out;
    };
    std::vector<double> aa(la.size()), bb(la.size()), ab(la.size());
    for (std::size_t i = 0; i < la.size(); ++i)
        aa[i] = la[i] * la[i], bb[i] = lb[i] * lb[i], ab[i] = la[i] * lb[i];
    const auto ma = filter(la), mb = filter(lb), faa = filter(aa), fbb = filter(bb), fab = filter(ab);
    const double c1 = std::pow(0.01 * 255, 2), c2 = std::pow(0.03 * 255, 2);
    double total = 0;
    for (std::size_t i = 0; i < ma.size(); ++i) {
        const double va = faa[i] - ma[i] * ma[i], vb = fbb[i] - mb[i] * mb[i], cov = fab[i] - ma[i] * mb[i];
        total += ((2 * ma[i] * mb[i] + c1) * (2 * cov + c2)) /
                 ((ma[i] * ma[i] + mb[i] * mb[i] + c1) * (va + vb + c2));
    }
    return total / static_cast<double>(ma.size());
}

RgbImage8 differenceImage(const RgbImage8& a, const RgbImage8& b, float gain) {
    requireSameSize(a, b, "difference");
    RgbImage8 out;
    out.width = a.width;
    out.height = a.height;
    out.data.resize(a.data.size());
    for (std::size_t i = 0; i < a.data.size(); ++i)
        out.data[i] = static_cast<std::uint8_t>(
            std::min(255.0f, gain * std::abs(static_cast<float>(a.data[i]) - static_cast<float>(b.data[i]))));
    return out;
}

}  // namespace swd
