// Where the loaders get a model set's weights: its files, or stores made in memory from tensors
// (TensorStore::fromTensors: the real architectures with random weights, for benchmarks) standing in for
// some of them. A family's loader asks this one object for every component by role and never looks which
// it is. An in-memory store is handed over when taken (the loaded model keeps what it needs of it), so the
// process never holds those weights twice.
#pragma once

#include "io/tensor_store.h"

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace swd {

class LoraAdapter;

// Stores by component role ("transformer", "vae", "clip_l", "clip_g", "t5", ...) and an adapter, held in
// memory instead of the model set's files.
struct InMemoryWeights {
    std::map<std::string, TensorStore> stores;
    std::shared_ptr<const LoraAdapter> adapter;
};

class WeightSource {
public:
    WeightSource() = default;  // the model set's files
    explicit WeightSource(InMemoryWeights inMemory);

    // The weights of `role`: the in-memory store, or the model set's `file`; `prefix` selects the
    // component inside a single-file checkpoint either way. take() lets go of the in-memory store.
    TensorStore open(const std::string& role, const std::filesystem::path& file,
                     const std::string& prefix = {}) const;
    TensorStore take(const std::string& role, const std::filesystem::path& file,
                     const std::string& prefix = {});
    // Whether `role` is held in memory (it has no file to hash).
    bool inMemory(const std::string& role) const;

    // The adapter: the in-memory one, else the one at `file`, else none.
    std::shared_ptr<const LoraAdapter> adapter(const std::optional<std::filesystem::path>& file) const;
    bool hasAdapter(const std::optional<std::filesystem::path>& file) const;
    bool adapterInMemory() const;

private:
    std::shared_ptr<InMemoryWeights> m_memory;  // shared by the engine's copies of the load options
};

// SHA-256 of a component's weights for the run's metadata: of its one file, or for a sharded one "shards:"
// and the start of its shards' hashes; "unavailable" when it cannot be read.
std::string weightsSha256(const std::filesystem::path& path, const std::filesystem::path& hashCache);

}  // namespace swd
