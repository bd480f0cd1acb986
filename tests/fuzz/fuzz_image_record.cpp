// libFuzzer target: the run stored in an image (the "swd-studio" JSON record that `swd inspect` prints
// and the app restores): parseImageRecord must answer any text with an ImageRecord or swd::Error.
#include "models/latent_preview.h"
#include "pipeline/generation_request.h"
#include "util/device.h"
#include "util/error.h"

#include <array>
#include <cstdint>
#include <string>

// The record names a precision and a preview mode. Their lookups live in util/device.cpp and
// models/latent_preview.cpp, whose other code needs the whole engine; these are the same tables.
namespace swd {

namespace {
constexpr std::array<const char*, 4> kPrecisions = {"auto", "bf16", "fp16", "fp32"};
constexpr std::array<const char*, 4> kPreviews = {"vae", "taesd", "projection", "off"};
}  // namespace

const char* precisionName(Precision p) {
    return kPrecisions[static_cast<std::size_t>(p)];
}

std::optional<Precision> precisionFromName(const std::string& name) {
    for (std::size_t i = 0; i < kPrecisions.size(); ++i)
        if (name == kPrecisions[i]) return static_cast<Precision>(i);
    return std::nullopt;
}

const char* previewModeName(PreviewMode mode) {
    return kPreviews[static_cast<std::size_t>(mode)];
}

PreviewMode parsePreviewMode(const std::string& name) {
    for (std::size_t i = 0; i < kPreviews.size(); ++i)
        if (name == kPreviews[i]) return static_cast<PreviewMode>(i);
    throwBadInput("unknown preview mode '{}'", name);
}

}  // namespace swd

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        const swd::ImageRecord rec = swd::parseImageRecord(text, "fuzz.png");
        // What was accepted can be written back and read again.
        const swd::ImageRecord back =
            swd::parseImageRecord(swd::imageRecordJson(rec.request, rec.provenance), "again");
        if (back.request.seed != rec.request.seed ||
            back.request.schedule.scales != rec.request.schedule.scales)
            __builtin_trap();
    } catch (const swd::Error& e) {
        if (std::string(e.what()).size() > 20000) __builtin_trap();
    }
    return 0;
}
