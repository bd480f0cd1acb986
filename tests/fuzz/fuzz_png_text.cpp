// libFuzzer target: reading a PNG's text chunks (image/png_text) must reject any byte string with
// swd::Error or return texts within the bound, never crash, hang, read out of bounds or allocate more
// than the bound. Built with clang -fsanitize=fuzzer,address,undefined; ctest runs it for a bounded time.
#include "image/png_text.h"
#include "util/error.h"

#include <cstdint>
#include <sstream>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // A small text bound so that bombs that pass it and bombs that stop at it are both reached quickly.
    constexpr std::uint64_t kBound = 1 << 16;
    std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
    try {
        const swd::PngTextInfo info = swd::readPngTextChunks(in, "fuzz", kBound);
        std::uint64_t total = 0;
        for (const auto& t : info.texts) total += t.value.size();
        // Each kept chunk is counted at least at its inflated size, so the sum stays within the bound.
        if (total > kBound || info.width == 0 || info.height == 0) __builtin_trap();
    } catch (const swd::Error&) {
    }
    return 0;
}
