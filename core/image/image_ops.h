// Small image operations for reports and comparisons: resizing, side-by-side and strip composition,
// and the difference between two images (PSNR, SSIM).
#pragma once

#include "image/image.h"

#include <vector>

namespace swd {

// Bilinear resize (pixel centres aligned, as most image tools do).
RgbImage8 resizeImage(const RgbImage8& image, int width, int height);

// Images placed left to right on a background, each scaled to `height` (keeping its aspect ratio),
// separated by `gap` pixels.
RgbImage8 composeRow(const std::vector<RgbImage8>& images, int height, int gap = 8,
                     std::uint8_t background = 32);

// Peak signal-to-noise ratio in dB over the RGB channels (peak 255); infinity for identical images.
// The images must have the same size.
double psnr(const RgbImage8& a, const RgbImage8& b);

// Structural similarity (Wang et al. 2004) of the luma (BT.601) with an 11x11 Gaussian window (sigma
// 1.5) and K1 = 0.01, K2 = 0.03, averaged over the valid windows; 1 for identical images.
double ssim(const RgbImage8& a, const RgbImage8& b);

// |a − b| per channel, amplified by `gain` (a difference map for the compare view and reports).
RgbImage8 differenceImage(const RgbImage8& a, const RgbImage8& b, float gain = 4.0f);

}  // namespace swd
