// libFuzzer target: the run stored in an image (the "swd-studio" JSON record that `swd inspect` prints
// and the app restores): parseImageRecord must answer any text with an ImageRecord or swd::Error.
#include "pipeline/generation_request.h"
#include "util/error.h"

#include <cstdint>
#include <string>

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
