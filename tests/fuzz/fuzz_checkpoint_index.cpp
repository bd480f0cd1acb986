// libFuzzer target: the checkpoint index parser (*.safetensors.index.json) must answer any byte string
// with swd::Error or a list of shard names that stay inside the index's folder; never crash or hang.
#include "io/checkpoint_index.h"
#include "util/error.h"

#include <algorithm>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const auto entries =
            swd::parseCheckpointIndex(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
        // Checked independently of isPlainShardName: relative, and no "/"-separated part is "..".
        for (const auto& [tensor, shard] : entries) {
            if (shard.empty() || shard.front() == '/') __builtin_trap();
            std::size_t start = 0;
            while (start <= shard.size()) {
                const std::size_t end = std::min(shard.find('/', start), shard.size());
                if (shard.compare(start, end - start, "..") == 0) __builtin_trap();
                start = end + 1;
            }
        }
    } catch (const swd::Error&) {
    }
    return 0;
}
