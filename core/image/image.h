// Plain image buffers that cross from the engine to the UI and to files: no libtorch, no Qt.
#pragma once

#include <cstdint>
#include <vector>

namespace swd {

// 8-bit RGB, rows top to bottom, pixels RGBRGB... (what a QImage::Format_RGB888 wraps).
struct RgbImage8 {
    int width = 0;
    int height = 0;
    std::vector<std::uint8_t> data;

    bool empty() const { return width <= 0 || height <= 0 || data.empty(); }
};

// Floating-point RGB in [0, 1] (the decoder's output after clamping), HWC; kept for 16-bit PNG and EXR.
struct RgbImageF {
    int width = 0;
    int height = 0;
    std::vector<float> data;

    bool empty() const { return width <= 0 || height <= 0 || data.empty(); }
    // round(255·x), as diffusers' numpy_to_pil does.
    RgbImage8 toRgb8() const;
};

RgbImageF toFloatImage(const RgbImage8& image);

}  // namespace swd
