// TensorStore: the tensors of a checkpoint, whether it is one safetensors file, a sharded checkpoint
// (*.safetensors.index.json), a diffusers / transformers component folder or a pickled module
// (a SiD generator .pkl, read by the restricted reader of io/pickle_reader.h). Model loaders read weights
// through it, optionally through a name prefix ("model.diffusion_model.",
// "text_encoders.clip_l.transformer.").
#pragma once

#include "io/pickle_reader.h"
#include "io/safetensors.h"
#include "util/tensor_text.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace swd {

// A pickled module checkpoint as tensors: readPickleStateDict's views made into contiguous CPU tensors.
struct PickleCheckpoint {
    std::string key;          // top-level key that held the module ('ema' or 'G')
    std::string moduleClass;  // its class, as the pickle names it
    std::string dtype;        // "float32", "float16", or "mixed (...)"
    std::vector<std::pair<std::string, at::Tensor>> tensors;  // state_dict() order
    std::vector<std::string> globals;                         // what the file names (all allow-listed)
};

PickleCheckpoint readPickleCheckpoint(const std::filesystem::path& file);
// The tensors of a parsed state dict (each storage copied once; views made contiguous).
std::vector<std::pair<std::string, at::Tensor>> pickleTensors(const PickleStateDict& dict);

class TensorStore {
public:
    TensorStore() = default;

    // A single .safetensors file, an index json, a .pkl generator (openPickle), or a folder holding a
    // safetensors checkpoint (see openFolder).
    static TensorStore open(const std::filesystem::path& path);
    static TensorStore openFile(const std::filesystem::path& file);
    // `*.safetensors.index.json` ({"weight_map": {name: shard}}); every shard must exist and hold the
    // tensors the index assigns to it.
    static TensorStore openIndex(const std::filesystem::path& indexJson);
    // A component folder: its index json if there is one, else its single .safetensors file
    // (a non-variant file is preferred over .fp16 / .bf16 variants).
    static TensorStore openFolder(const std::filesystem::path& folder);
    // A pickled module (`{'ema': UNet2DConditionModel}`): its state dict, copied into memory.
    static TensorStore openPickle(const std::filesystem::path& file);

    // An in-memory store (tests, random-weight models for benchmarks, converted checkpoints).
    // `origin` names it in messages.
    static TensorStore fromTensors(std::map<std::string, at::Tensor> tensors, const std::string& origin);

    // A view whose names are the names under `prefix` with the prefix removed.
    TensorStore withPrefix(const std::string& prefix) const;
    const std::string& prefix() const { return m_prefix; }

    bool empty() const { return names().empty(); }
    bool has(const std::string& name) const;
    std::vector<std::string> names() const;  // sorted
    // Names directly below `prefix` (e.g. "transformer_blocks." -> {"0", "1", ...}), sorted numerically.
    std::vector<std::string> children(const std::string& prefix) const;
    const TensorInfo& info(const std::string& name) const;
    // Where a tensor lives (the file, for messages).
    const std::filesystem::path& fileOf(const std::string& name) const;

    // The tensor as stored (zero-copy where possible). Throws BadInput naming the checkpoint when absent.
    at::Tensor get(const std::string& name) const;
    // Same, checking the shape; the error names the file, tensor, found and expected shapes.
    at::Tensor get(const std::string& name, at::IntArrayRef expectedShape) const;

    std::vector<std::filesystem::path> files() const;
    std::uint64_t totalBytes() const;  // tensor data under this view
    // Metadata of the first file (safetensors __metadata__).
    std::map<std::string, std::string> metadata() const;
    // What this store is, for messages: the path it was opened from (and the prefix).
    std::string describe() const;

private:
    struct Entry {
        std::shared_ptr<SafetensorsFile> file;  // null for in-memory tensors
        const TensorInfo* info = nullptr;
        at::Tensor tensor;  // in-memory tensors
    };
    struct Data {
        std::filesystem::path origin;
        std::vector<std::shared_ptr<SafetensorsFile>> files;
        std::map<std::string, Entry> entries;
        std::vector<TensorInfo> memoryInfos;  // infos of in-memory tensors (entries point here)
    };

    const Entry* findEntry(const std::string& name) const;

    std::shared_ptr<const Data> m_data;
    std::string m_prefix;
};

}  // namespace swd
