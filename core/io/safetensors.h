// safetensors files: reading (mmap, zero-copy tensors) and writing. Header validation is in
// safetensors_header.h.
#pragma once

#include "io/safetensors_header.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace swd {

// The libtorch type a tensor of this dtype is loaded as (bf16 for the F8 types).
at::ScalarType stDtypeToScalarType(StDtype dtype);
StDtype scalarTypeToStDtype(at::ScalarType type);

// A safetensors file mapped into memory. Tensors returned by tensor() point into the mapping (no copy)
// and keep it alive; the mapping is private copy-on-write, so writing to a tensor never touches the file.
class SafetensorsFile : public std::enable_shared_from_this<SafetensorsFile> {
public:
    static std::shared_ptr<SafetensorsFile> open(const std::filesystem::path& path);
    ~SafetensorsFile();
    SafetensorsFile(const SafetensorsFile&) = delete;
    SafetensorsFile& operator=(const SafetensorsFile&) = delete;

    const std::filesystem::path& path() const { return m_path; }
    std::uint64_t fileSize() const { return m_size; }
    const std::vector<TensorInfo>& tensors() const { return m_header.tensors; }
    const std::map<std::string, std::string>& metadata() const { return m_header.metadata; }
    bool contains(const std::string& name) const { return m_index.count(name) != 0; }
    const TensorInfo* find(const std::string& name) const;
    const TensorInfo& info(const std::string& name) const;  // throws BadInput naming the file

    // Zero-copy for every dtype libtorch has (copy only when the data is misaligned for its type);
    // F8 data is converted to a new bf16 tensor.
    at::Tensor tensor(const std::string& name) const;
    at::Tensor tensor(const TensorInfo& info) const;

    // Raw bytes of a tensor's data (for hashing and checks).
    const std::uint8_t* data(const TensorInfo& info) const;

private:
    SafetensorsFile() = default;

    std::filesystem::path m_path;
    void* m_map = nullptr;
    std::uint64_t m_size = 0;
    SafetensorsHeader m_header;
    std::map<std::string, std::size_t> m_index;
};

// Writes tensors (any libtorch dtype the format has; moved to CPU, made contiguous) and string
// metadata. The file is written to a temporary name and renamed, so readers never see half a file.
void saveSafetensors(const std::filesystem::path& path,
                     const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                     const std::map<std::string, std::string>& metadata = {});

// F8 (E4M3FN / E5M2) bytes to bf16, exact (every F8 value is representable in bf16).
at::Tensor float8ToBFloat16(const std::uint8_t* data, std::uint64_t count, StDtype dtype,
                            const std::vector<int64_t>& shape);

}  // namespace swd
