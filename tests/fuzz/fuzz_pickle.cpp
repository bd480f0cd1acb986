// libFuzzer target: the restricted pickle reader (core/io/pickle_reader.h) on arbitrary bytes. It must
// either return a state dict whose views lie inside their storages, or throw swd::Error; never crash,
// hang, read out of bounds or run anything.
#include "io/pickle_reader.h"
#include "util/error.h"

#include <cstdint>
#include <cstdlib>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // Copy into an exactly-sized buffer so ASan catches any read past the end of the "file".
    const std::vector<std::uint8_t> file(data, data + size);
    try {
        const swd::PickleStateDict sd = swd::parsePickleStateDict(file.data(), file.size(), "fuzz");
        for (const auto& t : sd.tensors) {
            // The reader promises the view is inside the storage: touch its first and last element.
            if (t.numel() == 0) continue;
            std::uint64_t last = static_cast<std::uint64_t>(t.offset);
            for (std::size_t d = 0; d < t.shape.size(); ++d)
                last += static_cast<std::uint64_t>(t.shape[d] - 1) * static_cast<std::uint64_t>(t.strides[d]);
            if (last >= t.storage->numel) std::abort();
            const std::size_t elem = swd::stDtypeSize(t.dtype);
            volatile std::uint8_t sink =
                t.storage->data[t.offset * elem] ^ t.storage->data[last * elem + elem - 1];
            (void)sink;
        }
    } catch (const swd::Error&) {
    }
    return 0;
}
