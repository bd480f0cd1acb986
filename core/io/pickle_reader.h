// A restricted reader for Python pickles of torch modules (the SiD generator checkpoints:
// `pickle.dump({'ema': UNet2DConditionModel})`). It is a small pickle VM for protocols 2–5 that never
// calls anything from the file: globals resolve against an allow-list (torch's tensor / parameter /
// storage rebuild functions, storage types, collections.OrderedDict, copyreg._reconstructor, a few
// builtins, and classes under `torch.nn.modules.` and `diffusers.`, which become inert records);
// every other global, and every opcode the files do not need, is refused with its name and offset.
// Each storage is a nested legacy `torch.save` blob (`torch.storage._load_from_bytes`), read by the same
// VM. Everything is bounded (stack, memo, lengths against the file, views against their storage,
// nesting). Kept free of libtorch so the libFuzzer target builds it alone; the tensors are made in
// io/tensor_store.cpp (readPickleCheckpoint).
#pragma once

#include "io/safetensors_header.h"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace swd {

// Bounds of the VM. The defaults are far above what a real checkpoint needs (the SD1.5 UNet pickle has
// ~17k memo entries, a stack depth below 30 and one level of nested blobs).
struct PickleLimits {
    std::size_t maxStack = 1u << 20;   // values on the stack
    std::size_t maxMarks = 1u << 16;   // open MARKs
    std::size_t maxMemo = 1u << 20;    // memo index (the SD1.5 file uses ~17k)
    std::size_t maxValues = 1u << 22;  // objects made in one file
    int maxBlobNesting = 1;            // levels of `_load_from_bytes` blobs (files have exactly one)
    int maxModuleDepth = 64;           // nested `_modules`
    std::size_t maxModuleVisits = 1u << 20;
};

// One storage: `numel` elements of `dtype` at `data` (inside the parsed buffer; not aligned).
struct PickleStorage {
    StDtype dtype = StDtype::F32;
    const std::uint8_t* data = nullptr;
    std::uint64_t numel = 0;
    std::string key;  // the legacy blob's storage key, for messages
};

// A tensor as `torch._utils._rebuild_tensor_v2` describes it: a strided view of a storage (checked to
// lie inside it).
struct PickleTensor {
    std::string name;  // dotted, as state_dict() names it
    StDtype dtype = StDtype::F32;
    std::vector<std::int64_t> shape;
    std::vector<std::int64_t> strides;  // in elements
    std::int64_t offset = 0;            // in elements
    std::shared_ptr<const PickleStorage> storage;

    std::uint64_t numel() const;
};

struct PickleStateDict {
    std::string key;          // top-level key that held the module ('ema', 'G'); empty when none
    std::string moduleClass;  // e.g. "diffusers.models.unets.unet_2d_condition.UNet2DConditionModel"
    std::vector<PickleTensor> tensors;      // state_dict() order: _parameters, _buffers, then _modules
    std::vector<std::string> globals;       // the distinct globals the file names, sorted
    std::shared_ptr<const void> keepAlive;  // owner of the bytes the storages point into
};

// torch's name of a dtype ("float32", "float16", "bfloat16", ...), as case.json and Python say it.
const char* torchDtypeName(StDtype dtype);

// The dtype of all tensors ("float16"), or "mixed (float32, float16)" when they differ.
std::string stateDictDtype(const PickleStateDict& dict);

// Whether GLOBAL `module name` is on the allow-list (without saying what it is used for).
bool pickleGlobalAllowed(const std::string& module, const std::string& name);

// Parses `size` bytes of a pickle and returns the state dict of the module it holds: the value of key
// 'ema' (else 'G') of a top-level dict, a module pickled alone, or a dict of tensors. The storages point
// into `data`, which must outlive the result (set keepAlive to its owner). Throws BadInput naming
// `label`, the byte offset and what was refused or wrong.
PickleStateDict parsePickleStateDict(const std::uint8_t* data, std::size_t size, const std::string& label,
                                     const PickleLimits& limits = {});

// The same for a file, mapped read-only (keepAlive holds the mapping).
PickleStateDict readPickleStateDict(const std::filesystem::path& path, const PickleLimits& limits = {});

// Whether a path looks like a pickle checkpoint (.pkl / .pickle), by its name.
bool isPickleCheckpointPath(const std::filesystem::path& path);

}  // namespace swd
