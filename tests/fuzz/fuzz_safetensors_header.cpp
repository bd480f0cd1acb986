// libFuzzer target: the safetensors header parser must reject any byte string with swd::Error, never
// crash, hang or read out of bounds. Built with clang -fsanitize=fuzzer,address,undefined when clang is
// available; ctest runs it for a bounded time.
#include "io/safetensors_header.h"
#include "util/error.h"

#include <cstdint>
#include <cstring>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // Copy into an exactly-sized buffer so ASan catches any read past the end of the "file".
    std::vector<std::uint8_t> file(data, data + size);
    try {
        const auto header = swd::parseSafetensorsHeader(file.data(), file.size(), file.size(), "fuzz");
        // Accepted headers must describe tensors inside the data section.
        const std::uint64_t dataSize = file.size() - header.dataOffset;
        for (const auto& t : header.tensors)
            if (t.end > dataSize || t.begin > t.end ||
                t.end - t.begin != t.numel() * swd::stDtypeSize(t.dtype))
                __builtin_trap();
    } catch (const swd::Error&) {
    }
    return 0;
}
