#include "catalog/model_set.h"

#include "family/family.h"

#include "util/error.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <climits>

namespace swd {

namespace fs = std::filesystem;

namespace {

bool pathExists(const fs::path& p) {
    std::error_code ec;
    return fs::exists(p, ec);
}

// Lower case, '_' as '-': "SWD_medium_6_steps" names the same adapter as "swd-medium-6-steps".
std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return c == '_' ? '-' : ::tolower(c); });
    return s;
}

// Whether a found adapter is the named Hugging Face repository: by repo id in the cache, else by the
// folder or file name (a `huggingface-cli download --local-dir swd-medium-6-steps` folder).
bool adapterIsNamed(const FoundModel& m, const std::string& repoId) {
    if (!m.repoId.empty()) return lower(m.repoId) == lower(repoId);
    const std::string shortName = lower(repoId.substr(repoId.find('/') + 1));
    for (fs::path p = m.path; !p.empty() && p != p.parent_path(); p = p.parent_path()) {
        const std::string n = lower(p.filename().string());
        if (n == shortName || lower(p.stem().string()) == shortName) return true;
        if (p == m.path.parent_path().parent_path()) break;  // the file, its folder and the folder above
    }
    return false;
}

std::string sourceOf(const FoundModel& m, const fs::path& path) {
    if (!m.repoId.empty() && !m.snapshot.empty()) {
        const fs::path rel = path.lexically_relative(m.snapshot);
        return fmt::format("{}@{}:{}", m.repoId, m.revision, rel.string());
    }
    // A user file: its name and the folder it is in, not the whole path (the metadata is shared).
    if (path.has_parent_path() && path.parent_path().has_filename())
        return (path.parent_path().filename() / path.filename()).string();
    return path.filename().string();
}

std::uint64_t diskBytes(const fs::path& p) {
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return fs::file_size(p, ec);
    std::uint64_t total = 0;
    for (fs::recursive_directory_iterator it(p, fs::directory_options::follow_directory_symlink, ec), end;
         !ec && it != end; it.increment(ec)) {
        std::error_code e2;
        if (it->is_regular_file(e2)) total += it->file_size(e2);
    }
    return total;
}

// The first usable, real-size component of `kind` among the found models (for bases that carry none).
const FoundComponent* findAnywhere(const DiscoveryResult& found, ComponentKind kind,
                                   const FoundModel** owner) {
    for (const auto& m : found.models) {
        if (!m.usable()) continue;
        const FoundComponent* c = m.component(kind);
        if (c && c->match.realSize()) {
            *owner = &m;
            return c;
        }
    }
    return nullptr;
}

std::string whereToGet(ComponentKind kind, ModelFamily family) {
    const ModelVariant* s = findVariant(family);
    const std::string repo = s ? s->repo : "stabilityai/stable-diffusion-3.5-medium";
    switch (kind) {
        case ComponentKind::Transformer:
            return fmt::format(
                "the {} transformer: a diffusers folder of {} (in the Hugging Face cache after "
                "`huggingface-cli download {}`; its licence must be accepted on huggingface.co), or "
                "{}",
                modelFamilyName(family), repo, repo, s ? s->singleFile : "a single-file checkpoint");
        case ComponentKind::Vae:
            return fmt::format(
                "the SD3 VAE: vae/ of a diffusers folder of {}, or a single-file checkpoint that holds "
                "first_stage_model.*",
                repo);
        case ComponentKind::ClipL:
            return fmt::format(
                "the CLIP-L text encoder: text_encoder/ of a diffusers folder of {}, or "
                "text_encoders/clip_l.safetensors",
                repo);
        case ComponentKind::ClipG:
            return fmt::format(
                "the CLIP-G text encoder: text_encoder_2/ of a diffusers folder of {}, or "
                "text_encoders/clip_g.safetensors",
                repo);
        case ComponentKind::T5:
            return fmt::format(
                "the T5-XXL text encoder: text_encoder_3/ of {}, or text_encoders/t5xxl_fp16.safetensors",
                repo);
        case ComponentKind::Lora:
            break;
    }
    return "a LoRA adapter";
}

// The first model from an override path that has what `want` asks for, or a BadInput naming the path.
FoundModel pickOverride(const fs::path& path, const char* option, bool wantAdapter) {
    auto models = identifyPath(path, option);
    std::vector<std::string> problems;
    for (auto& m : models) {
        const bool fits =
            wantAdapter ? m.lora.has_value() : m.component(ComponentKind::Transformer) != nullptr;
        if (fits && m.usable()) return std::move(m);
        for (const auto& p : m.problems) problems.push_back(p);
    }
    if (!problems.empty())
        throwBadInput("{} {}: cannot be used:\n  - {}", option, path.string(), fmt::join(problems, "\n  - "));
    std::vector<std::string> what;
    for (const auto& m : models) what.push_back(fmt::format("{} ({})", m.path.string(), m.summary()));
    throwBadInput(
        "{} {}: holds no {}{}{}", option, path.string(),
        wantAdapter ? "LoRA adapter (adapter_config.json + adapter_model.safetensors, or a LoRA .safetensors)"
                    : "SD3 / SD3.5 transformer (a diffusers folder or a single-file checkpoint)",
        what.empty() ? "" : "; found: ", fmt::format("{}", fmt::join(what, ", ")));
}

}  // namespace

std::string ModelSet::identity() const {
    std::string s = displayName;
    if (!realSize) s += " (other size)";
    for (const auto& p : parts) s += fmt::format("; {}={} ({} B)", p.role, p.source, p.bytes);
    if (adapterInfo)
        s += fmt::format("; lora rank {} alpha {:g} scale {:g}", adapterInfo->rank, adapterInfo->alpha,
                         adapterInfo->scale);
    return s;
}

std::vector<fs::path> bundledTokenizerDirs() {
    std::vector<fs::path> dirs;
    char buf[PATH_MAX];
    const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (n > 0) {
        const fs::path exeDir = fs::path(std::string(buf, static_cast<std::size_t>(n))).parent_path();
        dirs.push_back(exeDir.parent_path() / "share" / "swd-studio" / "tokenizers");
        dirs.push_back(exeDir / "tokenizers");
    }
#ifdef SWD_INSTALL_PREFIX
    dirs.push_back(fs::path(SWD_INSTALL_PREFIX) / "share" / "swd-studio" / "tokenizers");
#endif
#ifdef SWD_SOURCE_DIR
    dirs.push_back(fs::path(SWD_SOURCE_DIR) / "tests" / "data" / "tokenizers");
#endif
    return dirs;
}

std::optional<TokenizerFiles> findBundledTokenizers() {
    for (const auto& d : bundledTokenizerDirs()) {
        TokenizerFiles t;
        t.clipVocab = d / "clip" / "vocab.json";
        t.clipMerges = d / "clip" / "merges.txt";
        t.t5Spiece = d / "t5" / "spiece.model";
        if (!pathExists(t.clipVocab) || !pathExists(t.clipMerges) || !pathExists(t.t5Spiece)) continue;
        if (pathExists(d / "t5" / "tokenizer.json")) t.t5TokenizerJson = d / "t5" / "tokenizer.json";
        t.origin = fmt::format("shipped with swd ({})", d.string());
        return t;
    }
    return std::nullopt;
}

ModelSetPlan planModelSet(const Schedule& preset, const DiscoveryResult& found,
                          const ModelSetOverrides& user) {
    ModelSetPlan plan;
    ModelSet set;

    // 1. The base model: --model, else the first usable real-size model of the preset's family,
    // a diffusers folder before a single file (it carries its text encoders and tokenizers).
    std::optional<FoundModel> userModel;
    if (user.model) userModel = pickOverride(*user.model, "--model", false);
    const FoundModel* base = userModel ? &*userModel : nullptr;
    ModelFamily family = preset.family;
    if (base) {
        const auto f = base->family();
        if (family != ModelFamily::Any && f && *f != family)
            throwBadInput(
                "--model {}: is {}, but preset '{}' is for {}; pick a preset for {} or another model",
                user.model->string(), modelFamilyName(*f), preset.id, modelFamilyName(family),
                modelFamilyName(*f));
        if (f) family = *f;
    } else {
        const std::vector<ModelVariant> order = registeredVariants();
        for (FoundKind kind : {FoundKind::Pipeline, FoundKind::Checkpoint, FoundKind::Component}) {
            for (const ModelVariant& variant : order) {
                const ModelFamily f = variant.model;
                if (family != ModelFamily::Any && f != family) continue;
                for (const auto& m : found.models)
                    if (!base && m.kind == kind && m.usable() && m.component(ComponentKind::Transformer) &&
                        m.realSize() && m.family() == f)
                        base = &m;
            }
        }
        if (base && family == ModelFamily::Any) family = *base->family();
    }
    set.family = family;
    const ModelVariant* familySources = findVariant(family);
    std::vector<std::string> downloads;
    auto missingPart = [&](ComponentKind kind) {
        plan.missing.push_back(
            whereToGet(kind, family == ModelFamily::Any ? ModelFamily::SD35Medium : family));
        plan.missingParts.push_back(
            kind == ComponentKind::Transformer
                ? fmt::format("{} transformer", family == ModelFamily::Any ? "SD3" : modelFamilyName(family))
                : componentKindName(kind));
        const std::string repo =
            familySources ? familySources->repo : "stabilityai/stable-diffusion-3.5-medium";
        if (std::find(downloads.begin(), downloads.end(), repo) == downloads.end()) downloads.push_back(repo);
    };

    auto addPart = [&](const char* role, const FoundModel& owner, const FoundComponent& c) {
        set.parts.push_back({role, c.path, sourceOf(owner, c.path), diskBytes(c.path)});
    };
    const FoundComponent* transformer = base ? base->component(ComponentKind::Transformer) : nullptr;
    if (!transformer) {
        missingPart(ComponentKind::Transformer);
    } else {
        set.transformer = transformer->path;
        set.transformerPrefix = transformer->prefix;
        set.transformerLayout = transformer->match.manifest->layout;
        set.transformerDims = transformer->match.dims;
        set.realSize = transformer->match.realSize();
        addPart("transformer", *base, *transformer);
    }

    // 2. VAE and text encoders: the base's own, else (real-size bases only) any found one: every SD3 /
    // SD3.5 model uses the same VAE and text encoders.
    const FoundModel* encoderOwner = nullptr;
    struct Slot {
        ComponentKind kind;
        fs::path* path;
        std::string* prefix;
        bool required;
    };
    const std::array<Slot, 4> slots = {{
        {ComponentKind::Vae, &set.vae, &set.vaePrefix, true},
        {ComponentKind::ClipL, &set.clipL, &set.clipLPrefix, true},
        {ComponentKind::ClipG, &set.clipG, &set.clipGPrefix, true},
        {ComponentKind::T5, &set.t5, &set.t5Prefix, false},
    }};
    for (const auto& slot : slots) {
        const FoundModel* owner = base;
        const FoundComponent* c = base ? base->component(slot.kind) : nullptr;
        if (!c && (!base || set.realSize)) c = findAnywhere(found, slot.kind, &owner);
        if (!c) {
            if (slot.required)
                missingPart(slot.kind);
            else
                set.notes.push_back(
                    fmt::format("no T5-XXL text encoder found: prompts are encoded without T5 "
                                "(lower prompt adherence); {}",
                                whereToGet(ComponentKind::T5, family)));
            continue;
        }
        *slot.path = c->path;
        *slot.prefix = c->prefix;
        if (slot.kind == ComponentKind::Vae) set.vaeLayout = c->match.manifest->layout;
        if (slot.kind != ComponentKind::Vae && owner != base && !encoderOwner) encoderOwner = owner;
        addPart(componentKindId(slot.kind), *owner, *c);
    }

    // 3. Tokenizers: the base folder's, else those of the folder the encoders came from, else the ones
    // shipped with swd.
    std::optional<TokenizerFiles> tokenizers;
    if (base && base->tokenizers.complete())
        tokenizers = base->tokenizers;
    else if (encoderOwner && encoderOwner->tokenizers.complete())
        tokenizers = encoderOwner->tokenizers;
    else if ((tokenizers = findBundledTokenizers()))
        set.notes.push_back(fmt::format("tokenizers: {}", tokenizers->origin));
    if (tokenizers) {
        set.clipVocab = tokenizers->clipVocab;
        set.clipMerges = tokenizers->clipMerges;
        set.t5Spiece = tokenizers->t5Spiece;
        set.t5TokenizerJson = tokenizers->t5TokenizerJson;
        set.tokenizerOrigin = tokenizers->origin;
    } else {
        std::vector<std::string> dirs;
        for (const auto& d : bundledTokenizerDirs()) dirs.push_back(d.string());
        plan.missing.push_back(
            fmt::format("the tokenizer files (clip/vocab.json, clip/merges.txt, t5/spiece.model): "
                        "the model folder has no tokenizer/ folders and none were found in {}",
                        fmt::join(dirs, ", ")));
        plan.missingParts.push_back("tokenizers");
    }

    // 4. The adapter: --adapter, else the preset's (by repository id or folder name), fitting the base.
    std::optional<FoundModel> userAdapter;
    if (user.adapter) userAdapter = pickOverride(*user.adapter, "--adapter", true);
    const FoundModel* adapter = userAdapter ? &*userAdapter : nullptr;
    const std::string baseName = family == ModelFamily::Any ? "the base model" : modelFamilyName(family);
    if (adapter && transformer) {
        const std::string why = adapter->lora->fitProblem(set.transformerDims, baseName);
        if (!why.empty()) throwBadInput("--adapter {}: {}", user.adapter->string(), why);
    }
    if (!adapter && !preset.adapter.empty()) {
        std::vector<const FoundModel*> others;
        for (const auto& m : found.models) {
            if (m.kind != FoundKind::Adapter) continue;
            if (!adapterIsNamed(m, preset.adapter)) {
                if (m.usable() && m.lora && m.lora->family == family && m.realSize()) others.push_back(&m);
                continue;
            }
            if (!m.usable()) {
                plan.unusable.push_back(fmt::format("{}: {}", m.path.string(), fmt::join(m.problems, "; ")));
                continue;
            }
            const std::string why =
                transformer ? m.lora->fitProblem(set.transformerDims, baseName) : std::string();
            if (!why.empty()) {
                plan.unusable.push_back(fmt::format("{}: {}", m.path.string(), why));
                continue;
            }
            if (!adapter) adapter = &m;
        }
        if (!adapter) {
            std::string line = fmt::format(
                "the SwD adapter {} (adapter_config.json + adapter_model.safetensors): "
                "`huggingface-cli download {}`",
                preset.adapter, preset.adapter);
            if (!others.empty()) {
                std::vector<std::string> names;
                for (const auto* o : others) names.push_back(o->path.string());
                line += fmt::format("; other adapters for {} were found ({}): pass --adapter PATH to use one",
                                    modelFamilyName(family), fmt::join(names, ", "));
            }
            plan.missing.push_back(line);
            plan.missingParts.push_back("adapter " + preset.adapter);
            downloads.push_back(preset.adapter);
        }
    }
    if (adapter) {
        set.adapter = adapter->path;
        set.adapterInfo = adapter->lora;
        set.parts.push_back({"adapter", adapter->path, sourceOf(*adapter, adapter->loraFile),
                             diskBytes(adapter->loraFile.empty() ? adapter->path : adapter->loraFile)});
    }

    set.displayName = family == ModelFamily::Any ? std::string("SD3") : modelFamilyName(family);
    if (!preset.adapter.empty())
        set.displayName += " + " + preset.adapter;
    else if (adapter)
        set.displayName += " + " + adapter->name();

    if (plan.missing.empty()) {
        plan.set = std::move(set);
        return plan;
    }

    // Everything found for this run that cannot be used, with why (a broken download, a wrong model).
    for (const auto& m : found.models) {
        if (m.usable() || m.kind == FoundKind::Adapter) continue;
        const bool related = m.family() == family || m.kind != FoundKind::Unrecognised;
        if (!related || m.problems.empty() || m.unrelated) continue;
        plan.unusable.push_back(fmt::format("{}: {}", m.path.string(), fmt::join(m.problems, "; ")));
    }
    std::string msg = fmt::format("preset '{}' needs {}; missing:\n", preset.id,
                                  !preset.adapter.empty()
                                      ? fmt::format("{} with the SwD adapter {}", baseName, preset.adapter)
                                      : baseName);
    for (const auto& m : plan.missing) msg += "  - " + m + "\n";
    msg += "Searched:\n";
    msg += found.searchedText().empty() ? std::string("  (no folders and no Hugging Face cache)\n")
                                        : found.searchedText();
    if (user.model) msg += fmt::format("  - {} (--model)\n", user.model->string());
    if (!plan.unusable.empty()) {
        msg += "Found but not usable:\n";
        for (const auto& u : plan.unusable) msg += "  - " + u + "\n";
    }
    std::vector<std::string> cmds;
    for (const auto& d : downloads) cmds.push_back(fmt::format("`huggingface-cli download {}`", d));
    msg += fmt::format(
        "To fix: download {}, or add the folder that holds the files with --folder DIR, or name them "
        "with --model PATH / --adapter PATH.",
        fmt::join(cmds, " and "));
    plan.message = std::move(msg);
    return plan;
}

ModelSet resolveModelSet(const Schedule& preset, const DiscoveryResult& found,
                         const ModelSetOverrides& user) {
    ModelSetPlan plan = planModelSet(preset, found, user);
    if (!plan.set) throw Error(ErrorKind::BadInput, plan.message);
    return std::move(*plan.set);
}

}  // namespace swd
