// swd inspect PATH [--all]: what a weight file or folder holds (tensors summarised by block, dtype,
// shape, bytes) and what it is (model kind, layout, match against the real models' manifests; LoRA
// rank, alpha, scale and the base it fits). Images get their own branch (generation metadata), and so do
// pickled SiD generators (.pkl, read by the restricted pickle reader without running anything).
#include "catalog/model_discovery.h"
#include "cli_common.h"
#include "image/image_io.h"
#include "io/tensor_store.h"
#include "pipeline/generation_request.h"
#include "util/error.h"
#include "util/tensor_text.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

namespace swd::cli {

namespace fs = std::filesystem;

namespace {

// "2469663936" -> "2,469,663,936"
std::string withThousands(std::uint64_t v) {
    std::string s = std::to_string(v);
    for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<std::size_t>(i), ",");
    return s;
}

bool isDigits(const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

// Prefixes that name a component or an adapter format rather than a module: kept whole in group labels.
constexpr std::array<const char*, 7> kGroupPrefixes = {"model.diffusion_model.",
                                                       "first_stage_model.",
                                                       "text_encoders.clip_l.transformer.",
                                                       "text_encoders.clip_g.transformer.",
                                                       "text_encoders.t5xxl.transformer.",
                                                       "base_model.model.",
                                                       "transformer."};

// The group of a tensor for the summary: the name up to its first block index ("transformer_blocks.{}"),
// or its first module ("pos_embed"), after any component prefix. The index is returned separately.
std::pair<std::string, int> groupOf(const std::string& name) {
    std::string prefix;
    for (const char* p : kGroupPrefixes)
        if (name.compare(0, std::strlen(p), p) == 0) {
            prefix = p;
            break;
        }
    std::vector<std::string> parts;
    std::size_t start = prefix.size();
    while (start <= name.size()) {
        auto dot = name.find('.', start);
        if (dot == std::string::npos) dot = name.size();
        parts.push_back(name.substr(start, dot - start));
        start = dot + 1;
    }
    for (std::size_t i = 1; i + 1 < parts.size(); ++i) {
        if (!isDigits(parts[i]) || parts[i].size() > 6) continue;
        std::string key = prefix;
        for (std::size_t j = 0; j < i; ++j) key += parts[j] + ".";
        return {key + "{}", std::stoi(parts[i])};
    }
    return {prefix + parts.front(), -1};
}

struct Group {
    std::set<int> indices;
    std::size_t tensors = 0;
    std::uint64_t params = 0, bytes = 0;
    std::map<StDtype, std::size_t> dtypes;
};

std::string groupLabel(const std::string& key, const Group& g) {
    if (g.indices.empty()) return key + ".*";
    std::vector<int> idx(g.indices.begin(), g.indices.end());
    std::string label = key;
    const std::string range = idx.size() == 1 ? std::to_string(idx[0]) : "{" + formatIndexRanges(idx) + "}";
    label.replace(label.find("{}"), 2, range);
    return label + ".*";
}

void printTensors(const TensorStore& store, bool all) {
    const auto names = store.names();
    std::uint64_t params = 0, bytes = 0;
    std::map<StDtype, std::size_t> dtypes;
    if (all) {
        fmt::print("    {:<72} {:<8} {:<22} {:>12}\n", "NAME", "DTYPE", "SHAPE", "BYTES");
        for (const auto& n : names) {
            const auto& info = store.info(n);
            fmt::print("    {:<72} {:<8} {:<22} {:>12}\n", n, stDtypeName(info.dtype),
                       shapeToString(info.shape), withThousands(info.byteSize()));
            params += info.numel();
            bytes += info.byteSize();
            ++dtypes[info.dtype];
        }
    } else {
        std::map<std::string, Group> groups;
        std::vector<std::string> order;
        for (const auto& n : names) {
            const auto [key, index] = groupOf(n);
            auto [it, fresh] = groups.try_emplace(key);
            if (fresh) order.push_back(key);
            Group& g = it->second;
            const auto& info = store.info(n);
            if (index >= 0) g.indices.insert(index);
            ++g.tensors;
            g.params += info.numel();
            g.bytes += info.byteSize();
            ++g.dtypes[info.dtype];
            params += info.numel();
            bytes += info.byteSize();
            ++dtypes[info.dtype];
        }
        fmt::print("    {:<58} {:>7} {:>16} {:>10}  {}\n", "GROUP", "TENSORS", "PARAMS", "SIZE", "DTYPE");
        for (const auto& key : order) {
            const Group& g = groups[key];
            fmt::print("    {:<58} {:>7} {:>16} {:>10}  {}\n", groupLabel(key, g), g.tensors,
                       withThousands(g.params), formatByteSize(g.bytes), formatDtypes(g.dtypes));
        }
    }
    fmt::print("    {:<58} {:>7} {:>16} {:>10}  {}\n", "total", names.size(), withThousands(params),
               formatByteSize(bytes), formatDtypes(dtypes));
}

void printMatch(const ComponentMatch& m) {
    const std::string where = m.prefix.empty() ? std::string() : fmt::format("[{}*] ", m.prefix);
    fmt::print("    {}: {}{}\n", componentKindName(m.kind), where, m.headline());
    for (const auto& d : m.details()) fmt::print("      {}\n", d);
}

// Image files: the generation metadata (written by core/image). Kept as its own branch.
bool looksLikeImage(const fs::path& path) {
    std::string ext = path.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
    if (ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".exr" || ext == ".tif" ||
        ext == ".tiff" || ext == ".webp")
        return true;
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) return false;  // a FIFO would block the read below
    std::ifstream in(path, std::ios::binary);
    char magic[8] = {};
    in.read(magic, 8);
    return in.gcount() == 8 && std::memcmp(magic, "\x89PNG\r\n\x1a\n", 8) == 0;
}

// The run stored in an image: SwD Studio's JSON record (the whole request), else A1111 "parameters".
int inspectImage(const fs::path& path) {
    const ImageMetadata meta = readImageMetadata(path);
    const RgbImage8 pixels = readImageRgb8(path);
    fmt::print("{}: image {}x{}\n", path.string(), pixels.width, pixels.height);
    if (meta.request.empty() && meta.parameters.empty()) {
        fmt::print("  no generation metadata (not written by SwD Studio or A1111)\n");
        return 0;
    }
    if (!meta.request.empty()) {
        const ImageRecord rec = parseImageRecord(meta.request, path.string());
        const GenerationRequest& r = rec.request;
        const Schedule& s = r.schedule;
        fmt::print("  prompt:          {}\n", r.prompt);
        if (s.guidance > 1.0) fmt::print("  negative prompt: {}\n", r.negativePrompt);
        fmt::print("  seed:            {}\n", r.seed);
        fmt::print("  schedule:        {} ({}, {} steps, guidance {:g}, T5 {} tokens)\n", s.name,
                   samplerId(s.sampler), s.stepCount(), s.guidance, s.t5Length);
        fmt::print("  scales:          {}\n", fmt::join(s.scales, ", "));
        fmt::print("  sigmas:          {}\n", fmt::join(s.sigmas, ", "));
        fmt::print("  model:           {}\n", rec.provenance.modelName);
        if (!rec.provenance.modelHash.empty())
            fmt::print("  model sha256:    {}\n", rec.provenance.modelHash);
        if (!rec.provenance.adapterName.empty())
            fmt::print("  adapter:         {} ({})\n", rec.provenance.adapterName,
                       rec.provenance.adapterHash);
        fmt::print("  made with:       {} on {} ({}), {:.2f} s\n", rec.provenance.version,
                   rec.provenance.deviceUsed, rec.provenance.dtypeUsed, rec.provenance.totalMs / 1000.0);
        fmt::print("  model files:     {}\n", rec.provenance.modelIdentity);
        fmt::print("\nrequest (JSON, what 'Open image' restores):\n{}\n", requestToJson(r).dump(2));
    }
    if (!meta.parameters.empty()) fmt::print("\nparameters (A1111):\n{}\n", meta.parameters);
    return 0;
}

// A pickled module (SiD generator): which key held it, its class and dtype, then the tensors as for
// safetensors. A refused pickle throws BadInput (exit 2) naming what was refused.
int inspectPickle(const fs::path& path, bool all) {
    PickleCheckpoint ckpt = readPickleCheckpoint(path);
    fmt::print("{}\n", path.string());
    fmt::print("  pickled module {} under key '{}' ({}, {} tensors)\n", ckpt.moduleClass,
               ckpt.key.empty() ? std::string("(none)") : ckpt.key, ckpt.dtype, ckpt.tensors.size());
    fmt::print("  read without running code: {} globals, all on the reader's allow-list\n",
               ckpt.globals.size());
    if (all)
        for (const auto& g : ckpt.globals) fmt::print("    {}\n", g);
    std::map<std::string, at::Tensor> tensors(std::make_move_iterator(ckpt.tensors.begin()),
                                              std::make_move_iterator(ckpt.tensors.end()));
    fmt::print("  state dict:\n");
    printTensors(TensorStore::fromTensors(std::move(tensors), path.string()), all);
    fmt::print("  to load it like a diffusers UNet: swd convert {} --out NAME.safetensors\n", path.string());
    return 0;
}

int inspectWeights(const fs::path& path, bool all) {
    const auto models = identifyPath(path, "argument");
    if (models.size() == 1 && models.front().unreadable && !fs::is_directory(path)) {
        // One file that cannot be read: the reader's message is the answer.
        throw Error(ErrorKind::BadInput, models.front().problems.front());
    }
    if (models.empty()) {
        fmt::print("{}: no weight files (.safetensors) and no model folders found\n", path.string());
        return 2;
    }
    bool unreadable = false;
    for (std::size_t i = 0; i < models.size(); ++i) {
        const FoundModel& m = models[i];
        if (i > 0) fmt::print("\n");
        fmt::print("{}\n", m.path.string());
        std::string what = fmt::format("  {}", foundKindName(m.kind));
        if (!m.layout.empty() && m.layout != foundKindName(m.kind)) what += fmt::format(" ({})", m.layout);
        if (!m.repoId.empty()) what += fmt::format(", Hugging Face cache: {}@{}", m.repoId, m.revision);
        fmt::print("{}: {}\n", what, m.summary());
        for (const auto& source : m.weightSources()) {
            std::optional<TensorStore> store;
            try {
                store = TensorStore::open(source);
            } catch (const Error& e) {
                fmt::print("  {}: {}\n", source.string(), e.what());
                continue;
            }
            const auto files = store->files();
            std::string label = source == m.path ? std::string() : source.lexically_relative(m.path).string();
            const std::string content = files.size() == 1 ? files.front().filename().string()
                                                          : fmt::format("{} shards", files.size());
            if (label.empty() || label == content)
                fmt::print("  {}:\n", content);
            else
                fmt::print("  {} ({}):\n", label, content);
            printTensors(*store, all);
            for (const auto& c : m.components)
                if (c.path == source) printMatch(c.match);
            if (m.lora && source == m.loraFile) {
                fmt::print("    LoRA: {}\n", m.lora->headline());
                for (const auto& d : m.lora->details()) fmt::print("      {}\n", d);
            }
        }
        if (!m.tokenizers.origin.empty())
            fmt::print("  tokenizers: CLIP {}, T5 {}\n", m.tokenizers.clipVocab.empty() ? "missing" : "ok",
                       m.tokenizers.t5Spiece.empty() ? "missing" : "ok");
        for (const auto& p : m.problems)
            fmt::print("  {}: {}\n", m.unrelated ? "not recognised" : "problem", p);
        for (const auto& n : m.notes) fmt::print("  note: {}\n", n);
        unreadable = unreadable || m.unreadable;
    }
    return unreadable ? 2 : 0;
}

}  // namespace

void addInspectCommand(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "inspect",
        "Show what a weight file or model folder holds: tensors (dtype, shape, bytes), and which model and "
        "layout they are (SD3.5 Medium / Large, SD3 transformers, VAE, CLIP-L, CLIP-G, T5-XXL, LoRA "
        "adapters), "
        "checked against the real models' tensor lists");
    struct Args {
        std::string path;
        bool all = false;
    };
    auto args = std::make_shared<Args>();
    cmd->add_option(
           "PATH", args->path,
           "a .safetensors file, an index json, a diffusers / component / adapter folder, a folder of "
           "models, a Hugging Face cache, or a pickled SiD generator (.pkl)")
        ->required();
    cmd->add_flag("--all", args->all, "list every tensor instead of one line per block group");
    setAction(cmd, [args] {
        const fs::path path(args->path);
        requireExistingPath(path);
        std::error_code ec;
        if (!fs::is_directory(path, ec) && looksLikeImage(path)) return inspectImage(path);
        if (!fs::is_directory(path, ec) && isPickleCheckpointPath(path))
            return inspectPickle(path, args->all);
        return inspectWeights(path, args->all);
    });
}

}  // namespace swd::cli
