#include "io/safetensors_header.h"

#include "util/error.h"
#include "util/json_reader.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <limits>
#include <nlohmann/json.hpp>

namespace swd {

namespace {

struct DtypeEntry {
    StDtype dtype;
    const char* name;
    std::size_t size;
};

// Pinned to the enum order by the static_assert below.
constexpr std::array<DtypeEntry, 15> kDtypes = {{
    {StDtype::F64, "F64", 8},
    {StDtype::F32, "F32", 4},
    {StDtype::F16, "F16", 2},
    {StDtype::BF16, "BF16", 2},
    {StDtype::I64, "I64", 8},
    {StDtype::I32, "I32", 4},
    {StDtype::I16, "I16", 2},
    {StDtype::I8, "I8", 1},
    {StDtype::U8, "U8", 1},
    {StDtype::BOOL, "BOOL", 1},
    {StDtype::F8_E4M3, "F8_E4M3", 1},
    {StDtype::F8_E5M2, "F8_E5M2", 1},
    {StDtype::U16, "U16", 2},
    {StDtype::U32, "U32", 4},
    {StDtype::U64, "U64", 8},
}};
static_assert(static_cast<int>(StDtype::U64) == 14, "kDtypes must list every StDtype in enum order");

std::string knownDtypeList() {
    std::string out;
    for (const auto& d : kDtypes) {
        if (!out.empty()) out += ", ";
        out += d.name;
    }
    return out;
}

bool parseDtype(const std::string& name, StDtype* out) {
    for (const auto& d : kDtypes) {
        if (name == d.name) {
            *out = d.dtype;
            return true;
        }
    }
    return false;
}

std::uint64_t readLe64(const std::uint8_t* p) {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

std::string shapeString(const std::vector<int64_t>& shape) {
    return fmt::format("[{}]", fmt::join(shape, ", "));
}

bool readUnsigned(const nlohmann::json& value, std::uint64_t* out) {
    if (!value.is_number_unsigned()) {
        if (value.is_number_integer() && value.get<int64_t>() >= 0) {
            *out = static_cast<std::uint64_t>(value.get<int64_t>());
            return true;
        }
        return false;
    }
    *out = value.get<std::uint64_t>();
    return true;
}

TensorInfo parseEntry(const std::string& fullName, const nlohmann::json& entry, const std::string& label) {
    const std::string name = cutForMessage(fullName);  // names in messages stay short
    if (!entry.is_object())
        throwBadInput("{}: header entry for tensor '{}' is not an object (found {})", label, name,
                      entry.type_name());
    TensorInfo info;
    info.name = fullName;

    const auto dtypeIt = entry.find("dtype");
    if (dtypeIt == entry.end() || !dtypeIt->is_string())
        throwBadInput("{}: tensor '{}' has no \"dtype\" string", label, name);
    if (!parseDtype(dtypeIt->get<std::string>(), &info.dtype))
        throwBadInput("{}: tensor '{}' has unknown dtype '{}' (known: {})", label, name,
                      cutForMessage(dtypeIt->get<std::string>()), knownDtypeList());

    const auto shapeIt = entry.find("shape");
    if (shapeIt == entry.end() || !shapeIt->is_array())
        throwBadInput("{}: tensor '{}' has no \"shape\" array", label, name);
    for (std::size_t i = 0; i < shapeIt->size(); ++i) {
        const auto& dim = (*shapeIt)[i];
        std::uint64_t d = 0;
        if (!readUnsigned(dim, &d) || d > static_cast<std::uint64_t>(std::numeric_limits<int64_t>::max()))
            throwBadInput(
                "{}: tensor '{}' has an invalid shape: dimension {} is {} (dimensions must be "
                "non-negative integers)",
                label, name, i, describeJson(dim));
        info.shape.push_back(static_cast<int64_t>(d));
    }

    const auto offIt = entry.find("data_offsets");
    if (offIt == entry.end() || !offIt->is_array() || offIt->size() != 2 ||
        !readUnsigned((*offIt)[0], &info.begin) || !readUnsigned((*offIt)[1], &info.end))
        throwBadInput("{}: tensor '{}' needs \"data_offsets\": [begin, end] with non-negative integers",
                      label, name);
    if (info.end < info.begin)
        throwBadInput("{}: tensor '{}' has data_offsets [{}, {}] that end before they begin", label, name,
                      info.begin, info.end);

    // numel x element size, with overflow checks: a huge shape must not wrap around to a small size.
    std::uint64_t bytes = stDtypeSize(info.dtype);
    for (int64_t d : info.shape) {
        const auto ud = static_cast<std::uint64_t>(d);
        if (ud != 0 && bytes > std::numeric_limits<std::uint64_t>::max() / ud)
            throwBadInput("{}: tensor '{}' has shape {} whose size overflows 64 bits", label, name,
                          shapeString(info.shape));
        bytes *= ud;
    }
    if (info.end - info.begin != bytes)
        throwBadInput(
            "{}: tensor '{}' has data_offsets [{}, {}] ({} bytes) but shape {} of {} needs {} bytes", label,
            name, info.begin, info.end, info.end - info.begin, shapeString(info.shape),
            stDtypeName(info.dtype), bytes);
    return info;
}

}  // namespace

const char* stDtypeName(StDtype dtype) {
    return kDtypes[static_cast<std::size_t>(dtype)].name;
}

std::size_t stDtypeSize(StDtype dtype) {
    return kDtypes[static_cast<std::size_t>(dtype)].size;
}

std::uint64_t TensorInfo::numel() const {
    std::uint64_t n = 1;
    for (int64_t d : shape) n *= static_cast<std::uint64_t>(d);
    return n;
}

SafetensorsHeader parseSafetensorsHeader(const std::uint8_t* bytes, std::size_t available,
                                         std::uint64_t fileSize, const std::string& label) {
    if (fileSize < 8)
        throwBadInput("{}: truncated file ({} bytes); a safetensors file starts with an 8-byte header length",
                      label, fileSize);
    if (available < 8) throwInternal("{}: parser was given {} of {} bytes", label, available, fileSize);
    const std::uint64_t headerLen = readLe64(bytes);
    if (headerLen > kMaxSafetensorsHeaderBytes)
        throwBadInput(
            "{}: header length {} is absurd (limit {} bytes); this is not a safetensors file or it "
            "is corrupt",
            label, headerLen, kMaxSafetensorsHeaderBytes);
    if (headerLen > fileSize - 8)
        throwBadInput(
            "{}: header length {} reaches past the end of the file ({} bytes); the file is truncated "
            "or not a safetensors file",
            label, headerLen, fileSize);
    if (available < 8 + headerLen)
        throwInternal("{}: parser was given {} bytes, header needs {}", label, available, 8 + headerLen);

    SafetensorsHeader header;
    header.dataOffset = 8 + headerLen;
    const std::uint64_t dataSize = fileSize - header.dataOffset;

    // Duplicate names would silently keep the last entry: refused, as the reference implementation does.
    JsonLimits limits;
    limits.maxBytes = kMaxSafetensorsHeaderBytes;
    limits.rejectDuplicateKeys = true;
    limits.duplicateKeyNoun = "tensor name";
    const char* begin = reinterpret_cast<const char*>(bytes + 8);
    const nlohmann::json root =
        parseJson(std::string_view(begin, static_cast<std::size_t>(headerLen)), label, limits);
    if (!root.is_object())
        throwBadInput("{}: the header must be a JSON object (found {})", label, root.type_name());

    for (auto it = root.begin(); it != root.end(); ++it) {
        if (it.key() == "__metadata__") {
            if (!it->is_object()) throwBadInput("{}: \"__metadata__\" must be an object of strings", label);
            for (auto m = it->begin(); m != it->end(); ++m) {
                if (!m->is_string())
                    throwBadInput("{}: metadata value '{}' must be a string (found {})", label,
                                  cutForMessage(m.key()), describeJson(*m));
                header.metadata[m.key()] = m->get<std::string>();
            }
            continue;
        }
        TensorInfo info = parseEntry(it.key(), *it, label);
        if (info.end > dataSize)
            throwBadInput(
                "{}: tensor '{}' has data_offsets [{}, {}] beyond the data section ({} bytes); the file "
                "is truncated or corrupt",
                label, cutForMessage(info.name), info.begin, info.end, dataSize);
        header.tensors.push_back(std::move(info));
    }

    std::sort(header.tensors.begin(), header.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    const TensorInfo* previous = nullptr;
    for (const auto& info : header.tensors) {
        if (info.byteSize() == 0) continue;  // empty tensors occupy no bytes
        if (previous && info.begin < previous->end)
            throwBadInput("{}: tensors '{}' [{}, {}] and '{}' [{}, {}] overlap in the data section", label,
                          cutForMessage(previous->name), previous->begin, previous->end,
                          cutForMessage(info.name), info.begin, info.end);
        previous = &info;
    }
    return header;
}

}  // namespace swd
