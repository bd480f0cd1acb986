#include "io/checkpoint_index.h"

#include "util/error.h"
#include "util/json_reader.h"

#include <filesystem>

namespace swd {

bool isPlainShardName(const std::string& name) {
    if (name.empty() || name.find('\0') != std::string::npos || name.front() == '/') return false;
    for (const auto& part : std::filesystem::path(name))
        if (part == "..") return false;
    return true;
}

std::vector<std::pair<std::string, std::string>> parseCheckpointIndex(std::string_view text,
                                                                      const std::string& label) {
    JsonLimits limits;
    limits.maxBytes = kMaxCheckpointIndexBytes;
    const nlohmann::json index = parseJson(text, label, limits);
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
        throwBadInput("{}: a checkpoint index needs a \"weight_map\" object {{tensor name: shard file}}",
                      label);
    std::vector<std::pair<std::string, std::string>> out;
    const auto& map = index["weight_map"];
    out.reserve(map.size());
    for (auto it = map.begin(); it != map.end(); ++it) {
        if (!it->is_string())
            throwBadInput("{}: weight_map entry '{}' must name a shard file, found {}", label,
                          cutForMessage(it.key()), describeJson(*it));
        const std::string& shard = it->get_ref<const std::string&>();
        if (!isPlainShardName(shard))
            throwBadInput(
                "{}: weight_map entry '{}' names the shard {}, which is not a file inside the index's "
                "folder (absolute paths and '..' are refused)",
                label, cutForMessage(it.key()), quoteForMessage(shard));
        out.emplace_back(it.key(), shard);
    }
    return out;
}

}  // namespace swd
