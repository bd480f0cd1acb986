// The index of a sharded checkpoint (*.safetensors.index.json): {"weight_map": {tensor: shard file}}.
// Parsing is kept free of libtorch so that the libFuzzer target can build it alone.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace swd {

// Largest index accepted; real ones are well under 1 MB (one line per tensor).
inline constexpr std::size_t kMaxCheckpointIndexBytes = 64ull * 1024 * 1024;

// A shard named by an index must be a relative path inside the index's folder: not empty, not absolute,
// no ".." component, no NUL. The shard file itself may be a symlink (the Hugging Face cache's are).
bool isPlainShardName(const std::string& name);

// (tensor name, shard file) pairs in the index's order of keys (sorted). Throws BadInput naming `label`
// and the entry for invalid JSON, a missing weight_map, a non-string shard or a shard name that leaves
// the folder.
std::vector<std::pair<std::string, std::string>> parseCheckpointIndex(std::string_view text,
                                                                      const std::string& label);

}  // namespace swd
