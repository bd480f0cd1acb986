#include "io/safetensors.h"

#include "util/error.h"
#include "util/file_read.h"
#include "util/torch_compat.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

namespace swd {

at::ScalarType stDtypeToScalarType(StDtype dtype) {
    switch (dtype) {
        case StDtype::F64:
            return at::kDouble;
        case StDtype::F32:
            return at::kFloat;
        case StDtype::F16:
            return at::kHalf;
        case StDtype::BF16:
            return at::kBFloat16;
        case StDtype::I64:
            return at::kLong;
        case StDtype::I32:
            return at::kInt;
        case StDtype::I16:
            return at::kShort;
        case StDtype::I8:
            return at::kChar;
        case StDtype::U8:
            return at::kByte;
        case StDtype::BOOL:
            return at::kBool;
        case StDtype::F8_E4M3:
        case StDtype::F8_E5M2:
            return at::kBFloat16;
        case StDtype::U16:
        case StDtype::U32:
        case StDtype::U64:
            break;
    }
    throwUnsupported("safetensors dtype {} has no libtorch equivalent in this build", stDtypeName(dtype));
}

StDtype scalarTypeToStDtype(at::ScalarType type) {
    switch (type) {
        case at::kDouble:
            return StDtype::F64;
        case at::kFloat:
            return StDtype::F32;
        case at::kHalf:
            return StDtype::F16;
        case at::kBFloat16:
            return StDtype::BF16;
        case at::kLong:
            return StDtype::I64;
        case at::kInt:
            return StDtype::I32;
        case at::kShort:
            return StDtype::I16;
        case at::kChar:
            return StDtype::I8;
        case at::kByte:
            return StDtype::U8;
        case at::kBool:
            return StDtype::BOOL;
        default:
            break;
    }
    throwUnsupported("libtorch dtype {} cannot be written to safetensors", c10::toString(type));
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::filesystem::path& path) {
    const std::string label = path.string();
    struct stat st {};
    UniqueFd fd = openRegularFile(path, "safetensors file", &st);
    std::shared_ptr<SafetensorsFile> file(new SafetensorsFile());
    file->m_path = path;
    file->m_size = static_cast<std::uint64_t>(st.st_size);
    if (file->m_size < 8) parseSafetensorsHeader(nullptr, 0, file->m_size, label);  // throws "truncated"
    // Private and writable: tensors that are modified in place get their own pages; NORESERVE keeps
    // a 16 GB mapping from counting against the commit limit.
    void* map =
        ::mmap(nullptr, file->m_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd.get(), 0);
    const int mapErr = errno;
    fd = UniqueFd();
    if (map == MAP_FAILED) throwBadInput("{}: cannot map the file ({})", label, std::strerror(mapErr));
    file->m_map = map;
    file->m_header =
        parseSafetensorsHeader(static_cast<const std::uint8_t*>(map), file->m_size, file->m_size, label);
    for (std::size_t i = 0; i < file->m_header.tensors.size(); ++i)
        file->m_index.emplace(file->m_header.tensors[i].name, i);
    return file;
}

SafetensorsFile::~SafetensorsFile() {
    if (m_map) ::munmap(m_map, m_size);
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
    const auto it = m_index.find(name);
    return it == m_index.end() ? nullptr : &m_header.tensors[it->second];
}

const TensorInfo& SafetensorsFile::info(const std::string& name) const {
    const TensorInfo* found = find(name);
    if (!found) throwBadInput("{}: has no tensor named '{}'", m_path.string(), name);
    return *found;
}

const std::uint8_t* SafetensorsFile::data(const TensorInfo& info) const {
    return static_cast<const std::uint8_t*>(m_map) + m_header.dataOffset + info.begin;
}

at::Tensor SafetensorsFile::tensor(const std::string& name) const {
    return tensor(info(name));
}

at::Tensor SafetensorsFile::tensor(const TensorInfo& info) const {
    if (info.dtype == StDtype::F8_E4M3 || info.dtype == StDtype::F8_E5M2)
        return float8ToBFloat16(data(info), info.numel(), info.dtype, info.shape);
    if (info.dtype == StDtype::U16 || info.dtype == StDtype::U32 || info.dtype == StDtype::U64)
        throwUnsupported("{}: tensor '{}' is {}, which libtorch {} cannot hold", m_path.string(), info.name,
                         stDtypeName(info.dtype), compat::torchVersionString());
    const auto options = at::TensorOptions().dtype(stDtypeToScalarType(info.dtype));
    auto* ptr = const_cast<std::uint8_t*>(data(info));
    if (info.byteSize() == 0) return at::empty(info.shape, options);
    if (reinterpret_cast<std::uintptr_t>(ptr) % stDtypeSize(info.dtype) != 0) {
        at::Tensor copy = at::empty(info.shape, options);
        std::memcpy(copy.data_ptr(), ptr, info.byteSize());
        return copy;
    }
    auto self = shared_from_this();
    return at::from_blob(
        ptr, info.shape, [self](void*) {}, options);
}

at::Tensor float8ToBFloat16(const std::uint8_t* data, std::uint64_t count, StDtype dtype,
                            const std::vector<int64_t>& shape) {
    static const auto tables = [] {
        std::array<std::array<float, 256>, 2> t{};
        for (int b = 0; b < 256; ++b) {
            const float sign = (b & 0x80) ? -1.0f : 1.0f;
            // E4M3FN: 4 exponent bits (bias 7), 3 mantissa bits, no infinities, S.1111.111 is NaN.
            {
                const int e = (b >> 3) & 0xF, m = b & 0x7;
                float v;
                if (e == 0xF && m == 0x7)
                    v = std::numeric_limits<float>::quiet_NaN();
                else if (e == 0)
                    v = std::ldexp(static_cast<float>(m) / 8.0f, -6);
                else
                    v = std::ldexp(1.0f + static_cast<float>(m) / 8.0f, e - 7);
                t[0][b] = sign * v;
            }
            // E5M2: 5 exponent bits (bias 15), 2 mantissa bits, IEEE infinities and NaNs.
            {
                const int e = (b >> 2) & 0x1F, m = b & 0x3;
                float v;
                if (e == 0x1F)
                    v = m == 0 ? std::numeric_limits<float>::infinity()
                               : std::numeric_limits<float>::quiet_NaN();
                else if (e == 0)
                    v = std::ldexp(static_cast<float>(m) / 4.0f, -14);
                else
                    v = std::ldexp(1.0f + static_cast<float>(m) / 4.0f, e - 15);
                t[1][b] = sign * v;
            }
        }
        return t;
    }();
    const auto& table = tables[dtype == StDtype::F8_E4M3 ? 0 : 1];
    at::Tensor out = at::empty(shape, at::TensorOptions().dtype(at::kBFloat16));
    auto* dst = out.data_ptr<at::BFloat16>();
    for (std::uint64_t i = 0; i < count; ++i) dst[i] = at::BFloat16(table[data[i]]);
    return out;
}

void saveSafetensors(const std::filesystem::path& path,
                     const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                     const std::map<std::string, std::string>& metadata) {
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::vector<at::Tensor> contiguous;
    contiguous.reserve(tensors.size());
    std::set<std::string> names;
    std::uint64_t offset = 0;
    for (const auto& [name, t] : tensors) {
        if (!names.insert(name).second)
            throwInternal("saveSafetensors({}): duplicate tensor name '{}'", path.string(), name);
        if (!t.defined()) throwInternal("saveSafetensors({}): tensor '{}' is undefined", path.string(), name);
        at::Tensor c = t.to(at::kCPU).contiguous();
        const StDtype dtype = scalarTypeToStDtype(c.scalar_type());
        const std::uint64_t bytes = static_cast<std::uint64_t>(c.numel()) * stDtypeSize(dtype);
        header[name] = {{"dtype", stDtypeName(dtype)},
                        {"shape", c.sizes().vec()},
                        {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
        contiguous.push_back(std::move(c));
    }
    std::string json = header.dump();
    json.append((8 - json.size() % 8) % 8, ' ');  // data starts 8-byte aligned

    std::filesystem::path tmp = path;
    tmp += fmt::format(".tmp{}", std::random_device{}());
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) throwBadInput("{}: cannot create file", tmp.string());
        std::uint8_t len[8];
        std::uint64_t n = json.size();
        for (int i = 0; i < 8; ++i) len[i] = static_cast<std::uint8_t>(n >> (8 * i));
        out.write(reinterpret_cast<const char*>(len), 8);
        out.write(json.data(), static_cast<std::streamsize>(json.size()));
        for (const auto& c : contiguous)
            out.write(static_cast<const char*>(c.data_ptr()),
                      static_cast<std::streamsize>(c.numel() * static_cast<int64_t>(c.element_size())));
        out.flush();
        if (!out) {
            std::error_code ec;
            std::filesystem::remove(tmp, ec);
            throwBadInput("{}: write failed (disk full?)", tmp.string());
        }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        std::filesystem::remove(tmp, ec);
        throwBadInput("{}: cannot rename the written file into place ({})", path.string(), ec.message());
    }
}

}  // namespace swd
