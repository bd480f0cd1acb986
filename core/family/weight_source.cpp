#include "family/weight_source.h"

#include "io/file_hash.h"
#include "models/lora.h"

#include <fmt/format.h>

namespace swd {

WeightSource::WeightSource(InMemoryWeights inMemory)
    : m_memory(std::make_shared<InMemoryWeights>(std::move(inMemory))) {}

bool WeightSource::inMemory(const std::string& role) const {
    return m_memory && m_memory->stores.count(role) > 0;
}

TensorStore WeightSource::open(const std::string& role, const std::filesystem::path& file,
                               const std::string& prefix) const {
    const TensorStore store = inMemory(role) ? m_memory->stores.at(role) : TensorStore::open(file);
    return prefix.empty() ? store : store.withPrefix(prefix);
}

TensorStore WeightSource::take(const std::string& role, const std::filesystem::path& file,
                               const std::string& prefix) {
    TensorStore store = open(role, file, prefix);
    if (m_memory) m_memory->stores.erase(role);
    return store;
}

std::shared_ptr<const LoraAdapter> WeightSource::adapter(
    const std::optional<std::filesystem::path>& file) const {
    if (adapterInMemory()) return m_memory->adapter;
    return file ? LoraAdapter::load(*file) : nullptr;
}

bool WeightSource::hasAdapter(const std::optional<std::filesystem::path>& file) const {
    return adapterInMemory() || file.has_value();
}

bool WeightSource::adapterInMemory() const {
    return m_memory && m_memory->adapter;
}

std::string weightsSha256(const std::filesystem::path& path, const std::filesystem::path& hashCache) {
    try {
        const auto files = TensorStore::open(path).files();
        if (files.size() == 1) return fileSha256(files.front(), hashCache);
        std::string all;
        for (const auto& f : files) all += fileSha256(f, hashCache);
        return fmt::format("shards:{}", all.substr(0, 64));
    } catch (const std::exception&) {
        return "unavailable";
    }
}

}  // namespace swd
