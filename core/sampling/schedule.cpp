#include "sampling/schedule.h"

#include "sampling/flow_match.h"
#include "util/error.h"

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace swd {

namespace {

struct FamilyEntry {
    ModelFamily family;
    const char* id;
    const char* name;
    int posEmbedMaxSize;
};

constexpr std::array<FamilyEntry, 4> kFamilies = {{
    {ModelFamily::Any, "any", "any SD3-family model", 0},
    {ModelFamily::SD35Medium, "sd3.5-medium", "SD3.5 Medium", 384},
    {ModelFamily::SD35Large, "sd3.5-large", "SD3.5 Large", 192},
    {ModelFamily::SD3Medium, "sd3-medium", "SD3 Medium", 192},
}};
static_assert(static_cast<int>(ModelFamily::SD3Medium) == 3,
              "kFamilies must list every ModelFamily in order");

const FamilyEntry& familyEntry(ModelFamily f) {
    return kFamilies[static_cast<std::size_t>(f)];
}

template <typename T>
T requireField(const nlohmann::json& json, const char* key, const std::string& label) {
    const auto it = json.find(key);
    if (it == json.end()) throwBadInput("{}: missing field \"{}\"", label, key);
    try {
        return it->get<T>();
    } catch (const nlohmann::json::exception&) {
        throwBadInput("{}: field \"{}\" has the wrong type ({})", label, key, it->dump());
    }
}

template <typename T>
T optionalField(const nlohmann::json& json, const char* key, T fallback, const std::string& label) {
    const auto it = json.find(key);
    if (it == json.end() || it->is_null()) return fallback;
    try {
        return it->get<T>();
    } catch (const nlohmann::json::exception&) {
        throwBadInput("{}: field \"{}\" has the wrong type ({})", label, key, it->dump());
    }
}

std::string formatNumber(double v) {
    return fmt::format("{:g}", v);
}

}  // namespace

const char* modelFamilyId(ModelFamily family) {
    return familyEntry(family).id;
}

const char* modelFamilyName(ModelFamily family) {
    return familyEntry(family).name;
}

std::optional<ModelFamily> modelFamilyFromId(const std::string& id) {
    for (const auto& f : kFamilies)
        if (id == f.id) return f.family;
    return std::nullopt;
}

const char* samplerId(SamplerKind sampler) {
    return sampler == SamplerKind::ScaleWise ? "scale-wise" : "flow-euler";
}

std::optional<SamplerKind> samplerFromId(const std::string& id) {
    if (id == "scale-wise" || id == "scalewise" || id == "swd") return SamplerKind::ScaleWise;
    if (id == "flow-euler" || id == "euler") return SamplerKind::FlowEuler;
    return std::nullopt;
}

int maxLatentSide(ModelFamily family) {
    return 2 * familyEntry(family).posEmbedMaxSize;
}

std::string ScheduleIssue::toString() const {
    if (index >= 0) return fmt::format("{}[{}]: {}", field, index, message);
    return fmt::format("{}: {}", field, message);
}

std::vector<ScheduleIssue> validateSchedule(const Schedule& s, const ScheduleLimits& limits) {
    std::vector<ScheduleIssue> issues;
    auto add = [&](const char* field, int index, std::string message) {
        issues.push_back({field, index, std::move(message)});
    };
    const int n = s.stepCount();
    const int patch = limits.patchSize > 0 ? limits.patchSize : 2;
    const int maxSide = limits.maxLatentSide > 0 ? limits.maxLatentSide : maxLatentSide(s.family);

    if (n < 1) add("scales", -1, "the schedule needs at least one step");
    for (int i = 0; i < n; ++i) {
        const int scale = s.scales[static_cast<std::size_t>(i)];
        if (scale <= 0) {
            add("scales", i, fmt::format("scale {} must be positive", scale));
            continue;
        }
        if (scale % patch != 0)
            add("scales", i,
                fmt::format("scale {} must be a multiple of {} (the transformer's patch size); try {}", scale,
                            patch, scale + (patch - scale % patch)));
        if (i > 0 && scale < s.scales[static_cast<std::size_t>(i) - 1])
            add("scales", i,
                fmt::format("scale {} is smaller than the previous step's {}; scales must not decrease",
                            scale, s.scales[static_cast<std::size_t>(i) - 1]));
        if (maxSide > 0 && scale > maxSide)
            add("scales", i,
                fmt::format(
                    "scale {} exceeds {} latent pixels, the largest the {} positional embedding covers",
                    scale, maxSide, modelFamilyName(s.family)));
    }

    if (s.sigmas.size() != s.scales.size() + 1)
        add("sigmas", -1,
            fmt::format("needs {} values (one per step plus the final 0), found {}", s.scales.size() + 1,
                        s.sigmas.size()));
    for (std::size_t i = 0; i < s.sigmas.size(); ++i) {
        const double sigma = s.sigmas[i];
        const int idx = static_cast<int>(i);
        if (!std::isfinite(sigma)) {
            add("sigmas", idx, fmt::format("sigma {} is not a finite number", formatNumber(sigma)));
            continue;
        }
        if (sigma < 0.0 || sigma > 1.0)
            add("sigmas", idx, fmt::format("sigma {} is outside [0, 1]", formatNumber(sigma)));
        if (i > 0 && std::isfinite(s.sigmas[i - 1]) && !(sigma < s.sigmas[i - 1]))
            add("sigmas", idx,
                fmt::format("sigma {} is not below the previous {}; sigmas must strictly decrease",
                            formatNumber(sigma), formatNumber(s.sigmas[i - 1])));
    }
    if (!s.sigmas.empty() && std::isfinite(s.sigmas.back()) && s.sigmas.back() != 0.0)
        add("sigmas", static_cast<int>(s.sigmas.size()) - 1,
            fmt::format("the last sigma must be 0 (the clean image), found {}",
                        formatNumber(s.sigmas.back())));

    if (!std::isfinite(s.guidance) || s.guidance < 0.0)
        add("guidance", -1,
            fmt::format("guidance {} must be a finite number >= 0", formatNumber(s.guidance)));
    if (s.t5Length < 1 || s.t5Length > 512)
        add("t5_length", -1, fmt::format("T5 length {} must be between 1 and 512 tokens", s.t5Length));
    return issues;
}

Schedule scheduleFromJson(const nlohmann::json& json, const std::string& label) {
    if (!json.is_object()) throwBadInput("{}: a schedule must be a JSON object", label);
    Schedule s;
    s.id = optionalField<std::string>(json, "id", "", label);
    s.name = requireField<std::string>(json, "name", label);
    s.description = optionalField<std::string>(json, "description", "", label);
    const auto family = optionalField<std::string>(json, "model", "any", label);
    const auto parsedFamily = modelFamilyFromId(family);
    if (!parsedFamily)
        throwBadInput("{}: unknown model \"{}\" (use sd3.5-medium, sd3.5-large, sd3-medium or any)", label,
                      family);
    s.family = *parsedFamily;
    const auto sampler = optionalField<std::string>(json, "sampler", "scale-wise", label);
    const auto parsedSampler = samplerFromId(sampler);
    if (!parsedSampler)
        throwBadInput("{}: unknown sampler \"{}\" (use scale-wise or flow-euler)", label, sampler);
    s.sampler = *parsedSampler;
    s.guidance = optionalField<double>(json, "guidance", 1.0, label);
    s.t5Length = optionalField<int>(json, "t5_length", 512, label);
    s.adapter = optionalField<std::string>(json, "adapter", "", label);
    s.compareWith = optionalField<std::string>(json, "compare_with", "", label);

    if (json.contains("steps") && !json.contains("sigmas")) {
        s.steps = requireField<int>(json, "steps", label);
        s.shift = optionalField<double>(json, "shift", 3.0, label);
        const int scale = requireField<int>(json, "scale", label);
        if (*s.steps < 1 || *s.steps > 1000)
            throwBadInput("{}: \"steps\" must be 1..1000 (got {})", label, *s.steps);
        s.scales.assign(static_cast<std::size_t>(*s.steps), scale);
        s.sigmas = flowMatchSigmas(*s.steps, *s.shift);
    } else {
        s.scales = requireField<std::vector<int>>(json, "scales", label);
        s.sigmas = requireField<std::vector<double>>(json, "sigmas", label);
    }
    return s;
}

nlohmann::json scheduleToJson(const Schedule& s) {
    nlohmann::ordered_json j;
    if (!s.id.empty()) j["id"] = s.id;
    j["name"] = s.name;
    if (!s.description.empty()) j["description"] = s.description;
    j["model"] = modelFamilyId(s.family);
    j["sampler"] = samplerId(s.sampler);
    if (!s.adapter.empty()) j["adapter"] = s.adapter;
    if (!s.compareWith.empty()) j["compare_with"] = s.compareWith;
    j["guidance"] = s.guidance;
    j["t5_length"] = s.t5Length;
    const bool generated = s.steps && s.shift && !s.scales.empty() &&
                           s.scales == std::vector<int>(s.scales.size(), s.scales.front()) &&
                           s.sigmas == flowMatchSigmas(*s.steps, *s.shift);
    if (generated) {
        j["steps"] = *s.steps;
        j["shift"] = *s.shift;
        j["scale"] = s.scales.front();
    } else {
        j["scales"] = s.scales;
        j["sigmas"] = s.sigmas;
    }
    return nlohmann::json(j);
}

Schedule loadScheduleFile(const std::string& path) {
    std::ifstream in(path);
    if (!in) throwBadInput("{}: cannot open the schedule file", path);
    nlohmann::json json;
    try {
        json = nlohmann::json::parse(in);
    } catch (const nlohmann::json::parse_error& e) {
        throwBadInput("{}: not valid JSON: {}", path, e.what());
    }
    Schedule s = scheduleFromJson(json, path);
    if (s.id.empty()) s.id = std::filesystem::path(path).stem().string();
    return s;
}

void saveScheduleFile(const Schedule& schedule, const std::string& path) {
    const std::filesystem::path target(path);
    std::filesystem::path tmp = target;
    tmp += ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        if (!out) throwBadInput("{}: cannot write the schedule file", path);
        out << scheduleToJson(schedule).dump(2) << "\n";
        if (!out) throwBadInput("{}: write failed", path);
    }
    std::error_code ec;
    std::filesystem::rename(tmp, target, ec);
    if (ec) throwBadInput("{}: cannot replace the schedule file ({})", path, ec.message());
}

Schedule makeFullResolutionSchedule(int steps, double shift, int scale, double guidance, int t5Length) {
    Schedule s;
    s.sampler = SamplerKind::FlowEuler;
    s.steps = steps;
    s.shift = shift;
    s.scales.assign(static_cast<std::size_t>(std::max(steps, 0)), scale);
    s.sigmas = flowMatchSigmas(steps, shift);
    s.guidance = guidance;
    s.t5Length = t5Length;
    s.name = fmt::format("Full resolution, {} steps", steps);
    return s;
}

}  // namespace swd
