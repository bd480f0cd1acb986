#include "catalog/model_identity.h"

#include "family/family.h"

#include "util/error.h"
#include "util/json_reader.h"
#include "util/tensor_text.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

namespace swd {

namespace {

using Shape = std::vector<std::int64_t>;
// The tensors of one component, by name without the component's prefix.
using Group = std::map<std::string, const TensorInfo*>;

bool startsWith(const std::string& s, const std::string& prefix) {
    return s.compare(0, prefix.size(), prefix) == 0;
}

bool endsWith(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Prefixes of the components of single-file and all-in-one checkpoints (sd35-architecture.md §1, §5.4).
struct KnownPrefix {
    const char* prefix;
    ComponentKind kind;
};
constexpr std::array<KnownPrefix, 5> kPrefixes = {{
    {"model.diffusion_model.", ComponentKind::Transformer},
    {"first_stage_model.", ComponentKind::Vae},
    {"text_encoders.clip_l.transformer.", ComponentKind::ClipL},
    {"text_encoders.clip_g.transformer.", ComponentKind::ClipG},
    {"text_encoders.t5xxl.transformer.", ComponentKind::T5},
}};

// Where the dimensions of a component are read, per kind and layout.
struct DimsRule {
    ComponentKind kind;
    WeightLayout layout;
    std::array<const char*, 2> widthTensors;  // the first one present gives the width
    int widthDim;
    const char* blocksPrefix;  // "<prefix><N>." names one block
    const char* attn2Suffix;   // "<blocksPrefix><N>.<suffix>" exists in MMDiT-X dual-attention blocks
};
constexpr std::array<DimsRule, 10> kDimsRules = {{
    {ComponentKind::Unet, WeightLayout::Diffusers, {"conv_in.weight", nullptr}, 0, "down_blocks.", nullptr},
    {ComponentKind::Transformer,
     WeightLayout::Diffusers,
     {"pos_embed.proj.weight", nullptr},
     0,
     "transformer_blocks.",
     "attn2.to_q.weight"},
    {ComponentKind::Transformer,
     WeightLayout::SingleFile,
     {"x_embedder.proj.weight", nullptr},
     0,
     "joint_blocks.",
     "x_block.attn2.qkv.weight"},
    {ComponentKind::Vae,
     WeightLayout::Diffusers,
     {"encoder.conv_in.weight", nullptr},
     0,
     "decoder.up_blocks.",
     nullptr},
    {ComponentKind::Vae,
     WeightLayout::SingleFile,
     {"encoder.conv_in.weight", nullptr},
     0,
     "decoder.up.",
     nullptr},
    {ComponentKind::ClipL,
     WeightLayout::Transformers,
     {"text_model.embeddings.token_embedding.weight", nullptr},
     1,
     "text_model.encoder.layers.",
     nullptr},
    {ComponentKind::ClipG,
     WeightLayout::Transformers,
     {"text_model.embeddings.token_embedding.weight", nullptr},
     1,
     "text_model.encoder.layers.",
     nullptr},
    {ComponentKind::T5,
     WeightLayout::Transformers,
     {"shared.weight", "encoder.embed_tokens.weight"},
     1,
     "encoder.block.",
     nullptr},
    {ComponentKind::Lora,
     WeightLayout::Peft,
     {"transformer_blocks.0.attn.to_q.lora_A.weight", nullptr},
     1,
     "transformer_blocks.",
     "attn2.to_q.lora_A.weight"},
    {ComponentKind::Lora,
     WeightLayout::Diffusers,
     {"transformer_blocks.0.attn.to_q.lora_A.weight", nullptr},
     1,
     "transformer_blocks.",
     "attn2.to_q.lora_A.weight"},
}};

const DimsRule* dimsRule(ComponentKind kind, WeightLayout layout) {
    for (const auto& r : kDimsRules)
        if (r.kind == kind && r.layout == layout) return &r;
    return nullptr;
}

ComponentDims dimsByRule(const DimsRule& rule, const std::vector<std::string>& names,
                         const std::function<const Shape*(const std::string&)>& shapeOf) {
    ComponentDims d;
    for (const char* w : rule.widthTensors) {
        if (!w) continue;
        const Shape* s = shapeOf(w);
        if (s && static_cast<int>(s->size()) > rule.widthDim) {
            d.width = (*s)[static_cast<std::size_t>(rule.widthDim)];
            break;
        }
    }
    std::set<int> blocks;
    const std::string bp = rule.blocksPrefix;
    for (const auto& n : names) {
        if (!startsWith(n, bp)) continue;
        const auto dot = n.find('.', bp.size());
        const std::string idx =
            n.substr(bp.size(), dot == std::string::npos ? std::string::npos : dot - bp.size());
        if (!idx.empty() && idx.size() < 6 && std::all_of(idx.begin(), idx.end(), ::isdigit))
            blocks.insert(std::stoi(idx));
    }
    d.blocks = static_cast<int>(blocks.size());
    if (rule.attn2Suffix)
        for (int b : blocks)
            if (shapeOf(bp + std::to_string(b) + "." + rule.attn2Suffix)) d.attn2Blocks.push_back(b);
    return d;
}

// Structure templates and dimensions of a manifest, computed once.
struct ManifestFacts {
    std::set<std::string> requiredTemplates, allTemplates;
    ComponentDims dims;
};

const ManifestFacts& factsOf(const Manifest& m) {
    static std::mutex mutex;
    static std::map<const Manifest*, ManifestFacts> cache;
    std::lock_guard<std::mutex> lock(mutex);
    auto it = cache.find(&m);
    if (it != cache.end()) return it->second;
    ManifestFacts f;
    std::vector<std::string> names;
    for (const auto& t : m.tensors) {
        const auto tpl = structureTemplate(t.name);
        f.allTemplates.insert(tpl);
        if (!t.optional) f.requiredTemplates.insert(tpl);
        names.push_back(t.name);
    }
    f.dims = componentDims(m, names, [&m](const std::string& n) -> const Shape* {
        const auto* t = m.find(n);
        return t ? &t->shape : nullptr;
    });
    return cache.emplace(&m, std::move(f)).first->second;
}

// One manifest compared with one group.
struct Candidate {
    const Manifest* manifest = nullptr;
    std::size_t matched = 0, present = 0;
    NameList missing, unexpected, wrongShape, optionalAbsent;
    bool sameStructure = false;
    double structureScore = 0;
    ComponentDims dims;
};

Candidate evaluate(const Manifest& m, const Group& group, const std::set<std::string>& groupTemplates) {
    Candidate c;
    c.manifest = &m;
    for (const auto& t : m.tensors) {
        const auto it = group.find(t.name);
        if (it == group.end()) {
            (t.optional ? c.optionalAbsent : c.missing).add(t.name);
            continue;
        }
        ++c.present;
        if (it->second->shape == t.shape)
            ++c.matched;
        else
            c.wrongShape.add(fmt::format("{} {} (expected {})", t.name, shapeToString(it->second->shape),
                                         shapeToString(t.shape)));
    }
    for (const auto& [name, info] : group)
        if (!m.find(name)) c.unexpected.add(name);
    const auto& facts = factsOf(m);
    std::size_t common = 0;
    for (const auto& tpl : groupTemplates) common += facts.allTemplates.count(tpl);
    const std::size_t unionSize = groupTemplates.size() + facts.allTemplates.size() - common;
    c.structureScore = unionSize ? static_cast<double>(common) / static_cast<double>(unionSize) : 0.0;
    c.sameStructure = common == groupTemplates.size() &&
                      std::all_of(facts.requiredTemplates.begin(), facts.requiredTemplates.end(),
                                  [&](const std::string& t) { return groupTemplates.count(t) != 0; });
    std::vector<std::string> names;
    for (const auto& [name, info] : group) names.push_back(name);
    c.dims = componentDims(m, names, [&group](const std::string& n) -> const Shape* {
        const auto it = group.find(n);
        return it == group.end() ? nullptr : &it->second->shape;
    });
    return c;
}

bool sameFamilyOfKinds(ComponentKind a, ComponentKind b) {
    auto isClip = [](ComponentKind k) { return k == ComponentKind::ClipL || k == ComponentKind::ClipG; };
    return a == b || (isClip(a) && isClip(b));
}

// The best manifest for a group. `kindFilter`: only manifests of this kind (a known single-file prefix).
ComponentMatch matchGroup(const Group& group, const std::string& prefix,
                          std::optional<ComponentKind> kindFilter, std::optional<ComponentKind> role) {
    std::set<std::string> templates;
    for (const auto& [name, info] : group) templates.insert(structureTemplate(name));
    std::vector<Candidate> candidates;
    for (const auto& m : builtinManifests()) {
        if (m.kind == ComponentKind::Lora) continue;
        if (kindFilter && !sameFamilyOfKinds(m.kind, *kindFilter)) continue;
        candidates.push_back(evaluate(m, group, templates));
    }

    const Candidate* best = nullptr;
    const Candidate* tie = nullptr;
    MatchQuality quality = MatchQuality::None;
    auto prefer = [&](const Candidate& c) {
        const ComponentKind want = kindFilter ? *kindFilter : (role ? *role : c.manifest->kind);
        return c.manifest->kind == want;
    };
    for (const auto& c : candidates) {
        if (c.missing.empty() && c.unexpected.empty() && c.wrongShape.empty()) {
            best = &c;
            quality = MatchQuality::Exact;
            break;
        }
    }
    if (!best) {
        for (const auto& c : candidates) {
            if (!c.sameStructure) continue;
            if (!best) {
                best = &c;
                continue;
            }
            const bool better =
                c.matched != best->matched ? c.matched > best->matched : prefer(c) && !prefer(*best);
            if (better) {
                tie = c.matched == best->matched ? best : nullptr;
                best = &c;
            } else if (c.matched == best->matched) {
                tie = &c;
            }
        }
        if (best) {
            const auto& realDims = factsOf(*best->manifest).dims;
            quality = (best->dims.width != realDims.width || best->dims.blocks != realDims.blocks)
                          ? MatchQuality::OtherSize
                          : MatchQuality::Near;
        }
    }
    if (!best) {
        for (const auto& c : candidates)
            if (!best || c.structureScore > best->structureScore) best = &c;
        if (best && best->structureScore >= 0.5)
            quality = MatchQuality::Near;
        else if (!kindFilter)
            best = nullptr;  // nothing close: not an SD3-family component
    }

    ComponentMatch out;
    out.prefix = prefix;
    out.quality = quality;
    out.tensors = group.size();
    for (const auto& [name, info] : group) {
        out.bytes += info->byteSize();
        out.params += info->numel();
        ++out.dtypes[info->dtype];
    }
    if (!best) {
        out.kind = kindFilter.value_or(role.value_or(ComponentKind::Transformer));
        return out;
    }
    out.manifest = best->manifest;
    out.kind = best->manifest->kind;
    if (tie && tie->manifest->kind != best->manifest->kind) out.alsoFits = tie->manifest;
    out.matched = best->matched;
    out.missing = best->missing;
    out.unexpected = best->unexpected;
    out.wrongShape = best->wrongShape;
    out.optionalAbsent = best->optionalAbsent;
    out.dims = best->dims;
    out.manifestDims = factsOf(*best->manifest).dims;
    return out;
}

const ComponentDims* familyDims(ModelFamily f) {
    const ModelVariant* variant = findVariant(f);
    const Manifest* m = variant ? findManifest(variant->sizeManifest) : nullptr;
    return m ? &factsOf(*m).dims : nullptr;
}

std::string formatNumber(double v) {
    return fmt::format("{:g}", v);
}

// LoRA identification from the names ending in .lora_A.weight / .lora_B.weight.
LoraInfo identifyLora(const std::vector<std::pair<std::string, const TensorInfo*>>& loraTensors,
                      const std::map<std::string, std::string>& metadata, const nlohmann::json* config) {
    LoraInfo info;
    // The naming: PEFT (base_model.model.), diffusers (transformer.) or bare module paths.
    std::map<std::string, std::size_t> prefixCounts;
    auto prefixOf = [](const std::string& n) -> std::string {
        if (startsWith(n, "base_model.model.")) return "base_model.model.";
        if (startsWith(n, "transformer.")) return "transformer.";
        if (startsWith(n, "transformer_blocks.")) return "";
        return n.substr(0, n.find('.') + 1);
    };
    for (const auto& [name, t] : loraTensors) ++prefixCounts[prefixOf(name)];
    const auto mostCommon =
        std::max_element(prefixCounts.begin(), prefixCounts.end(),
                         [](const auto& a, const auto& b) { return a.second < b.second; });
    info.prefix = mostCommon->first;
    info.format = info.prefix == "transformer." ? "diffusers" : "PEFT";
    if (info.prefix != "base_model.model." && info.prefix != "transformer." && !info.prefix.empty())
        info.problems.add(
            fmt::format("LoRA names start with '{}', which names no SD3 transformer module", info.prefix));

    struct Factors {
        const TensorInfo* a = nullptr;
        const TensorInfo* b = nullptr;
    };
    std::map<std::string, Factors> modules;
    for (const auto& [name, t] : loraTensors) {
        info.bytes += t->byteSize();
        info.params += t->numel();
        ++info.dtypes[t->dtype];
        ++info.tensors;
        if (prefixOf(name) != info.prefix) {
            info.problems.add(fmt::format("'{}' is outside the transformer ('{}' LoRA keys are not applied)",
                                          name, prefixOf(name)));
            continue;
        }
        const std::string rest = name.substr(info.prefix.size());
        const bool isA = endsWith(rest, ".lora_A.weight");
        const std::string module = rest.substr(0, rest.size() - std::string(".lora_A.weight").size());
        (isA ? modules[module].a : modules[module].b) = t;
    }
    std::set<int> ranks;
    std::vector<std::string> moduleNames;
    std::map<std::string, Shape> shapes;  // "<module>.lora_A.weight" -> shape, for the dimensions
    for (const auto& [module, f] : modules) {
        if (!f.a || !f.b) {
            info.problems.add(
                fmt::format("{}: has lora_{} but no lora_{}", module, f.a ? "A" : "B", f.a ? "B" : "A"));
            continue;
        }
        if (f.a->shape.size() != 2 || f.b->shape.size() != 2 || f.a->shape[0] != f.b->shape[1]) {
            info.problems.add(
                fmt::format("{}: lora_A {} and lora_B {} do not form a rank-r pair ([r, in], [out, r])",
                            module, shapeToString(f.a->shape), shapeToString(f.b->shape)));
            continue;
        }
        ranks.insert(static_cast<int>(f.a->shape[0]));
        moduleNames.push_back(module + ".lora_A.weight");
        shapes[module + ".lora_A.weight"] = f.a->shape;
        ++info.modules;
    }
    if (!ranks.empty()) {
        info.minRank = *ranks.begin();
        info.rank = *ranks.rbegin();
    }

    // alpha: adapter_config.json (PEFT), the diffusers header metadata, else alpha = r.
    bool rsLora = false;
    std::optional<double> alpha;
    if (config && config->is_object()) {
        const auto& c = *config;
        if (c.contains("lora_alpha") && c["lora_alpha"].is_number()) alpha = c["lora_alpha"].get<double>();
        info.alphaSource = "adapter_config.json";
        if (c.contains("r") && c["r"].is_number_integer() && info.rank &&
            c["r"].get<std::int64_t>() != info.rank)
            info.problems.add(fmt::format("adapter_config.json says r = {}, but the tensors have rank {}",
                                          describeJson(c["r"]), info.rank));
        if (c.contains("peft_type") && !(c["peft_type"].is_string() && c["peft_type"] == "LORA"))
            info.problems.add(
                fmt::format("adapter_config.json: peft_type is {}; only LORA adapters are supported",
                            describeJson(c["peft_type"])));
        if (c.contains("use_dora") && c["use_dora"].is_boolean() && c["use_dora"].get<bool>())
            info.problems.add("adapter_config.json: use_dora is true; DoRA adapters are not supported");
        for (const char* key : {"rank_pattern", "alpha_pattern"})
            if (c.contains(key) && c[key].is_object() && !c[key].empty())
                info.problems.add(fmt::format(
                    "adapter_config.json: {} (per-module ranks or alphas) is not supported", key));
        rsLora = c.contains("use_rslora") && c["use_rslora"].is_boolean() && c["use_rslora"].get<bool>();
        if (c.contains("base_model_name_or_path") && c["base_model_name_or_path"].is_string())
            info.baseModel = c["base_model_name_or_path"].get<std::string>();
    } else if (const auto it = metadata.find("lora_adapter_metadata"); it != metadata.end()) {
        try {
            const auto meta = parseJson(it->second, "the header's lora_adapter_metadata");
            if (meta.contains("transformer.lora_alpha") && meta["transformer.lora_alpha"].is_number())
                alpha = meta["transformer.lora_alpha"].get<double>();
            rsLora = meta.contains("transformer.use_rslora") && meta["transformer.use_rslora"].is_boolean() &&
                     meta["transformer.use_rslora"].get<bool>();
            info.alphaSource = "lora_adapter_metadata";
        } catch (const Error& e) {
            info.problems.add(e.what());
        }
    }
    if (!alpha) {
        alpha = info.rank;
        info.alphaSource = "not stored: alpha = r";
    }
    info.alpha = *alpha;
    if (info.rank > 0)
        info.scale = rsLora ? info.alpha / std::sqrt(static_cast<double>(info.rank)) : info.alpha / info.rank;

    // The base it fits.
    static const DimsRule* rule = dimsRule(ComponentKind::Lora, WeightLayout::Peft);
    info.dims = dimsByRule(*rule, moduleNames, [&shapes](const std::string& n) -> const Shape* {
        const auto it = shapes.find(n);
        return it == shapes.end() ? nullptr : &it->second;
    });
    if (!info.dims.attn2Blocks.empty())
        info.family = ModelFamily::SD35Medium;
    else if (info.dims.width == 2432)
        info.family = ModelFamily::SD35Large;
    else if (info.dims.width == 1536 && info.dims.blocks == 24)
        info.family = ModelFamily::SD3Medium;
    if (info.family) {
        const ComponentDims* real = familyDims(*info.family);
        info.realSize = real && *real == info.dims;
    }
    const ModelVariant* variant = info.family ? findVariant(*info.family) : nullptr;
    if (info.realSize && variant && *variant->adapterManifest) {
        info.swdLayout = findManifest(variant->adapterManifest);
        if (info.swdLayout) {
            std::set<std::string> swdModules;
            for (const auto& t : info.swdLayout->tensors)
                if (endsWith(t.name, ".lora_A.weight")) swdModules.insert(t.name);
            for (const auto& m : swdModules)
                if (!shapes.count(m)) info.swdMissing.add(m.substr(0, m.size() - 14));
            for (const auto& [m, s] : shapes)
                if (!swdModules.count(m)) info.swdExtra.add(m.substr(0, m.size() - 14));
        }
    }
    if (info.modules == 0 && info.problems.empty()) info.problems.add("no complete lora_A / lora_B pair");
    return info;
}

}  // namespace

std::optional<ModelFamily> familyOfModel(const std::string& model) {
    if (const ModelVariant* v = findVariantByManifest(model)) return v->model;
    return std::nullopt;
}

std::string formatByteSize(std::uint64_t bytes) {
    const double b = static_cast<double>(bytes);
    if (bytes < 1000) return fmt::format("{} B", bytes);
    if (b < 1e6) return fmt::format("{:.1f} kB", b / 1e3);
    if (b < 1e9) return fmt::format("{:.{}f} MB", b / 1e6, b < 1e8 ? 1 : 0);
    return fmt::format("{:.2f} GB", b / 1e9);
}

std::string formatDtypes(const std::map<StDtype, std::size_t>& dtypes) {
    std::vector<std::pair<std::size_t, StDtype>> byCount;
    for (const auto& [d, n] : dtypes) byCount.emplace_back(n, d);
    std::stable_sort(byCount.begin(), byCount.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<std::string> names;
    for (const auto& [n, d] : byCount) names.push_back(stDtypeName(d));
    return names.empty() ? "-" : fmt::format("{}", fmt::join(names, "+"));
}

std::string formatIndexRanges(const std::vector<int>& sorted) {
    std::vector<std::string> parts;
    for (std::size_t i = 0; i < sorted.size();) {
        std::size_t j = i;
        while (j + 1 < sorted.size() && sorted[j + 1] == sorted[j] + 1) ++j;
        parts.push_back(i == j ? std::to_string(sorted[i]) : fmt::format("{}-{}", sorted[i], sorted[j]));
        i = j + 1;
    }
    return fmt::format("{}", fmt::join(parts, ","));
}

std::string ComponentDims::describe(ComponentKind kind) const {
    switch (kind) {
        case ComponentKind::Transformer:
        case ComponentKind::Lora: {
            std::string s = fmt::format("hidden {}, {} blocks", width, blocks);
            if (!attn2Blocks.empty())
                s += fmt::format(", dual attention in blocks {}", formatIndexRanges(attn2Blocks));
            return s;
        }
        case ComponentKind::Unet:
        case ComponentKind::Vae:
            return fmt::format("{} channels in the first level, {} levels", width, blocks);
        case ComponentKind::ClipL:
        case ComponentKind::ClipG:
        case ComponentKind::T5:
            return fmt::format("width {}, {} layers", width, blocks);
    }
    return {};
}

std::string NameList::describe() const {
    std::string s = fmt::format("{}", fmt::join(shown, ", "));
    if (count > shown.size()) s += fmt::format(" (+{} more)", count - shown.size());
    return s;
}

std::optional<ModelFamily> ComponentMatch::family() const {
    if (!manifest || (kind != ComponentKind::Transformer && kind != ComponentKind::Unet)) return std::nullopt;
    return familyOfModel(manifest->model);
}

std::string ComponentMatch::headline() const {
    if (!manifest) return fmt::format("not recognised ({} tensors)", tensors);
    const std::string layout = weightLayoutName(manifest->layout);
    switch (quality) {
        case MatchQuality::Exact:
            return fmt::format("{}, {} layout: exact match ({} tensors)", manifest->name, layout, tensors);
        case MatchQuality::OtherSize:
            if (alsoFits)
                return fmt::format("{} / {} architecture at another size, {} layout", manifest->name,
                                   alsoFits->name, layout);
            return fmt::format("{} architecture at another size, {} layout", manifest->name, layout);
        case MatchQuality::Near:
            return fmt::format("near match to {}, {} layout: {} of {} tensors match", manifest->name, layout,
                               matched, manifest->requiredCount());
        case MatchQuality::None:
            break;
    }
    return fmt::format("not a valid {}: the closest is {}, {} layout, with {} of {} tensors matching",
                       componentKindName(kind), manifest->name, layout, matched, manifest->requiredCount());
}

std::vector<std::string> ComponentMatch::details() const {
    std::vector<std::string> lines;
    if (!manifest) return lines;
    if (quality == MatchQuality::OtherSize) {
        lines.push_back(fmt::format("{} (real model: {})", dims.describe(kind), manifestDims.describe(kind)));
        return lines;
    }
    if (!missing.empty()) lines.push_back(fmt::format("missing ({}): {}", missing.count, missing.describe()));
    if (!unexpected.empty())
        lines.push_back(fmt::format("unexpected ({}): {}", unexpected.count, unexpected.describe()));
    if (!wrongShape.empty())
        lines.push_back(fmt::format("wrong shape ({}): {}", wrongShape.count, wrongShape.describe()));
    if (quality == MatchQuality::Exact && !optionalAbsent.empty()) {
        std::string note = fmt::format("absent (optional): {}", optionalAbsent.describe());
        if (kind == ComponentKind::ClipL && optionalAbsent.count == 1 &&
            optionalAbsent.shown[0] == "text_projection.weight")
            note += " (the identity projection is used, as diffusers does)";
        lines.push_back(note);
    }
    return lines;
}

std::string LoraInfo::headline() const {
    std::string s = fmt::format("{} LoRA, rank {}", format, rank);
    if (minRank != rank) s += fmt::format(" (modules {}..{})", minRank, rank);
    s += fmt::format(", alpha {} (scale {}), {} modules, {}", formatNumber(alpha), formatNumber(scale),
                     modules, formatDtypes(dtypes));
    if (family && realSize) {
        s += fmt::format(": fits {}", modelFamilyName(*family));
        if (swdLayout && swdMissing.empty() && swdExtra.empty())
            s += " (every module SwD adapts, as yresearch/swd-*)";
    } else if (family) {
        s += fmt::format(": fits an {} architecture at another size", modelFamilyName(*family));
    } else if (modules > 0) {
        s += ": fits an MMDiT without dual attention (SD3.5 Large / SD3 Medium architecture) at another size";
    }
    return s;
}

std::vector<std::string> LoraInfo::details() const {
    std::vector<std::string> lines;
    lines.push_back(fmt::format("base: {}; alpha from {}", dims.describe(ComponentKind::Lora), alphaSource));
    if (!baseModel.empty()) lines.push_back(fmt::format("adapter_config.json base model: {}", baseModel));
    if (!swdMissing.empty())
        lines.push_back(fmt::format("modules SwD adapts that it lacks ({}): {}", swdMissing.count,
                                    swdMissing.describe()));
    if (!swdExtra.empty())
        lines.push_back(
            fmt::format("modules SwD does not adapt ({}): {}", swdExtra.count, swdExtra.describe()));
    if (!problems.empty())
        lines.push_back(fmt::format("problems ({}): {}", problems.count, problems.describe()));
    return lines;
}

std::string LoraInfo::fitProblem(const ComponentDims& base, const std::string& baseName) const {
    const bool attn2Fits = std::includes(base.attn2Blocks.begin(), base.attn2Blocks.end(),
                                         dims.attn2Blocks.begin(), dims.attn2Blocks.end());
    if (dims.width == base.width && dims.blocks <= base.blocks && attn2Fits) return {};
    std::string lora = family && realSize ? fmt::format("{} ({})", modelFamilyName(*family),
                                                        dims.describe(ComponentKind::Lora))
                                          : dims.describe(ComponentKind::Lora);
    return fmt::format("the adapter was made for {}, but the base transformer is {} ({})", lora, baseName,
                       base.describe(ComponentKind::Transformer));
}

const ComponentMatch* CheckpointIdentity::find(ComponentKind kind) const {
    for (const auto& c : components)
        if (c.kind == kind && c.manifest) return &c;
    return nullptr;
}

ComponentDims componentDims(const Manifest& manifest, const std::vector<std::string>& names,
                            const std::function<const Shape*(const std::string&)>& shapeOf) {
    const DimsRule* rule = dimsRule(manifest.kind, manifest.layout);
    return rule ? dimsByRule(*rule, names, shapeOf) : ComponentDims{};
}

namespace {

// An original (LDM / SGM) SD 1.5 or SDXL checkpoint: its UNet has input_blocks / middle_block /
// output_blocks under model.diffusion_model.; SDXL's also has label_emb (the pooled text + size
// embedding) and its text encoders are under conditioner.embedders.
std::optional<ModelFamily> ldmSdFamily(const std::vector<const TensorInfo*>& tensors) {
    bool unet = false, xl = false;
    for (const TensorInfo* t : tensors) {
        unet = unet || startsWith(t->name, "model.diffusion_model.input_blocks.") ||
               startsWith(t->name, "model.diffusion_model.middle_block.");
        xl = xl || startsWith(t->name, "model.diffusion_model.label_emb.") ||
             startsWith(t->name, "conditioner.embedders.");
    }
    if (!unet) return std::nullopt;
    return xl ? ModelFamily::SDXL : ModelFamily::SD15;
}

}  // namespace

CheckpointIdentity identifyCheckpoint(const TensorStore& store, std::optional<ComponentKind> role,
                                      const nlohmann::json* adapterConfig) {
    std::vector<const TensorInfo*> tensors;
    for (const auto& name : store.names()) tensors.push_back(&store.info(name));
    return identifyTensors(tensors, store.metadata(), role, adapterConfig);
}

CheckpointIdentity identifyTensors(const std::vector<const TensorInfo*>& tensors,
                                   const std::map<std::string, std::string>& metadata,
                                   std::optional<ComponentKind> role, const nlohmann::json* adapterConfig) {
    CheckpointIdentity id;
    id.ldmFamily = ldmSdFamily(tensors);
    std::map<std::string, Group> groups;  // by prefix ("" = the rest)
    std::vector<std::pair<std::string, const TensorInfo*>> lora;
    for (const TensorInfo* info : tensors) {
        const std::string& name = info->name;
        ++id.tensors;
        id.bytes += info->byteSize();
        if (endsWith(name, ".lora_A.weight") || endsWith(name, ".lora_B.weight")) {
            lora.emplace_back(name, info);
            continue;
        }
        std::string prefix;
        for (const auto& p : kPrefixes)
            if (startsWith(name, p.prefix)) prefix = p.prefix;
        groups[prefix][name.substr(prefix.size())] = info;
    }
    for (const auto& p : kPrefixes) {
        const auto it = groups.find(p.prefix);
        if (it == groups.end()) continue;
        // An LDM UNet is named, not matched: no manifest lists its original names (model_discovery says
        // what to download instead).
        if (id.ldmFamily && p.kind == ComponentKind::Transformer) continue;
        id.components.push_back(matchGroup(it->second, p.prefix, p.kind, std::nullopt));
    }
    if (const auto rest = groups.find(""); rest != groups.end() && !id.ldmFamily) {
        // The tensors of a LoRA file that are not factors (e.g. kohya's .alpha) are not a model.
        if (!lora.empty()) {
            for (const auto& [name, info] : rest->second) id.unassigned.add(name);
        } else {
            ComponentMatch m = matchGroup(rest->second, "", std::nullopt, role);
            if (m.manifest)
                id.components.push_back(std::move(m));
            else
                for (const auto& [name, info] : rest->second) id.unassigned.add(name);
        }
    }
    if (!lora.empty()) id.lora = identifyLora(lora, metadata, adapterConfig);
    return id;
}

}  // namespace swd
