// libFuzzer target: finding the EXIF UserComment in an untrusted JPEG or TIFF (image/exif) must never
// crash, hang or read out of bounds; whatever it finds is at most as long as the input allows.
#include "image/exif.h"

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    if (const auto text = swd::findExifUserComment(bytes)) {
        // UTF-16 units become at most 3 UTF-8 bytes each (a surrogate pair 4 for 2 units).
        if (text->size() > 2 * size) __builtin_trap();
    }
    // Adding a comment to whatever TIFF the input is either throws swd::Error or gives a TIFF whose
    // comment reads back.
    try {
        const std::string tiff = swd::addTiffUserComment(bytes, "a fox ☕", "fuzz");
        const auto back = swd::findExifUserComment(tiff);
        if (!back || *back != "a fox ☕") __builtin_trap();
    } catch (const std::exception&) {
    }
    return 0;
}
