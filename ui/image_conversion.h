// Conversions between the core's plain image buffers (image/image.h) and QImage. Converting an RgbImage8
// moves its buffer into the QImage (no pixel copy); the QImage is implicitly shared, so it can be sent
// from the worker thread to the UI by value.
#pragma once

#include "image/image.h"

#include <QImage>
#include <QSize>

namespace swd::ui {

// Takes over the buffer (the argument is left empty). Format_RGB888; null for an empty image.
QImage toQImage(RgbImage8&& image);
// Copies (for buffers the caller keeps).
QImage toQImage(const RgbImage8& image);
// 8-bit RGB of any QImage (alpha dropped).
RgbImage8 toRgbImage8(const QImage& image);
// The same in [0, 1] floats, for writeImage.
RgbImageF toRgbImageF(const QImage& image);

// A thumbnail no larger than `box` (aspect kept, smooth); images already smaller are returned as they are
// unless `upscale`, which scales small images up with nearest-neighbour (latent-sized previews stay crisp).
QImage thumbnail(const QImage& image, const QSize& box, bool upscale = false);

// |a − b| per channel, multiplied by `gain` and clamped: the compare view's difference map. `b` is
// scaled to `a`'s size first when they differ. Null when either is null.
QImage differenceImage(const QImage& a, const QImage& b, double gain = 4.0);

}  // namespace swd::ui
