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

// The latent channels a VAE manifest decodes (decoder.conv_in takes them): 16 for SD3, 4 for SD 1.5 / SDXL.
std::int64_t vaeLatentChannels(const Manifest& m) {
    const ManifestTensor* t = m.find("decoder.conv_in.weight");
    return t && t->shape.size() > 1 ? t->shape[1] : 0;
}

// Whether a component found in another model fits a model set of `family`: a VAE must decode the family's
// latents and come from no model of another family (the SD 1.5 and SDXL VAEs have the same shapes, not the
// same weights; every SD3 / SD3.5 model has the same VAE). Text encoders are the same models everywhere.
bool fitsFamily(const FoundModel& owner, const FoundComponent& c, ModelFamily family) {
    if (c.kind != ComponentKind::Vae) return true;
    const auto ownerFamily = owner.family();
    if (ownerFamily && &familyFor(*ownerFamily) != &familyFor(family)) return false;
    return c.match.manifest &&
           vaeLatentChannels(*c.match.manifest) == familyFor(family).latentFormat().channels;
}

// The first usable, real-size component of `kind` among the found models (for bases that carry none).
const FoundComponent* findAnywhere(const DiscoveryResult& found, ComponentKind kind, ModelFamily family,
                                   const FoundModel** owner) {
    for (const auto& m : found.models) {
        if (!m.usable()) continue;
        const FoundComponent* c = m.component(kind);
        if (c && c->match.realSize() && fitsFamily(m, *c, family)) {
            *owner = &m;
            return c;
        }
    }
    return nullptr;
}

// Where to get a part of an SD 1.5 / SDXL set: the diffusers folder of the base repository (single files
// are not loadable yet).
std::string whereToGetSd(ComponentKind kind, ModelFamily family, const std::string& repo) {
    const char* folder = kind == ComponentKind::Unet    ? "unet/"
                         : kind == ComponentKind::Vae   ? "vae/"
                         : kind == ComponentKind::ClipL ? "text_encoder/"
                                                        : "text_encoder_2/";
    const std::string what = kind == ComponentKind::ClipG
                                 ? std::string("the OpenCLIP bigG text encoder (CLIP-G)")
                             : kind == ComponentKind::ClipL
                                 ? std::string("the CLIP-L text encoder")
                                 : fmt::format("the {} {}", modelFamilyName(family), componentKindName(kind));
    return fmt::format(
        "{}: {} of a diffusers folder of {} (in the Hugging Face cache after `huggingface-cli download {}`; "
        "{} is not loadable yet)",
        what, folder, repo, repo, findVariant(family)->singleFile);
}

std::string whereToGet(ComponentKind kind, ModelFamily family) {
    const ModelVariant* s = findVariant(family);
    const std::string repo = s ? s->repo : "stabilityai/stable-diffusion-3.5-medium";
    if (s && modelSetParts(family).denoiser == ComponentKind::Unet && kind != ComponentKind::Lora)
        return whereToGetSd(kind, family, repo);
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
        case ComponentKind::Unet:
        case ComponentKind::Lora:
            break;
    }
    return "a LoRA adapter";
}

// Where SiD generators of a family are published (spec/sid-fewstep.md §3.2): pickles of the whole UNet.
std::string whereToGetGenerator(ModelFamily family) {
    const std::string where =
        family == ModelFamily::SDXL
            ? "SiD_SDXL_*_4step_*.pkl of UT-Austin-PML/SiDA-StableDiffusion"
            : "batch512_*_t625_*.pkl of UT-Austin-PML/SiD-LSG (one step), UT-Austin-PML/SiD-LSG-multistep or "
              "UT-Austin-PML/SiDA-StableDiffusion (SiDA_SD15_*_joint*step_*.pkl)";
    return fmt::format(
        "a SiD generator for {} (a whole UNet: {}; or one converted to a *sid*.safetensors UNet): put it in "
        "a "
        "folder given with --folder DIR, or name it with --model PATH; without one, run the base model with "
        "a full-step preset",
        modelFamilyName(family), where);
}

// The first model from an override path that has what `want` asks for, or a BadInput naming the path.
FoundModel pickOverride(const fs::path& path, const char* option, bool wantAdapter) {
    auto models = identifyPath(path, option);
    std::vector<std::string> problems;
    for (auto& m : models) {
        const bool fits = wantAdapter ? m.lora.has_value() : m.denoiser() != nullptr;
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
                    : "SD3 / SD3.5 transformer or SD 1.5 / SDXL UNet (a diffusers folder, a single-file SD3 "
                      "checkpoint or a SiD generator)",
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

std::optional<TokenizerFiles> findBundledTokenizers(bool needT5) {
    for (const auto& d : bundledTokenizerDirs()) {
        TokenizerFiles t;
        t.clipVocab = d / "clip" / "vocab.json";
        t.clipMerges = d / "clip" / "merges.txt";
        if (pathExists(d / "t5" / "spiece.model")) t.t5Spiece = d / "t5" / "spiece.model";
        if (!pathExists(t.clipVocab) || !pathExists(t.clipMerges) || (needT5 && t.t5Spiece.empty())) continue;
        if (pathExists(d / "t5" / "tokenizer.json")) t.t5TokenizerJson = d / "t5" / "tokenizer.json";
        t.origin = fmt::format("shipped with swd ({})", d.string());
        return t;
    }
    return std::nullopt;
}

namespace {

// The state of one pairing, step by step (planModelSet below).
struct Planner {
    const Schedule& preset;
    const DiscoveryResult& found;
    const ModelSetOverrides& user;
    ModelSetPlan plan;
    ModelSet set;
    ModelFamily family = ModelFamily::Any;
    std::optional<FoundModel> userModel;
    const FoundModel* base = nullptr;
    const FoundModel* generator = nullptr;  // sid presets: the UNet that replaces the base's
    const FoundComponent* denoiser = nullptr;
    const FoundModel* encoderOwner = nullptr;
    std::vector<std::string> downloads;

    Planner(const Schedule& p, const DiscoveryResult& f, const ModelSetOverrides& u)
        : preset(p), found(f), user(u) {}

    ModelFamily variantFamily() const {
        return family == ModelFamily::Any ? ModelFamily::SD35Medium : family;
    }
    std::string baseName() const {
        return family == ModelFamily::Any ? std::string("the base model") : modelFamilyName(family);
    }
    bool wantsGenerator() const { return preset.sampler == SamplerKind::Sid; }

    void missingPart(ComponentKind kind) {
        plan.missing.push_back(whereToGet(kind, variantFamily()));
        const bool unet = kind == ComponentKind::Unet;
        plan.missingParts.push_back(
            kind == ComponentKind::Transformer || unet
                ? fmt::format("{} {}", family == ModelFamily::Any ? "SD3" : modelFamilyName(family),
                              unet ? "UNet" : "transformer")
                : componentKindName(kind));
        const ModelVariant* v = findVariant(family);
        const std::string repo = v ? v->repo : "stabilityai/stable-diffusion-3.5-medium";
        if (std::find(downloads.begin(), downloads.end(), repo) == downloads.end()) downloads.push_back(repo);
    }
    void addPart(const char* role, const FoundModel& owner, const FoundComponent& c) {
        set.parts.push_back({role, c.path, sourceOf(owner, c.path), diskBytes(c.path)});
    }

    // --model, else the first usable real-size model of the preset's family, a diffusers folder before a
    // single file (it carries its text encoders and tokenizers). A SiD generator is never the base.
    void chooseBase() {
        if (user.model) userModel = pickOverride(*user.model, "--model", false);
        family = preset.family;
        if (userModel) {
            const auto f = userModel->family();
            if (family != ModelFamily::Any && f && *f != family)
                throwBadInput(
                    "--model {}: is {}, but preset '{}' is for {}; pick a preset for {} or another model",
                    user.model->string(), modelFamilyName(*f), preset.id, modelFamilyName(family),
                    modelFamilyName(*f));
            if (f) family = *f;
            // For a sid preset, a lone UNet named with --model is the generator (the user's choice).
            const bool lone =
                userModel->kind == FoundKind::Component && userModel->component(ComponentKind::Unet);
            if (wantsGenerator() && (userModel->generator || lone))
                generator = &*userModel;
            else
                base = &*userModel;
            if (base) return;
        }
        for (FoundKind kind : {FoundKind::Pipeline, FoundKind::Checkpoint, FoundKind::Component}) {
            for (const ModelVariant& variant : registeredVariants()) {
                const ModelFamily f = variant.model;
                if (family != ModelFamily::Any && f != family) continue;
                for (const auto& m : found.models)
                    if (!base && m.kind == kind && m.usable() && m.denoiser() && !m.generator &&
                        m.realSize() && m.family() == f)
                        base = &m;
            }
        }
        if (base && family == ModelFamily::Any) family = *base->family();
    }

    // The denoiser: the SiD generator (sid presets of a UNet family) or the base's transformer / UNet.
    void chooseDenoiser() {
        const ModelSetParts parts = modelSetParts(variantFamily());
        const FoundComponent* baseDenoiser = base ? base->denoiser() : nullptr;
        if (wantsGenerator() && parts.denoiser == ComponentKind::Unet && !generator) {
            // A generator is a drop-in for the base's UNet: same family, same dimensions.
            for (const auto& m : found.models)
                if (!generator && m.generator && m.usable() && m.family() == family &&
                    (baseDenoiser ? m.denoiser()->match.dims == baseDenoiser->match.dims : m.realSize()))
                    generator = &m;
            if (!generator) {
                plan.missing.push_back(whereToGetGenerator(family));
                plan.missingParts.push_back(fmt::format("SiD generator for {}", modelFamilyName(family)));
            }
        }
        const FoundModel* owner = generator ? generator : base;
        denoiser = owner ? owner->denoiser() : nullptr;
        if (!denoiser) {
            missingPart(parts.denoiser);
            return;
        }
        set.transformer = denoiser->path;
        set.transformerPrefix = denoiser->prefix;
        // A generator has no config of its own: it is the base's architecture (checked by its dims).
        if (generator && baseDenoiser) {
            std::error_code ec;
            const auto config = baseDenoiser->path / "config.json";
            if (std::filesystem::is_regular_file(config, ec)) set.denoiserConfig = config;
        }
        set.transformerLayout = denoiser->match.manifest->layout;
        set.transformerDims = denoiser->match.dims;
        set.realSize = denoiser->match.realSize();
        addPart(denoiser->kind == ComponentKind::Unet ? "unet" : "transformer", *owner, *denoiser);
    }

    // VAE and text encoders: the base's own, else (real-size sets only) a found one that fits the family.
    void chooseComponents() {
        const ModelSetParts parts = modelSetParts(variantFamily());
        struct Slot {
            ComponentKind kind;
            fs::path* path;
            std::string* prefix;
        };
        const std::array<Slot, 4> slots = {{
            {ComponentKind::Vae, &set.vae, &set.vaePrefix},
            {ComponentKind::ClipL, &set.clipL, &set.clipLPrefix},
            {ComponentKind::ClipG, &set.clipG, &set.clipGPrefix},
            {ComponentKind::T5, &set.t5, &set.t5Prefix},
        }};
        for (const auto& slot : slots) {
            const bool required =
                std::find(parts.required.begin(), parts.required.end(), slot.kind) != parts.required.end();
            if (!required && !(slot.kind == ComponentKind::T5 && parts.t5)) continue;
            const FoundModel* owner = base;
            const FoundComponent* c = base ? base->component(slot.kind) : nullptr;
            if (!c && (!base || set.realSize)) c = findAnywhere(found, slot.kind, variantFamily(), &owner);
            if (!c) {
                if (required)
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
    }

    // Tokenizers: the base folder's, else those of the folder the encoders came from, else the ones
    // shipped with swd.
    void chooseTokenizers() {
        const bool needT5 = modelSetParts(variantFamily()).t5;
        std::optional<TokenizerFiles> tokenizers;
        if (base && base->tokenizers.complete(needT5))
            tokenizers = base->tokenizers;
        else if (encoderOwner && encoderOwner->tokenizers.complete(needT5))
            tokenizers = encoderOwner->tokenizers;
        else if ((tokenizers = findBundledTokenizers(needT5)))
            set.notes.push_back(fmt::format("tokenizers: {}", tokenizers->origin));
        if (tokenizers) {
            set.clipVocab = tokenizers->clipVocab;
            set.clipMerges = tokenizers->clipMerges;
            set.t5Spiece = needT5 ? tokenizers->t5Spiece : fs::path();
            set.t5TokenizerJson = needT5 ? tokenizers->t5TokenizerJson : fs::path();
            set.tokenizerOrigin = tokenizers->origin;
            return;
        }
        std::vector<std::string> dirs;
        for (const auto& d : bundledTokenizerDirs()) dirs.push_back(d.string());
        plan.missing.push_back(fmt::format(
            "the tokenizer files ({}): the model folder has no tokenizer/ folders and none were found in {}",
            needT5 ? "clip/vocab.json, clip/merges.txt, t5/spiece.model" : "clip/vocab.json, clip/merges.txt",
            fmt::join(dirs, ", ")));
        plan.missingParts.push_back("tokenizers");
    }

    void chooseAdapter();
    void explain();
};

// The adapter: --adapter, else the preset's (by repository id or folder name), fitting the base.
void Planner::chooseAdapter() {
    std::optional<FoundModel> userAdapter;
    if (user.adapter) userAdapter = pickOverride(*user.adapter, "--adapter", true);
    const FoundModel* adapter = userAdapter ? &*userAdapter : nullptr;
    if (adapter && denoiser) {
        const std::string why = adapter->lora->fitProblem(set.transformerDims, baseName());
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
                denoiser ? m.lora->fitProblem(set.transformerDims, baseName()) : std::string();
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
    set.displayName = family == ModelFamily::Any ? std::string("SD3") : modelFamilyName(family);
    if (generator) set.displayName += " + SiD generator " + generator->name();
    if (adapter) {
        set.adapter = adapter->path;
        set.adapterInfo = adapter->lora;
        set.parts.push_back({"adapter", adapter->path, sourceOf(*adapter, adapter->loraFile),
                             diskBytes(adapter->loraFile.empty() ? adapter->path : adapter->loraFile)});
    }
    if (!preset.adapter.empty())
        set.displayName += " + " + preset.adapter;
    else if (adapter)
        set.displayName += " + " + adapter->name();
}

// What is missing, every place looked, what was found but cannot be used, and what to download.
void Planner::explain() {
    std::vector<std::string>& unusable = plan.unusable;
    for (const auto& m : found.models) {
        if (m.usable() || m.kind == FoundKind::Adapter) continue;
        const bool related = m.family() == family || m.kind != FoundKind::Unrecognised;
        if (!related || m.problems.empty() || m.unrelated) continue;
        if (m.ldmFamily && m.ldmFamily != family) continue;  // another family's single file
        unusable.push_back(fmt::format("{}: {}", m.path.string(), fmt::join(m.problems, "; ")));
    }
    std::string needs = baseName();
    if (!preset.adapter.empty())
        needs = fmt::format("{} with the SwD adapter {}", baseName(), preset.adapter);
    else if (wantsGenerator() && modelSetParts(variantFamily()).denoiser == ComponentKind::Unet)
        needs = fmt::format("a SiD generator and {} (VAE, text encoders)", baseName());
    std::string msg = fmt::format("preset '{}' needs {}; missing:\n", preset.id, needs);
    for (const auto& m : plan.missing) msg += "  - " + m + "\n";
    msg += "Searched:\n";
    msg += found.searchedText().empty() ? std::string("  (no folders and no Hugging Face cache)\n")
                                        : found.searchedText();
    if (user.model) msg += fmt::format("  - {} (--model)\n", user.model->string());
    if (!unusable.empty()) {
        msg += "Found but not usable:\n";
        for (const auto& u : unusable) msg += "  - " + u + "\n";
    }
    std::vector<std::string> cmds;
    for (const auto& d : downloads) cmds.push_back(fmt::format("`huggingface-cli download {}`", d));
    msg += cmds.empty() ? std::string("To fix: ")
                        : fmt::format("To fix: download {}, or ", fmt::join(cmds, " and "));
    msg +=
        "add the folder that holds the files with --folder DIR, or name them with --model PATH / --adapter "
        "PATH.";
    plan.message = std::move(msg);
}

}  // namespace

ModelSetPlan planModelSet(const Schedule& preset, const DiscoveryResult& found,
                          const ModelSetOverrides& user) {
    Planner p(preset, found, user);
    p.chooseBase();
    p.set.family = p.family;
    p.chooseDenoiser();
    p.chooseComponents();
    p.chooseTokenizers();
    p.chooseAdapter();
    if (p.plan.missing.empty()) {
        p.plan.set = std::move(p.set);
        return std::move(p.plan);
    }
    p.explain();
    return std::move(p.plan);
}

ModelSet resolveModelSet(const Schedule& preset, const DiscoveryResult& found,
                         const ModelSetOverrides& user) {
    ModelSetPlan plan = planModelSet(preset, found, user);
    if (!plan.set) throw Error(ErrorKind::BadInput, plan.message);
    return std::move(*plan.set);
}

}  // namespace swd
