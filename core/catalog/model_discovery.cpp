#include "catalog/model_discovery.h"

#include "family/family.h"
#include "io/pickle_reader.h"
#include "util/error.h"
#include "util/json_reader.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

namespace swd {

namespace fs = std::filesystem;

namespace {

bool endsWith(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool pathExists(const fs::path& p) {
    std::error_code ec;
    return fs::exists(p, ec);
}

bool isDir(const fs::path& p) {
    std::error_code ec;
    return fs::is_directory(p, ec);
}

// The diffusers folders of a pipeline and the component each must hold: SD3 / SD3.5 (transformer/,
// optional T5), SDXL (unet/, CLIP-L and OpenCLIP bigG) and SD 1.5 (the first three of SDXL's).
struct PipelineRole {
    const char* folder;
    ComponentKind kind;
    bool required;
};
constexpr std::array<PipelineRole, 5> kSd3Roles = {{
    {"transformer", ComponentKind::Transformer, true},
    {"vae", ComponentKind::Vae, true},
    {"text_encoder", ComponentKind::ClipL, true},
    {"text_encoder_2", ComponentKind::ClipG, true},
    {"text_encoder_3", ComponentKind::T5, false},
}};
constexpr std::array<PipelineRole, 4> kSdxlRoles = {{
    {"unet", ComponentKind::Unet, true},
    {"vae", ComponentKind::Vae, true},
    {"text_encoder", ComponentKind::ClipL, true},
    {"text_encoder_2", ComponentKind::ClipG, true},
}};
constexpr std::size_t kSd15RoleCount = 3;  // SD 1.5: kSdxlRoles without text_encoder_2
// Not components (or not ones swd uses: SD 1.5's safety checker is a CLIP vision model).
constexpr std::array<const char*, 6> kPipelineOtherFolders = {
    {"tokenizer", "tokenizer_2", "tokenizer_3", "scheduler", "safety_checker", "feature_extractor"}};

// The role a folder or file name suggests (breaks the CLIP-L / CLIP-G tie of tiny models).
std::optional<ComponentKind> roleFromName(const std::string& name) {
    for (const auto& r : kSd3Roles)
        if (name == r.folder) return r.kind;
    if (name == "unet") return ComponentKind::Unet;
    if (name.find("clip_l") != std::string::npos) return ComponentKind::ClipL;
    if (name.find("clip_g") != std::string::npos) return ComponentKind::ClipG;
    if (name.find("t5") != std::string::npos) return ComponentKind::T5;
    if (name == "vae" || name.find("vae") != std::string::npos) return ComponentKind::Vae;
    return std::nullopt;
}

bool isShardName(const std::string& name) {
    return name.find("-of-") != std::string::npos;
}

bool isIndexName(const std::string& name) {
    return endsWith(name, ".safetensors.index.json") || endsWith(name, ".safetensors.index.fp16.json");
}

// Where the search is and what it has seen, passed down the folder walk.
struct ScanContext {
    std::string origin;
    const HfRepo* repo = nullptr;
    int maxDepth = 4;
    std::set<fs::path>* visited = nullptr;
    std::vector<FoundModel>* out = nullptr;
};

// What to do about an interrupted Hugging Face download.
std::string hfDownloadHint(const ScanContext& ctx) {
    if (!ctx.repo) return "copy or download it again";
    std::string hint;
    if (!ctx.repo->incompleteBlobs.empty()) {
        std::error_code ec;
        const auto size = fs::file_size(ctx.repo->incompleteBlobs.front(), ec);
        hint = fmt::format("blobs/ holds {} interrupted download{} ({}{}); ",
                           ctx.repo->incompleteBlobs.size(), ctx.repo->incompleteBlobs.size() == 1 ? "" : "s",
                           ctx.repo->incompleteBlobs.front().filename().string(),
                           ec ? "" : fmt::format(", {} so far", formatByteSize(size)));
    }
    return hint + fmt::format("run `huggingface-cli download {}` to finish the download", ctx.repo->repoId);
}

// A link whose target is missing, with the message that says so; "" when `p` is fine.
std::string danglingLink(const fs::path& p, const ScanContext& ctx) {
    std::error_code ec;
    if (!fs::is_symlink(p, ec) || pathExists(p)) return {};
    const fs::path target = fs::read_symlink(p, ec);
    return fmt::format("{} is a link to {}, which does not exist (the download did not finish); {}",
                       p.string(), target.string(), hfDownloadHint(ctx));
}

// Records a dangling link at `p` as the model's problem (it cannot be read); true when there is one.
bool markedDangling(FoundModel& m, const fs::path& p, const ScanContext& ctx) {
    auto dangling = danglingLink(p, ctx);
    if (dangling.empty()) return false;
    m.problems.push_back(std::move(dangling));
    m.unreadable = true;
    return true;
}

// Every dangling link directly in a folder.
std::vector<std::string> danglingLinksIn(const fs::path& dir, const ScanContext& ctx) {
    std::vector<std::string> out;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (!endsWith(name, ".safetensors") && !endsWith(name, ".json") && !endsWith(name, ".model") &&
            !endsWith(name, ".txt"))
            continue;
        auto msg = danglingLink(it->path(), ctx);
        if (!msg.empty()) out.push_back(std::move(msg));
    }
    std::sort(out.begin(), out.end());
    return out;
}

FoundModel newModel(FoundKind kind, const fs::path& path, const ScanContext& ctx) {
    FoundModel m;
    m.kind = kind;
    m.path = path;
    m.origin = ctx.origin;
    if (ctx.repo) {
        m.repoId = ctx.repo->repoId;
        m.revision = ctx.repo->revision;
        m.snapshot = ctx.repo->snapshot;
    }
    return m;
}

void addComponent(FoundModel& m, const fs::path& path, const ComponentMatch& match) {
    FoundComponent c;
    c.kind = match.kind;
    c.path = path;
    c.prefix = match.prefix;
    c.match = match;
    m.bytes += match.bytes;
    for (const auto& [d, n] : match.dtypes) m.dtypes[d] += n;
    m.components.push_back(std::move(c));
}

// "transformer/: near match to ...: missing (3): a, b, c"
std::string componentProblem(const std::string& where, const ComponentMatch& match) {
    std::string s = fmt::format("{}: {}", where, match.headline());
    for (const auto& d : match.details()) s += "; " + d;
    return s;
}

std::optional<TensorStore> openStore(const fs::path& path, FoundModel& m, const std::string& where) {
    try {
        return TensorStore::open(path);
    } catch (const Error& e) {
        m.problems.push_back(where.empty() ? std::string(e.what()) : fmt::format("{}: {}", where, e.what()));
        m.unreadable = true;
    }
    return std::nullopt;
}

nlohmann::json readJsonOrNote(const fs::path& path, std::vector<std::string>& problems) {
    try {
        return readJsonFile(path, "JSON file");
    } catch (const Error& e) {
        problems.push_back(e.what());
    }
    return {};
}

TokenizerFiles pipelineTokenizers(const fs::path& dir) {
    TokenizerFiles t;
    for (const char* folder : {"tokenizer", "tokenizer_2"}) {
        if (t.clipVocab.empty() && pathExists(dir / folder / "vocab.json") &&
            pathExists(dir / folder / "merges.txt")) {
            t.clipVocab = dir / folder / "vocab.json";
            t.clipMerges = dir / folder / "merges.txt";
        }
    }
    if (pathExists(dir / "tokenizer_3" / "spiece.model")) t.t5Spiece = dir / "tokenizer_3" / "spiece.model";
    if (pathExists(dir / "tokenizer_3" / "tokenizer.json"))
        t.t5TokenizerJson = dir / "tokenizer_3" / "tokenizer.json";
    if (!t.clipVocab.empty() || !t.t5Spiece.empty())
        t.origin = fmt::format("tokenizer folders of {}", dir.string());
    return t;
}

bool isPipelineFolder(const fs::path& dir) {
    return pathExists(dir / "model_index.json") ||
           ((isDir(dir / "transformer") || isDir(dir / "unet")) && isDir(dir / "vae"));
}

bool isAdapterFolder(const fs::path& dir) {
    return pathExists(dir / "adapter_config.json");
}

bool isComponentFolder(const fs::path& dir) {
    if (!pathExists(dir / "config.json")) return false;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (endsWith(name, ".safetensors") || isIndexName(name)) return true;
    }
    return false;
}

// Fills a model from one identified checkpoint: its usable components, and problems for the rest.
void takeIdentity(FoundModel& m, const fs::path& path, const CheckpointIdentity& id,
                  const std::string& where) {
    for (const auto& c : id.components) {
        if (c.usable())
            addComponent(m, path, c);
        else
            m.problems.push_back(componentProblem(where, c));
    }
    if (!id.unassigned.empty())
        m.notes.push_back(fmt::format("{} tensor{} belong to no component: {}", id.unassigned.count,
                                      id.unassigned.count == 1 ? "" : "s", id.unassigned.describe()));
}

// One component folder of a pipeline, added to `m` when it holds what belongs there.
void identifyPipelineComponent(FoundModel& m, const fs::path& sub, const PipelineRole& role,
                               const ScanContext& ctx) {
    const std::string where = fmt::format("{}/", role.folder);
    const auto dangling = danglingLinksIn(sub, ctx);
    if (!dangling.empty()) {
        m.problems.insert(m.problems.end(), dangling.begin(), dangling.end());
        m.unreadable = true;
        return;
    }
    const auto store = openStore(sub, m, "");
    if (!store) return;
    const CheckpointIdentity id = identifyCheckpoint(*store, role.kind);
    const ComponentMatch* match = id.components.empty() ? nullptr : &id.components.front();
    if (!match) {
        m.problems.push_back(fmt::format("{}: holds no {} ({} tensors, none recognised{})", sub.string(),
                                         componentKindName(role.kind), id.tensors,
                                         id.lora ? "; it is a LoRA adapter" : ""));
        return;
    }
    const bool clipTie = match->alsoFits && match->alsoFits->kind == role.kind;
    if (match->kind != role.kind && !clipTie) {
        m.problems.push_back(fmt::format(
            "{}: holds {} ({}), but a {} belongs there: the wrong model is in this "
            "folder; put the {} files there",
            sub.string(), match->manifest ? match->manifest->name : "?", matchQualityName(match->quality),
            componentKindName(role.kind), componentKindName(role.kind)));
        return;
    }
    if (!match->usable()) {
        m.problems.push_back(componentProblem(sub.string(), *match));
        return;
    }
    ComponentMatch c = *match;
    c.kind = role.kind;  // a tiny CLIP fits both CLIP-L and CLIP-G: its folder decides
    addComponent(m, sub, c);
    if (id.components.size() > 1 || !id.unassigned.empty())
        m.notes.push_back(fmt::format("{}: holds more than the {} ({} tensors of no component)", where,
                                      componentKindName(role.kind), id.unassigned.count));
}

// The roles of a pipeline folder, by model_index.json's class (else by its folders); empty for a
// pipeline swd does not run.
std::vector<PipelineRole> pipelineRoles(const fs::path& dir, const std::string& cls) {
    const bool sd3 =
        cls.empty() ? isDir(dir / "transformer") : cls.find("StableDiffusion3") != std::string::npos;
    if (sd3) return {kSd3Roles.begin(), kSd3Roles.end()};
    const bool xl = cls.empty() ? isDir(dir / "text_encoder_2") : cls == "StableDiffusionXLPipeline";
    if (xl) return {kSdxlRoles.begin(), kSdxlRoles.end()};
    if (cls.empty() || cls == "StableDiffusionPipeline")
        return {kSdxlRoles.begin(), kSdxlRoles.begin() + kSd15RoleCount};
    return {};
}

FoundModel identifyPipeline(const fs::path& dir, const ScanContext& ctx) {
    FoundModel m = newModel(FoundKind::Pipeline, dir, ctx);
    m.layout = "diffusers";
    nlohmann::json index;
    std::string cls;
    if (pathExists(dir / "model_index.json")) {
        index = readJsonOrNote(dir / "model_index.json", m.problems);
        if (index.is_object() && index.contains("_class_name") && index["_class_name"].is_string())
            cls = index["_class_name"].get<std::string>();
    }
    const std::vector<PipelineRole> roles = pipelineRoles(dir, cls);
    if (roles.empty()) {
        m.kind = FoundKind::Unrecognised;
        m.unrelated = true;
        m.problems.push_back(
            fmt::format("{}: a diffusers {} folder, not a model swd runs (SD3 / SD3.5, SD 1.5, SDXL)",
                        dir.string(), cls));
        return m;
    }
    auto listed = [&index](const char* folder) {
        if (!index.is_object() || !index.contains(folder)) return std::optional<bool>();
        const auto& v = index[folder];
        return std::optional<bool>(v.is_array() && !v.empty() && !v[0].is_null());
    };
    for (const auto& role : roles) {
        const fs::path sub = dir / role.folder;
        const std::string where = fmt::format("{}/", role.folder);
        if (isDir(sub)) {
            identifyPipelineComponent(m, sub, role, ctx);
            continue;
        }
        const auto inIndex = listed(role.folder);
        if (role.required || inIndex.value_or(false))
            m.problems.push_back(fmt::format(
                "{}: the {} folder {} is missing{}; {}", dir.string(), componentKindName(role.kind), where,
                inIndex.value_or(false) ? " (model_index.json lists it)" : "", hfDownloadHint(ctx)));
        else
            m.notes.push_back(fmt::format("no {} ({}): prompts are encoded without T5", where,
                                          inIndex ? "null in model_index.json" : "folder absent"));
    }
    // A UNet of the other SD variant than the folders say (no model_index.json, a moved folder).
    const auto family = m.family();
    if (family && m.problems.empty())
        for (ComponentKind part : modelSetParts(*family).required)
            if (!m.component(part))
                m.problems.push_back(fmt::format("{}: holds an {} UNet but no {} folder; {}", dir.string(),
                                                 modelFamilyName(*family), componentKindName(part),
                                                 hfDownloadHint(ctx)));
    m.tokenizers = pipelineTokenizers(dir);
    const bool needT5 = family && modelSetParts(*family).t5;
    if (m.problems.empty() && !m.tokenizers.complete(needT5))
        m.notes.push_back(
            fmt::format("no complete tokenizer folders ({}): the tokenizers shipped with swd "
                        "are used",
                        needT5 ? "tokenizer/, tokenizer_3/" : "tokenizer/"));
    return m;
}

FoundModel identifyAdapterFolder(const fs::path& dir, const ScanContext& ctx) {
    FoundModel m = newModel(FoundKind::Adapter, dir, ctx);
    m.layout = "PEFT folder";
    const auto config = readJsonOrNote(dir / "adapter_config.json", m.problems);
    const fs::path weights = dir / "adapter_model.safetensors";
    m.loraFile = weights;
    if (!pathExists(weights)) {
        if (markedDangling(m, weights, ctx)) return m;
        if (pathExists(dir / "adapter_model.bin"))
            m.problems.push_back(
                fmt::format("{}: holds adapter_model.bin only; swd reads .safetensors: convert it "
                            "(e.g. save it again with PEFT's save_pretrained(safe_serialization=True))",
                            dir.string()));
        else
            m.problems.push_back(fmt::format("{}: adapter_config.json but no adapter_model.safetensors; {}",
                                             dir.string(), hfDownloadHint(ctx)));
        return m;
    }
    const auto store = openStore(weights, m, "");
    if (!store) return m;
    const CheckpointIdentity id =
        identifyCheckpoint(*store, std::nullopt, config.is_object() ? &config : nullptr);
    if (!id.lora) {
        m.problems.push_back(fmt::format(
            "{}: holds no LoRA factors (no *.lora_A.weight / *.lora_B.weight tensors)", weights.string()));
        return m;
    }
    m.lora = id.lora;
    m.bytes = id.lora->bytes;
    m.dtypes = id.lora->dtypes;
    if (!id.lora->usable())
        m.problems.push_back(fmt::format("{}: {}", weights.string(), id.lora->problems.describe()));
    return m;
}

// A component folder outside a diffusers pipeline (a lone transformer/ or vae/ folder, a sharded one).
FoundModel identifyComponentFolder(const fs::path& dir, const ScanContext& ctx) {
    FoundModel m = newModel(FoundKind::Component, dir, ctx);
    m.layout = "component folder";
    const auto dangling = danglingLinksIn(dir, ctx);
    if (!dangling.empty()) {
        m.problems = dangling;
        m.unreadable = true;
        return m;
    }
    const auto store = openStore(dir, m, "");
    if (!store) return m;
    const CheckpointIdentity id = identifyCheckpoint(*store, roleFromName(dir.filename().string()));
    takeIdentity(m, dir, id, dir.string());
    if (id.lora) {
        m.kind = FoundKind::Adapter;
        m.lora = id.lora;
        m.loraFile = store->files().empty() ? dir : store->files().front();
    } else if (m.components.empty() && m.problems.empty()) {
        m.kind = FoundKind::Unrecognised;
        m.unrelated = true;
        m.problems.push_back(
            fmt::format("{}: no component of a model swd runs ({} tensors)", dir.string(), id.tensors));
    }
    if (!m.components.empty()) m.layout = weightLayoutName(m.components.front().match.manifest->layout);
    return m;
}

// An original SD 1.5 / SDXL single file: named, with what to download instead (no LDM -> diffusers UNet
// conversion yet).
FoundModel ldmCheckpoint(FoundModel m, ModelFamily family, const CheckpointIdentity& id) {
    const ModelVariant* v = findVariant(family);
    m.kind = FoundKind::Checkpoint;
    m.layout = "single file";
    m.ldmFamily = family;
    m.bytes = id.bytes;
    m.problems.push_back(fmt::format(
        "{}: an original {} single-file checkpoint (model.diffusion_model.*, first_stage_model.*, {}); "
        "single-file SD checkpoints are not loadable yet: use the diffusers folder (`huggingface-cli "
        "download {}`)",
        m.path.string(), modelFamilyName(family),
        family == ModelFamily::SDXL ? "conditioner.embedders.*" : "cond_stage_model.*", v ? v->repo : "?"));
    return m;
}

// A pickled SiD generator ({'ema': UNet2DConditionModel}): identified from the pickle's tensor
// descriptions (io/pickle_reader.h), without copying its weights.
FoundModel identifyPickle(const fs::path& file, const ScanContext& ctx) {
    FoundModel m = newModel(FoundKind::Unrecognised, file, ctx);
    if (markedDangling(m, file, ctx)) return m;
    PickleStateDict dict;
    try {
        dict = readPickleStateDict(file);
    } catch (const Error& e) {
        m.problems.push_back(e.what());
        m.unreadable = true;
        return m;
    }
    std::vector<TensorInfo> infos;
    infos.reserve(dict.tensors.size());
    for (const auto& t : dict.tensors)
        infos.push_back({t.name, t.dtype, t.shape, 0, t.numel() * stDtypeSize(t.dtype)});
    std::vector<const TensorInfo*> pointers;
    for (const auto& i : infos) pointers.push_back(&i);
    const CheckpointIdentity id = identifyTensors(pointers, {}, ComponentKind::Unet);
    takeIdentity(m, file, id, file.string());
    if (!m.component(ComponentKind::Unet)) {
        if (m.problems.empty()) {
            m.unrelated = true;
            m.problems.push_back(fmt::format(
                "{}: a pickle of {} ({} tensors), not a SiD generator (an SD 1.5 / SDXL UNet)", file.string(),
                dict.moduleClass.empty() ? "tensors" : dict.moduleClass, id.tensors));
        }
        return m;
    }
    m.kind = FoundKind::Component;
    m.generator = true;
    m.layout = "SiD generator (pickle)";
    m.notes.push_back(fmt::format("the {} of a pickle, {} (copied into memory when loaded)",
                                  dict.key.empty() ? "module" : "'" + dict.key + "' module",
                                  stateDictDtype(dict)));
    return m;
}

FoundModel identifyFile(const fs::path& file, const ScanContext& ctx) {
    FoundModel m = newModel(FoundKind::Unrecognised, file, ctx);
    if (markedDangling(m, file, ctx)) return m;
    const auto store = openStore(file, m, "");
    if (!store) return m;
    std::string stem = file.filename().string();
    std::transform(stem.begin(), stem.end(), stem.begin(), ::tolower);
    const CheckpointIdentity id = identifyCheckpoint(*store, roleFromName(stem));
    if (id.lora) {
        m.kind = FoundKind::Adapter;
        m.layout = id.lora->format == "diffusers" ? "diffusers LoRA file" : "PEFT LoRA file";
        m.lora = id.lora;
        m.loraFile = file;
        m.bytes = id.lora->bytes;
        m.dtypes = id.lora->dtypes;
        if (!id.lora->usable())
            m.problems.push_back(fmt::format("{}: {}", file.string(), id.lora->problems.describe()));
        return m;
    }
    if (id.ldmFamily) return ldmCheckpoint(std::move(m), *id.ldmFamily, id);
    takeIdentity(m, file, id, file.string());
    if (m.components.empty()) {
        const auto names = store->names();
        const bool kohya = std::any_of(names.begin(), names.end(), [](const std::string& n) {
            return endsWith(n, ".lora_down.weight") || endsWith(n, ".lora_up.weight");
        });
        if (kohya) {
            m.kind = FoundKind::Adapter;
            m.problems.push_back(
                fmt::format("{}: a LoRA in the kohya format (lora_down / lora_up); swd reads PEFT "
                            "(lora_A / lora_B) adapters and diffusers LoRA files",
                            file.string()));
        } else if (m.problems.empty()) {
            m.unrelated = true;
            m.notes.clear();  // the problem lists the names already
            m.problems.push_back(fmt::format("{}: no component of a model swd runs ({} tensors, e.g. {})",
                                             file.string(), id.tensors, id.unassigned.describe()));
        }
        return m;
    }
    const bool multi = m.components.size() > 1 || !m.components.front().prefix.empty();
    m.kind = multi ? FoundKind::Checkpoint : FoundKind::Component;
    m.layout = multi ? "single file" : weightLayoutName(m.components.front().match.manifest->layout);
    // The tensors say "a UNet"; only the name can say it was distilled (a converted SiD generator).
    if (!multi && m.components.front().kind == ComponentKind::Unet && stem.find("sid") != std::string::npos) {
        m.generator = true;
        m.layout = "SiD generator";
    }
    return m;
}

void scanRepo(const fs::path& repoDir, ScanContext ctx);

void scanDir(const fs::path& dir, int depth, const ScanContext& ctx) {
    std::error_code ec;
    const fs::path canonical = fs::weakly_canonical(dir, ec);
    if (!ctx.visited->insert(ec ? dir : canonical).second) return;
    if (isHfRepoFolder(dir)) {
        scanRepo(dir, ctx);
        return;
    }
    if (isHfCacheFolder(dir)) {
        for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
            if (isHfRepoFolder(it->path())) scanRepo(it->path(), ctx);
        return;
    }
    if (isAdapterFolder(dir)) {
        ctx.out->push_back(identifyAdapterFolder(dir, ctx));
        return;
    }
    std::set<std::string> skip;
    if (isPipelineFolder(dir)) {
        ctx.out->push_back(identifyPipeline(dir, ctx));
        for (const auto& r : kSd3Roles) skip.insert(r.folder);
        for (const auto& r : kSdxlRoles) skip.insert(r.folder);
        for (const char* f : kPipelineOtherFolders) skip.insert(f);
    } else if (depth > 0 && isComponentFolder(dir)) {
        ctx.out->push_back(identifyComponentFolder(dir, ctx));
        return;
    }

    std::vector<fs::path> files, subdirs, indexes, pickles;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const fs::path p = it->path();
        const std::string name = p.filename().string();
        if (name.empty() || name[0] == '.' || skip.count(name)) continue;
        std::error_code e2;
        if (fs::is_directory(p, e2))
            subdirs.push_back(p);
        else if (isIndexName(name))
            indexes.push_back(p);
        else if (endsWith(name, ".safetensors"))
            files.push_back(p);
        else if (isPickleCheckpointPath(p))
            pickles.push_back(p);
    }
    std::sort(pickles.begin(), pickles.end());
    for (const auto& p : pickles) ctx.out->push_back(identifyPickle(p, ctx));
    std::sort(files.begin(), files.end());
    std::sort(subdirs.begin(), subdirs.end());
    std::sort(indexes.begin(), indexes.end());
    std::set<std::string> shardsOfIndexes;
    for (const auto& idx : indexes) {
        std::vector<std::string> ignored;
        const auto j = readJsonOrNote(idx, ignored);
        if (j.is_object() && j.contains("weight_map") && j["weight_map"].is_object())
            for (const auto& [k, v] : j["weight_map"].items())
                if (v.is_string()) shardsOfIndexes.insert(v.get<std::string>());
        ctx.out->push_back(identifyFile(idx, ctx));
    }
    for (const auto& f : files) {
        const std::string name = f.filename().string();
        if (shardsOfIndexes.count(name)) continue;
        if (isShardName(name)) {
            FoundModel m = newModel(FoundKind::Unrecognised, f, ctx);
            m.problems.push_back(
                fmt::format("{}: one shard of a sharded checkpoint, but no *.safetensors.index.json "
                            "beside it lists it; keep the index with its shards",
                            f.string()));
            ctx.out->push_back(std::move(m));
            continue;
        }
        ctx.out->push_back(identifyFile(f, ctx));
    }
    if (depth >= ctx.maxDepth) return;
    for (const auto& s : subdirs) scanDir(s, depth + 1, ctx);
}

void scanRepo(const fs::path& repoDir, ScanContext ctx) {
    const HfRepo repo = readHfRepo(repoDir);
    ctx.repo = &repo;
    if (repo.snapshot.empty()) {
        FoundModel m = newModel(FoundKind::Unrecognised, repoDir, ctx);
        for (const auto& p : repo.problems) m.problems.push_back(fmt::format("{}: {}", repo.repoId, p));
        if (!repo.incompleteBlobs.empty()) m.problems.back() += "; " + hfDownloadHint(ctx);
        ctx.out->push_back(std::move(m));
        return;
    }
    const std::size_t first = ctx.out->size();
    scanDir(repo.snapshot, 1, ctx);
    for (std::size_t i = first; i < ctx.out->size(); ++i)
        for (const auto& p : repo.problems)
            (*ctx.out)[i].notes.push_back(fmt::format("{}: {}", repo.repoId, p));
}

std::string describeCount(std::size_t n, const char* one, const char* many) {
    return fmt::format("{} {}", n, n == 1 ? one : many);
}

}  // namespace

ModelSetParts modelSetParts(ModelFamily family) {
    const ModelVariant* v = findVariant(family);
    const Manifest* size = v ? findManifest(v->sizeManifest) : nullptr;
    if (!size || size->kind != ComponentKind::Unet)
        return {ComponentKind::Transformer,
                {ComponentKind::Vae, ComponentKind::ClipL, ComponentKind::ClipG},
                true};
    ModelSetParts parts{ComponentKind::Unet, {ComponentKind::Vae, ComponentKind::ClipL}, false};
    // SDXL's UNet adds the pooled OpenCLIP-bigG embedding (with the size ids) through add_embedding;
    // SD 1.5's reads CLIP-L's hidden states only.
    if (size->find("add_embedding.linear_1.weight")) parts.required.push_back(ComponentKind::ClipG);
    return parts;
}

const FoundComponent* FoundModel::component(ComponentKind k) const {
    for (const auto& c : components)
        if (c.kind == k) return &c;
    return nullptr;
}

const FoundComponent* FoundModel::denoiser() const {
    const FoundComponent* t = component(ComponentKind::Transformer);
    return t ? t : component(ComponentKind::Unet);
}

std::optional<ModelFamily> FoundModel::family() const {
    if (const auto* t = denoiser()) return t->match.family();
    if (lora) return lora->family;
    return ldmFamily;
}

bool FoundModel::realSize() const {
    if (const auto* t = denoiser()) return t->match.realSize();
    if (lora) return lora->realSize;
    return !components.empty() && std::all_of(components.begin(), components.end(),
                                              [](const FoundComponent& c) { return c.match.realSize(); });
}

std::string FoundModel::name() const {
    if (!repoId.empty()) {
        if (snapshot.empty() || path == snapshot) return repoId;
        return fmt::format("{}:{}", repoId, path.lexically_relative(snapshot).string());
    }
    return path.filename().string();
}

std::string FoundModel::summary() const {
    if (lora) {
        std::string base =
            lora->family ? std::string(modelFamilyName(*lora->family)) : std::string("an MMDiT");
        return fmt::format("LoRA rank {} for {}{}", lora->rank, base, lora->realSize ? "" : " (other size)");
    }
    if (ldmFamily)
        return fmt::format("{} single-file checkpoint (original names)", modelFamilyName(*ldmFamily));
    if (components.empty()) return "not a model swd knows";
    std::vector<std::string> parts;
    for (const auto& c : components) parts.push_back(componentKindName(c.kind));
    const std::string size = realSize() ? "" : " (other size)";
    const auto f = family();
    if (generator && f) return fmt::format("SiD generator for {}{}", modelFamilyName(*f), size);
    if (components.size() == 1 && components.front().match.manifest)
        return components.front().match.manifest->name + size;
    return fmt::format("{}{}: {}", f ? modelFamilyName(*f) : "components", size, fmt::join(parts, ", "));
}

std::vector<fs::path> FoundModel::weightSources() const {
    std::vector<fs::path> out;
    for (const auto& c : components)
        if (std::find(out.begin(), out.end(), c.path) == out.end()) out.push_back(c.path);
    if (!loraFile.empty() && pathExists(loraFile)) out.push_back(loraFile);
    std::error_code ec;
    if (out.empty() && !unreadable && fs::is_regular_file(path, ec))
        out.push_back(path);  // to list its tensors
    return out;
}

std::string DiscoveryResult::searchedText() const {
    std::string s;
    for (const auto& p : searched) s += fmt::format("  - {} ({}): {}\n", p.path.string(), p.why, p.outcome);
    return s;
}

void requireExistingPath(const fs::path& path) {
    std::error_code ec;
    if (fs::exists(path, ec)) return;
    if (fs::is_symlink(path, ec))
        throwBadInput("{}: is a link to {}, which does not exist", path.string(),
                      fs::read_symlink(path, ec).string());
    throwBadInput("{}: no such file or folder", path.string());
}

std::vector<FoundModel> identifyPath(const fs::path& path, const std::string& origin, int maxDepth) {
    requireExistingPath(path);
    std::error_code ec;
    std::vector<FoundModel> out;
    std::set<fs::path> visited;
    ScanContext ctx;
    ctx.origin = origin;
    ctx.maxDepth = maxDepth;
    ctx.visited = &visited;
    ctx.out = &out;
    if (!fs::is_directory(path, ec)) {
        out.push_back(identifyFile(path, ctx));
        return out;
    }
    // A folder named on the command line is taken as what it is, even a lone component folder.
    if (!isHfRepoFolder(path) && !isHfCacheFolder(path) && !isAdapterFolder(path) &&
        !isPipelineFolder(path) && isComponentFolder(path)) {
        out.push_back(identifyComponentFolder(path, ctx));
        return out;
    }
    scanDir(path, 0, ctx);
    return out;
}

DiscoveryResult discoverModels(const DiscoveryOptions& options) {
    DiscoveryResult result;
    std::set<fs::path> visited;
    auto scan = [&](const fs::path& root, const std::string& why, const std::string& origin) {
        const std::size_t before = result.models.size();
        SearchedPlace place{root, why, {}};
        if (!isDir(root)) {
            place.outcome = pathExists(root) ? "not a folder" : "does not exist";
            result.searched.push_back(std::move(place));
            return;
        }
        ScanContext ctx;
        ctx.origin = origin;
        ctx.maxDepth = options.maxDepth;
        ctx.visited = &visited;
        ctx.out = &result.models;
        std::error_code ec;
        const fs::path canonical = fs::weakly_canonical(root, ec);
        if (visited.count(ec ? root : canonical)) {
            place.outcome = "searched above";
            result.searched.push_back(std::move(place));
            return;
        }
        const bool cache = isHfCacheFolder(root);
        scanDir(root, 0, ctx);
        std::size_t usable = 0;
        std::set<std::string> repos;
        for (std::size_t i = before; i < result.models.size(); ++i) {
            usable += result.models[i].usable() ? 1 : 0;
            if (!result.models[i].repoId.empty()) repos.insert(result.models[i].repoId);
        }
        const std::size_t found = result.models.size() - before;
        place.outcome =
            found == 0
                ? (cache ? "no model repositories" : "nothing recognised")
                : fmt::format("{}, {} usable{}", describeCount(found, "item", "items"), usable,
                              repos.empty() ? ""
                                            : fmt::format(" ({})", describeCount(repos.size(), "repository",
                                                                                 "repositories")));
        result.searched.push_back(std::move(place));
    };
    for (const auto& folder : options.folders)
        scan(folder, "--folder", fmt::format("--folder {}", folder.string()));
    if (options.hfCache) {
        const auto location = hfHubCacheLocation(options.env ? options.env : processEnvironment());
        if (location.path.empty())
            result.searched.push_back({"(no Hugging Face cache)", "HOME is not set", "not searched"});
        else
            scan(location.path, "Hugging Face cache, " + location.source, "HF cache");
    }
    return result;
}

}  // namespace swd
