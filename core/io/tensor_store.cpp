#include "io/tensor_store.h"

#include "io/checkpoint_index.h"

#include "util/error.h"
#include "util/file_read.h"
#include "util/json_reader.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

namespace swd {

namespace fs = std::filesystem;

namespace {

bool endsWith(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "model.fp16.safetensors", "diffusion_pytorch_model.bf16-00001-of-00002.safetensors": a dtype variant.
bool isVariantName(const std::string& filename) {
    for (const char* v : {".fp16", ".bf16", ".fp32", ".fp8"})
        if (filename.find(v) != std::string::npos) return true;
    return false;
}

}  // namespace

TensorStore TensorStore::open(const fs::path& path) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) return openFolder(path);
    if (!fs::exists(path, ec)) throwBadInput("{}: no such file or folder", path.string());
    if (endsWith(path.filename().string(), ".json")) return openIndex(path);
    if (isPickleCheckpointPath(path)) return openPickle(path);
    return openFile(path);
}

std::vector<std::pair<std::string, at::Tensor>> pickleTensors(const PickleStateDict& dict) {
    std::map<const PickleStorage*, at::Tensor> storages;  // tensors sharing a storage copy it once
    std::vector<std::pair<std::string, at::Tensor>> out;
    out.reserve(dict.tensors.size());
    for (const auto& t : dict.tensors) {
        at::Tensor& base = storages[t.storage.get()];
        if (!base.defined()) {
            // A copy: the bytes sit at arbitrary offsets inside the pickle, unaligned for their type.
            base = at::empty({static_cast<std::int64_t>(t.storage->numel)},
                             at::TensorOptions().dtype(stDtypeToScalarType(t.dtype)));
            if (t.storage->numel > 0)
                std::memcpy(base.data_ptr(), t.storage->data, t.storage->numel * stDtypeSize(t.dtype));
        }
        // The reader checked the view against the storage's length.
        at::Tensor view = base.as_strided(t.shape, t.strides, t.offset);
        const bool whole =
            view.is_contiguous() && static_cast<std::uint64_t>(view.numel()) == t.storage->numel;
        out.emplace_back(t.name, whole ? view : view.clone(at::MemoryFormat::Contiguous));
    }
    return out;
}

PickleCheckpoint readPickleCheckpoint(const fs::path& file) {
    const PickleStateDict dict = readPickleStateDict(file);
    PickleCheckpoint out;
    out.key = dict.key;
    out.moduleClass = dict.moduleClass;
    out.dtype = stateDictDtype(dict);
    out.globals = dict.globals;
    out.tensors = pickleTensors(dict);
    return out;
}

TensorStore TensorStore::openPickle(const fs::path& file) {
    auto checkpoint = readPickleCheckpoint(file);
    std::map<std::string, at::Tensor> tensors(std::make_move_iterator(checkpoint.tensors.begin()),
                                              std::make_move_iterator(checkpoint.tensors.end()));
    return fromTensors(std::move(tensors), file.string());
}

TensorStore TensorStore::openFile(const fs::path& file) {
    auto data = std::make_shared<Data>();
    data->origin = file;
    auto st = SafetensorsFile::open(file);
    data->files.push_back(st);
    for (const auto& info : st->tensors()) data->entries[info.name] = Entry{st, &info, at::Tensor()};
    TensorStore store;
    store.m_data = std::move(data);
    return store;
}

TensorStore TensorStore::openIndex(const fs::path& indexJson) {
    const std::string label = indexJson.string();
    const auto entries =
        parseCheckpointIndex(readRegularFile(indexJson, "checkpoint index", kMaxCheckpointIndexBytes), label);

    auto data = std::make_shared<Data>();
    data->origin = indexJson;
    std::map<std::string, std::shared_ptr<SafetensorsFile>> shards;
    const fs::path dir = indexJson.parent_path();
    for (const auto& [tensor, shardName] : entries) {
        auto found = shards.find(shardName);
        if (found == shards.end()) {
            const fs::path shardPath = dir / shardName;
            std::error_code ec;
            if (!fs::exists(shardPath, ec))
                throwBadInput(
                    "{}: names shard '{}' (for tensor '{}'), but {} does not exist; the download is "
                    "incomplete: fetch every shard listed in the index",
                    label, cutForMessage(shardName), cutForMessage(tensor), shardPath.string());
            found = shards.emplace(shardName, SafetensorsFile::open(shardPath)).first;
            data->files.push_back(found->second);
        }
        const TensorInfo* info = found->second->find(tensor);
        if (!info)
            throwBadInput("{}: assigns tensor '{}' to shard '{}', which does not contain it", label,
                          cutForMessage(tensor), cutForMessage(shardName));
        data->entries[tensor] = Entry{found->second, info, at::Tensor()};
    }
    TensorStore store;
    store.m_data = std::move(data);
    return store;
}

TensorStore TensorStore::openFolder(const fs::path& folder) {
    std::vector<fs::path> indexes, plain, variants;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(folder, ec)) {
        const std::string name = entry.path().filename().string();
        if (endsWith(name, ".safetensors.index.json") || endsWith(name, ".safetensors.index.fp16.json")) {
            indexes.push_back(entry.path());
        } else if (endsWith(name, ".safetensors") && name.find("-of-") == std::string::npos) {
            (isVariantName(name) ? variants : plain).push_back(entry.path());
        }
    }
    if (ec) throwBadInput("{}: cannot list the folder ({})", folder.string(), ec.message());
    std::sort(indexes.begin(), indexes.end());
    std::sort(plain.begin(), plain.end());
    std::sort(variants.begin(), variants.end());
    auto preferNonVariant = [](const std::vector<fs::path>& v) {
        for (const auto& p : v)
            if (!isVariantName(p.filename().string())) return p;
        return v.front();
    };
    if (!indexes.empty()) return openIndex(preferNonVariant(indexes));
    if (plain.size() == 1) return openFile(plain.front());
    if (plain.size() > 1) {
        for (const char* preferred : {"diffusion_pytorch_model.safetensors", "model.safetensors"})
            for (const auto& p : plain)
                if (p.filename() == preferred) return openFile(p);
        std::string list;
        for (const auto& p : plain) list += " " + p.filename().string();
        throwBadInput("{}: holds several safetensors files ({} ) and no index; pass the file you mean",
                      folder.string(), list);
    }
    if (!variants.empty()) return openFile(variants.front());
    throwBadInput(
        "{}: holds no .safetensors file (only .safetensors checkpoints are read; convert .bin/.ckpt "
        "files first)",
        folder.string());
}

TensorStore TensorStore::fromTensors(std::map<std::string, at::Tensor> tensors, const std::string& origin) {
    auto data = std::make_shared<Data>();
    data->origin = origin;
    data->memoryInfos.reserve(tensors.size());
    for (auto& [name, t] : tensors) {
        TensorInfo info;
        info.name = name;
        info.dtype = scalarTypeToStDtype(t.scalar_type());
        info.shape = t.sizes().vec();
        info.end = static_cast<std::uint64_t>(t.numel()) * static_cast<std::uint64_t>(t.element_size());
        data->memoryInfos.push_back(std::move(info));
        data->entries[name] = Entry{nullptr, &data->memoryInfos.back(), std::move(t)};
    }
    TensorStore store;
    store.m_data = std::move(data);
    return store;
}

TensorStore TensorStore::withPrefix(const std::string& prefix) const {
    TensorStore view = *this;
    view.m_prefix = m_prefix + prefix;
    return view;
}

const TensorStore::Entry* TensorStore::findEntry(const std::string& name) const {
    if (!m_data) return nullptr;
    const auto it = m_data->entries.find(m_prefix + name);
    return it == m_data->entries.end() ? nullptr : &it->second;
}

bool TensorStore::has(const std::string& name) const {
    return findEntry(name) != nullptr;
}

std::vector<std::string> TensorStore::names() const {
    std::vector<std::string> out;
    if (!m_data) return out;
    for (auto it = m_data->entries.lower_bound(m_prefix); it != m_data->entries.end(); ++it) {
        if (it->first.compare(0, m_prefix.size(), m_prefix) != 0) break;
        out.push_back(it->first.substr(m_prefix.size()));
    }
    return out;
}

std::vector<std::string> TensorStore::children(const std::string& prefix) const {
    std::set<std::string> found;
    for (const auto& name : names()) {
        if (name.compare(0, prefix.size(), prefix) != 0) continue;
        const auto rest = name.substr(prefix.size());
        found.insert(rest.substr(0, rest.find('.')));
    }
    std::vector<std::string> out(found.begin(), found.end());
    std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
        const bool na = !a.empty() && std::all_of(a.begin(), a.end(), ::isdigit);
        const bool nb = !b.empty() && std::all_of(b.begin(), b.end(), ::isdigit);
        if (na && nb) return std::stoll(a) < std::stoll(b);
        return na != nb ? na : a < b;
    });
    return out;
}

const TensorInfo& TensorStore::info(const std::string& name) const {
    const Entry* e = findEntry(name);
    if (!e) throwBadInput("{}: has no tensor '{}'", describe(), m_prefix + name);
    return *e->info;
}

const fs::path& TensorStore::fileOf(const std::string& name) const {
    const Entry* e = findEntry(name);
    if (!e) throwBadInput("{}: has no tensor '{}'", describe(), m_prefix + name);
    return e->file ? e->file->path() : m_data->origin;
}

at::Tensor TensorStore::get(const std::string& name) const {
    const Entry* e = findEntry(name);
    if (!e) throwBadInput("{}: has no tensor '{}'", describe(), m_prefix + name);
    return e->file ? e->file->tensor(*e->info) : e->tensor;
}

at::Tensor TensorStore::get(const std::string& name, at::IntArrayRef expectedShape) const {
    const Entry* e = findEntry(name);
    if (!e) throwBadInput("{}: has no tensor '{}'", describe(), m_prefix + name);
    if (at::IntArrayRef(e->info->shape) != expectedShape)
        throwBadInput("{}: tensor '{}' has shape {}, expected {} (is this the right model?)",
                      e->file ? e->file->path().string() : m_data->origin.string(), e->info->name,
                      shapeToString(e->info->shape), shapeToString(expectedShape));
    return e->file ? e->file->tensor(*e->info) : e->tensor;
}

std::vector<fs::path> TensorStore::files() const {
    std::vector<fs::path> out;
    if (m_data)
        for (const auto& f : m_data->files) out.push_back(f->path());
    return out;
}

std::uint64_t TensorStore::totalBytes() const {
    std::uint64_t total = 0;
    for (const auto& name : names()) total += findEntry(name)->info->byteSize();
    return total;
}

std::map<std::string, std::string> TensorStore::metadata() const {
    if (!m_data || m_data->files.empty()) return {};
    return m_data->files.front()->metadata();
}

std::string TensorStore::describe() const {
    if (!m_data) return "(empty checkpoint)";
    if (m_prefix.empty()) return m_data->origin.string();
    return fmt::format("{} (under '{}')", m_data->origin.string(), m_prefix);
}

}  // namespace swd
