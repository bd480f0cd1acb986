#include "models/lora.h"

#include "util/error.h"
#include "util/json_reader.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <fstream>
#include <regex>
#include <set>

namespace swd {

namespace fs = std::filesystem;

namespace {

const std::string kPeftPrefix = "base_model.model.";
const std::string kDiffusersPrefix = "transformer.";
const std::string kA = ".lora_A.weight";
const std::string kB = ".lora_B.weight";

bool startsWith(const std::string& s, const std::string& p) {
    return s.compare(0, p.size(), p) == 0;
}
bool endsWith(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "a, b, c and 12 more"
std::string listSome(const std::vector<std::string>& items, std::size_t limit = 12) {
    std::string out;
    for (std::size_t i = 0; i < items.size() && i < limit; ++i) out += (i ? ", " : "") + items[i];
    if (items.size() > limit) out += fmt::format(" and {} more", items.size() - limit);
    return out;
}

nlohmann::json readJson(const fs::path& file) {
    return readJsonFile(file, "adapter config");
}

// PEFT's pattern lookup (rank_pattern / alpha_pattern): a key matches a module when it equals the
// module path or, as a regular expression, matches its end after a '.'.
const nlohmann::json* patternValue(const nlohmann::json& patterns, const std::string& module) {
    if (!patterns.is_object()) return nullptr;
    for (auto it = patterns.begin(); it != patterns.end(); ++it)
        if (it.key() == module) return &it.value();
    for (auto it = patterns.begin(); it != patterns.end(); ++it) {
        try {
            if (std::regex_match(module, std::regex("(.*\\.)?(" + it.key() + ")"))) return &it.value();
        } catch (const std::regex_error&) {
        }
    }
    return nullptr;
}

bool isTrue(const nlohmann::json& config, const char* key) {
    const auto it = config.find(key);
    return it != config.end() && it->is_boolean() && it->get<bool>();
}

}  // namespace

std::shared_ptr<LoraAdapter> LoraAdapter::load(const fs::path& path) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
        const fs::path peftWeights = path / "adapter_model.safetensors";
        const fs::path peftConfig = path / "adapter_config.json";
        const fs::path diffusersWeights = path / "pytorch_lora_weights.safetensors";
        if (fs::exists(peftWeights)) {
            if (!fs::exists(peftConfig))
                throwBadInput(
                    "{}: a PEFT adapter folder needs adapter_config.json (it gives r and lora_alpha)",
                    path.string());
            return build(TensorStore::openFile(peftWeights), kPeftPrefix, readJson(peftConfig), "peft",
                         peftWeights.string());
        }
        if (fs::exists(diffusersWeights)) return load(diffusersWeights);
        if (fs::exists(path / "adapter_model.bin"))
            throwUnsupported(
                "{}: adapter_model.bin (pickle) is not supported; save the adapter as safetensors "
                "(PeftModel.save_pretrained(..., safe_serialization=True))",
                path.string());
        throwBadInput(
            "{}: not a LoRA folder: no adapter_model.safetensors (PEFT) or "
            "pytorch_lora_weights.safetensors (diffusers)",
            path.string());
    }
    if (!fs::exists(path, ec)) throwBadInput("{}: no such LoRA file or folder", path.string());
    const TensorStore store = TensorStore::openFile(path);
    const auto names = store.names();
    if (names.empty()) throwBadInput("{}: the LoRA file holds no tensors", path.string());
    bool peft = false, diffusers = false;
    for (const auto& n : names) {
        peft = peft || startsWith(n, kPeftPrefix);
        diffusers = diffusers || startsWith(n, kDiffusersPrefix);
    }
    if (peft) {
        const fs::path config = path.parent_path() / "adapter_config.json";
        if (!fs::exists(config))
            throwBadInput(
                "{}: PEFT adapter weights (base_model.model.*) need the adapter_config.json that PEFT "
                "saves beside them (it gives r and lora_alpha); none in {}",
                path.string(), path.parent_path().string());
        return build(store, kPeftPrefix, readJson(config), "peft", path.string());
    }
    if (diffusers) {
        nlohmann::json config = nlohmann::json::object();
        const auto meta = store.metadata();
        const auto it = meta.find("lora_adapter_metadata");
        if (it != meta.end()) {
            const nlohmann::json all =
                parseJson(it->second, path.string() + ": __metadata__[\"lora_adapter_metadata\"]");
            if (all.is_object())
                for (auto kv = all.begin(); kv != all.end(); ++kv)
                    if (startsWith(kv.key(), kDiffusersPrefix))
                        config[kv.key().substr(kDiffusersPrefix.size())] = kv.value();
        }
        return build(store, kDiffusersPrefix, config, "diffusers", path.string());
    }
    throwBadInput(
        "{}: unrecognised LoRA key format (e.g. '{}'); expected PEFT keys "
        "base_model.model.<module>.lora_A.weight or diffusers keys transformer.<module>.lora_A.weight",
        path.string(), names.front());
}

std::shared_ptr<LoraAdapter> LoraAdapter::fromTensors(const std::map<std::string, at::Tensor>& tensors,
                                                      double loraAlpha, const std::string& origin) {
    nlohmann::json config = {{"lora_alpha", loraAlpha}};
    return build(TensorStore::fromTensors(tensors, origin), "", config, "memory", origin);
}

std::shared_ptr<LoraAdapter> LoraAdapter::build(const TensorStore& store, const std::string& keyPrefix,
                                                const nlohmann::json& config, const std::string& format,
                                                const std::string& origin) {
    if (config.contains("peft_type") && config["peft_type"].is_string() && config["peft_type"] != "LORA")
        throwUnsupported("{}: peft_type is {}; only LORA adapters are supported", origin,
                         describeJson(config["peft_type"]));
    if (isTrue(config, "use_dora"))
        throwUnsupported("{}: DoRA adapters (use_dora) are not supported", origin);
    if (isTrue(config, "fan_in_fan_out"))
        throwUnsupported("{}: fan_in_fan_out adapters (Conv1D layers) do not apply to the MMDiT", origin);
    if (config.contains("modules_to_save") && config["modules_to_save"].is_array() &&
        !config["modules_to_save"].empty())
        throwUnsupported("{}: modules_to_save ({}) is not supported (fully trained modules)", origin,
                         describeJson(config["modules_to_save"]));
    const bool rslora = isTrue(config, "use_rslora");
    const nlohmann::json none;
    const nlohmann::json& rankPattern = config.contains("rank_pattern") ? config["rank_pattern"] : none;
    const nlohmann::json& alphaPattern = config.contains("alpha_pattern") ? config["alpha_pattern"] : none;
    const bool hasR = config.contains("r") && config["r"].is_number();
    const bool hasAlpha = config.contains("lora_alpha") && config["lora_alpha"].is_number();
    // Numbers are read with range checks: a rank of 32.9 or 2^32 + 4 must not be truncated into a match.
    const JsonField fields(config, origin);
    const int configR = hasR ? fields.require("r").asInt(1) : 0;
    const double configAlpha = hasAlpha ? fields.require("lora_alpha").asDouble() : 0.0;

    auto adapter = std::shared_ptr<LoraAdapter>(new LoraAdapter());
    adapter->m_origin = origin;
    adapter->m_format = format;

    std::map<std::string, at::Tensor> downs, ups;
    std::vector<std::string> unsupported;
    for (const auto& name : store.names()) {
        if (!startsWith(name, keyPrefix)) {
            unsupported.push_back(name);
            continue;
        }
        const std::string rest = name.substr(keyPrefix.size());
        if (endsWith(rest, kA)) {
            downs[rest.substr(0, rest.size() - kA.size())] = store.get(name);
        } else if (endsWith(rest, kB)) {
            ups[rest.substr(0, rest.size() - kB.size())] = store.get(name);
        } else {
            unsupported.push_back(name);
        }
    }
    if (!unsupported.empty())
        throwBadInput(
            "{}: {} tensor{} this loader does not understand (only <prefix><module>.lora_A.weight / "
            ".lora_B.weight with prefix '{}'; DoRA magnitudes, LoRA biases and other formats are not "
            "supported): {}",
            origin, unsupported.size(), unsupported.size() == 1 ? "" : "s", keyPrefix, listSome(unsupported));
    std::vector<std::string> unpaired, badShapes;
    for (const auto& [module, a] : downs)
        if (!ups.count(module)) unpaired.push_back(module + kA + " without " + kB);
    for (const auto& [module, b] : ups)
        if (!downs.count(module)) unpaired.push_back(module + kB + " without " + kA);
    if (!unpaired.empty()) throwBadInput("{}: unpaired LoRA factors: {}", origin, listSome(unpaired));
    if (downs.empty()) throwBadInput("{}: the adapter has no lora_A / lora_B tensors", origin);

    for (const auto& [module, a] : downs) {
        const at::Tensor& b = ups.at(module);
        if (a.dim() != 2 || b.dim() != 2 || a.size(0) != b.size(1) || a.size(0) == 0) {
            badShapes.push_back(fmt::format("{}: lora_A {} and lora_B {} (expected [r, in] and [out, r])",
                                            module, shapeToString(a.sizes()), shapeToString(b.sizes())));
            continue;
        }
        if (!at::isFloatingType(a.scalar_type()) || !at::isFloatingType(b.scalar_type()))
            badShapes.push_back(fmt::format("{}: factors must be floating point", module));
        Module m;
        m.down = a;
        m.up = b;
        m.rank = static_cast<int>(a.size(0));
        int configuredRank = hasR ? configR : m.rank;
        if (const auto* r = patternValue(rankPattern, module))
            configuredRank = JsonField(*r, origin, "rank_pattern." + module).asInt(1);
        if (configuredRank != m.rank)
            badShapes.push_back(fmt::format("{}: rank {} in the file but r = {} in the config", module,
                                            m.rank, configuredRank));
        // Without lora_alpha (a diffusers file without metadata) diffusers uses alpha = r.
        m.alpha = hasAlpha ? configAlpha : static_cast<double>(configuredRank);
        if (const auto* al = patternValue(alphaPattern, module))
            m.alpha = JsonField(*al, origin, "alpha_pattern." + module).asDouble();
        m.scale = rslora ? m.alpha / std::sqrt(static_cast<double>(m.rank)) : m.alpha / m.rank;
        adapter->m_modules.emplace(module, std::move(m));
    }
    if (!badShapes.empty()) throwBadInput("{}: malformed LoRA factors: {}", origin, listSome(badShapes));
    const Module& first = adapter->m_modules.begin()->second;
    adapter->m_rank = hasR ? configR : first.rank;
    adapter->m_alpha = hasAlpha ? configAlpha : static_cast<double>(adapter->m_rank);
    return adapter;
}

void LoraAdapter::validateAgainst(const MMDiTConfig& config) const {
    std::map<std::string, std::pair<int64_t, int64_t>> linears;  // module -> (out, in)
    for (const auto& [name, shape] : mmditParameters(config, MMDiTLayout::Diffusers)) {
        static const std::string w = ".weight";
        if (shape.size() == 2 && endsWith(name, w))
            linears[name.substr(0, name.size() - w.size())] = {shape[0], shape[1]};
    }
    std::vector<std::string> unknown, mismatched;
    for (const auto& [module, m] : m_modules) {
        const auto it = linears.find(module);
        if (it == linears.end()) {
            unknown.push_back(module);
            continue;
        }
        const auto [out, in] = it->second;
        if (m.down.size(1) != in || m.up.size(0) != out)
            mismatched.push_back(fmt::format("{} (lora_A {}, lora_B {}; the layer is {} -> {})", module,
                                             shapeToString(m.down.sizes()), shapeToString(m.up.sizes()), in,
                                             out));
    }
    if (unknown.empty() && mismatched.empty()) return;
    std::string msg =
        fmt::format("{}: this LoRA does not fit the transformer ({})", m_origin, config.describe());
    if (!unknown.empty())
        msg += fmt::format("; {} module{} it does not have: {}", unknown.size(),
                           unknown.size() == 1 ? "" : "s", listSome(unknown));
    if (!mismatched.empty())
        msg += fmt::format("; {} module{} with other shapes: {}", mismatched.size(),
                           mismatched.size() == 1 ? "" : "s", listSome(mismatched, 6));
    msg += ". Is it an adapter for another base model (e.g. SD3.5 Large vs Medium)?";
    throw Error(ErrorKind::BadInput, msg);
}

at::Tensor LoraAdapter::mergedWeight(const std::string& module, const at::Tensor& baseWeight) const {
    const auto it = m_modules.find(module);
    if (it == m_modules.end()) throwBadInput("{}: no LoRA for module '{}'", m_origin, module);
    const Module& m = it->second;
    const at::Tensor delta =
        at::matmul(m.up.to(baseWeight.device(), at::kFloat), m.down.to(baseWeight.device(), at::kFloat)) *
        m.scale;
    if (delta.sizes() != baseWeight.sizes())
        throwBadInput("{}: LoRA of '{}' gives {} but the weight is {}", m_origin, module,
                      shapeToString(delta.sizes()), shapeToString(baseWeight.sizes()));
    return (baseWeight.to(at::kFloat) + delta).to(baseWeight.scalar_type());
}

}  // namespace swd
