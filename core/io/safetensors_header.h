// safetensors header parsing and validation. Kept free of libtorch so the libFuzzer target can build it
// alone. Format: 8-byte little-endian header length N, N bytes of JSON
// {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}, then the data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace swd {

// Element types a safetensors file can hold. F8 types are widened to bf16 on load (libtorch 1.13 has
// no float8); U16/U32/U64 are recognised but cannot be loaded into a libtorch 1.13 tensor.
enum class StDtype { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL, F8_E4M3, F8_E5M2, U16, U32, U64 };

const char* stDtypeName(StDtype dtype);
std::size_t stDtypeSize(StDtype dtype);

struct TensorInfo {
    std::string name;
    StDtype dtype = StDtype::F32;
    std::vector<int64_t> shape;
    std::uint64_t begin = 0;  // offsets relative to the start of the data section
    std::uint64_t end = 0;

    std::uint64_t numel() const;
    std::uint64_t byteSize() const { return end - begin; }
};

struct SafetensorsHeader {
    std::vector<TensorInfo> tensors;  // in file order of their data
    std::map<std::string, std::string> metadata;
    std::uint64_t dataOffset = 0;  // 8 + header length
};

// Largest header accepted (the reference implementation's limit). A length beyond it is not a
// safetensors file, whatever the rest says.
inline constexpr std::uint64_t kMaxSafetensorsHeaderBytes = 100ull * 1024 * 1024;

// Parses and validates the header at the start of `bytes` (the whole file, or at least its first
// 8 + N bytes when fileSize says how long the file is). Throws swd::Error(BadInput) naming `label`
// (the file) and the tensor for: truncated file, header length past the end or absurd, invalid JSON,
// an entry that is not an object, unknown dtype, bad shape, offsets out of range, overlapping or not
// matching shape x dtype, duplicate names, non-string metadata.
SafetensorsHeader parseSafetensorsHeader(const std::uint8_t* bytes, std::size_t available,
                                         std::uint64_t fileSize, const std::string& label);

}  // namespace swd
