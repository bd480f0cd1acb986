#include "sampling/schedule.h"

#include "sampling/ddpm.h"
#include "sampling/flow_match.h"
#include "util/error.h"
#include "util/json_reader.h"

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>

namespace swd {

namespace {

std::string formatNumber(double v) {
    return fmt::format("{:g}", v);
}

}  // namespace

std::string ScheduleIssue::toString() const {
    if (index >= 0) return fmt::format("{}[{}]: {}", field, index, message);
    return fmt::format("{}: {}", field, message);
}

bool isDdpmSampler(SamplerKind sampler) {
    return sampler == SamplerKind::Sid || sampler == SamplerKind::EulerDiscrete;
}

namespace {

using AddIssue = std::function<void(const char*, int, std::string)>;

// The timesteps of a DDPM schedule: one per step, inside 0..999 (SiD: above 0), strictly decreasing; a
// SiD schedule also within its grid (1 <= steps <= K <= 1000, 0 < t_init <= 999) and without guidance.
void validateDdpmTimesteps(const Schedule& s, const AddIssue& add) {
    const int n = s.stepCount();
    const bool sid = s.sampler == SamplerKind::Sid;
    if (s.timesteps.size() != s.scales.size())
        add("timesteps", -1, fmt::format("needs {} values (one per step), found {}", n, s.timesteps.size()));
    const int lowest = sid ? 1 : 0;
    for (std::size_t i = 0; i < s.timesteps.size() && i <= static_cast<std::size_t>(kMaxScheduleSteps); ++i) {
        const int t = s.timesteps[i];
        if (t < lowest || t > 999)
            add("timesteps", static_cast<int>(i), fmt::format("timestep {} is outside {}..999", t, lowest));
        if (i > 0 && t >= s.timesteps[i - 1])
            add("timesteps", static_cast<int>(i),
                fmt::format("timestep {} is not below the previous {}; timesteps must strictly decrease", t,
                            s.timesteps[i - 1]));
    }
    for (int i = 1; i < n && n <= kMaxScheduleSteps; ++i)
        if (s.scales[static_cast<std::size_t>(i)] != s.scales[0])
            add("scales", i,
                fmt::format("scale {} differs from step 0's {}: this sampler runs at one scale",
                            s.scales[static_cast<std::size_t>(i)], s.scales[0]));
    if (!sid) return;
    if (s.sidGridSteps < 1 || s.sidGridSteps > kMaxScheduleSteps)
        add("grid_steps", -1,
            fmt::format("the trained grid K = {} must be 1..{}", s.sidGridSteps, kMaxScheduleSteps));
    else if (n > s.sidGridSteps)
        add("steps", -1, fmt::format("{} steps run past the trained grid of {} (k <= K)", n, s.sidGridSteps));
    if (s.sidTInit < 1 || s.sidTInit > 999)
        add("t_init", -1, fmt::format("t_init {} must be 1..999", s.sidTInit));
    if (s.guidance > 1.0)
        add("guidance", -1,
            fmt::format("guidance {} asks for CFG, but SiD generators have guidance distilled in; use 1",
                        formatNumber(s.guidance)));
}

}  // namespace

std::vector<ScheduleIssue> validateSchedule(const Schedule& s, const ScheduleLimits& limits) {
    std::vector<ScheduleIssue> issues;
    AddIssue add = [&](const char* field, int index, std::string message) {
        issues.push_back({field, index, std::move(message)});
    };
    const int n = s.stepCount();
    const int patch = limits.patchSize > 0 ? limits.patchSize : 2;
    const int maxSide = limits.maxLatentSide;

    if (n < 1) add("scales", -1, "the schedule needs at least one step");
    // Past the cap only the count is reported: one issue per entry of a huge list says nothing more.
    const bool tooLong = n > kMaxScheduleSteps;
    if (tooLong)
        add("scales", -1,
            fmt::format("{} steps is more than the {} a schedule may have", n, kMaxScheduleSteps));
    for (int i = 0; i < n && !tooLong; ++i) {
        const int scale = s.scales[static_cast<std::size_t>(i)];
        if (scale <= 0) {
            add("scales", i, fmt::format("scale {} must be positive", scale));
            continue;
        }
        if (scale % patch != 0)
            add("scales", i,
                fmt::format("scale {} must be a multiple of {} (the transformer's patch size); try {}", scale,
                            patch, static_cast<long long>(scale) + (patch - scale % patch)));
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

    const bool ddpm = isDdpmSampler(s.sampler);
    if (ddpm) validateDdpmTimesteps(s, add);
    if (s.sigmas.size() != s.scales.size() + 1)
        add("sigmas", -1,
            fmt::format("needs {} values (one per step plus the final 0), found {}", s.scales.size() + 1,
                        s.sigmas.size()));
    // A DDPM schedule's sigmas are derived from its timesteps (checked above).
    for (std::size_t i = 0; i < s.sigmas.size() && !tooLong && !ddpm; ++i) {
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
    if (!ddpm && !s.sigmas.empty() && std::isfinite(s.sigmas.back()) && s.sigmas.back() != 0.0)
        add("sigmas", static_cast<int>(s.sigmas.size()) - 1,
            fmt::format("the last sigma must be 0 (the clean image), found {}",
                        formatNumber(s.sigmas.back())));

    // Above ~30 CFG only saturates; 1e308 overflowed to an all-black image. 100 leaves room to explore.
    if (!std::isfinite(s.guidance) || s.guidance < 0.0 || s.guidance > kMaxGuidance)
        add("guidance", -1,
            fmt::format("guidance {} must be a finite number from 0 to {}", formatNumber(s.guidance),
                        formatNumber(kMaxGuidance)));
    if (s.t5Length < 1 || s.t5Length > 512)
        add("t5_length", -1, fmt::format("T5 length {} must be between 1 and 512 tokens", s.t5Length));
    return issues;
}

std::string formatScheduleIssues(const std::vector<ScheduleIssue>& issues, std::size_t maxListed) {
    std::string out;
    for (std::size_t i = 0; i < issues.size() && i < maxListed; ++i) out += "\n  " + issues[i].toString();
    if (issues.size() > maxListed) out += fmt::format("\n  ... and {} more", issues.size() - maxListed);
    return out;
}

namespace {

// The generated timesteps of a DDPM schedule: SiD's grid, or the Euler pipeline's 'leading' spacing.
std::vector<int> generatedTimesteps(const Schedule& s) {
    if (s.sampler == SamplerKind::Sid) return sidTimesteps(s.sidTInit, s.sidGridSteps, s.stepCount());
    return eulerDiscreteTimesteps(s.stepCount());
}

// "steps" and "scale" (one resolution), SiD's "t_init", "grid_steps" and "noise", and optionally the
// "timesteps" themselves (an edited schedule); without them the sampler's own grid is generated.
void readDdpmFields(const JsonField& root, const std::string& label, JsonProblems& problems, Schedule& s) {
    std::optional<int> steps, scale;
    problems.attempt([&] { steps = root.require("steps").asInt(); });
    problems.attempt([&] { scale = root.require("scale").asInt(); });
    const bool sid = s.sampler == SamplerKind::Sid;
    if (sid) {
        problems.attempt([&] { s.sidTInit = root.intOr("t_init", 625); });
        problems.attempt([&] { s.sidGridSteps = root.intOr("grid_steps", steps.value_or(1)); });
        problems.attempt([&] {
            const auto noise = root.stringOr("noise", "fresh");
            const auto parsed = kindFromId<SidNoise>(noise);
            if (!parsed)
                throwBadInput("{}: unknown noise {} (use {})", label, quoteForMessage(noise),
                              kindIdList<SidNoise>());
            s.sidNoise = *parsed;
        });
    }
    if (root.has("timesteps")) {
        problems.attempt([&] {
            const JsonField list = root.require("timesteps");
            list.requireArray();
            for (const auto& e : list.elements()) s.timesteps.push_back(e.asInt());
        });
    }
    if (!steps || !scale) return;
    if (*steps < 1 || *steps > kMaxScheduleSteps) {
        problems.add(fmt::format("field \"steps\" must be 1..{} (got {})", kMaxScheduleSteps, *steps));
        return;
    }
    s.steps = *steps;
    s.scales.assign(static_cast<std::size_t>(*steps), *scale);
    if (s.timesteps.empty()) {
        try {
            s.timesteps = generatedTimesteps(s);
        } catch (const Error&) {
            return;  // a grid that cannot be made (k > K): validateSchedule says why
        }
    }
    s.sigmas = ddpmNoiseLevels(s.timesteps);
}

}  // namespace

Schedule scheduleFromJson(const nlohmann::json& json, const std::string& label) {
    const JsonField root(json, label);
    root.requireObject("a schedule (a JSON object)");
    // Every field is read even after a problem, so that one message lists them all.
    JsonProblems problems(label);
    Schedule s;
    problems.attempt([&] { s.id = root.stringOr("id", ""); });
    problems.attempt([&] { s.name = root.require("name").asString(); });
    problems.attempt([&] { s.description = root.stringOr("description", ""); });
    problems.attempt([&] {
        const auto family = root.stringOr("model", "any");
        const auto parsed = modelFamilyFromId(family);
        if (!parsed)
            throwBadInput("{}: unknown model {} (use {})", label, quoteForMessage(family),
                          kindIdList<ModelFamily>());
        s.family = *parsed;
    });
    problems.attempt([&] {
        const auto sampler = root.stringOr("sampler", "scale-wise");
        const auto parsed = samplerFromId(sampler);
        if (!parsed)
            throwBadInput("{}: unknown sampler {} (use {})", label, quoteForMessage(sampler),
                          kindIdList<SamplerKind>());
        s.sampler = *parsed;
    });
    problems.attempt([&] { s.guidance = root.doubleOr("guidance", 1.0); });
    problems.attempt([&] { s.t5Length = root.intOr("t5_length", 512); });
    problems.attempt([&] { s.adapter = root.stringOr("adapter", ""); });
    problems.attempt([&] { s.compareWith = root.stringOr("compare_with", ""); });

    if (isDdpmSampler(s.sampler)) {
        readDdpmFields(root, label, problems, s);
    } else if (json.contains("steps") && !json.contains("sigmas")) {
        std::optional<int> scale;
        problems.attempt([&] { s.steps = root.require("steps").asInt(); });
        problems.attempt([&] { s.shift = root.doubleOr("shift", 3.0); });
        problems.attempt([&] { scale = root.require("scale").asInt(); });
        if (s.steps && (*s.steps < 1 || *s.steps > kMaxScheduleSteps)) {
            problems.add(fmt::format("field \"steps\" must be 1..{} (got {})", kMaxScheduleSteps, *s.steps));
        } else if (s.steps && s.shift && scale) {
            s.scales.assign(static_cast<std::size_t>(*s.steps), *scale);
            s.sigmas = flowMatchSigmas(*s.steps, *s.shift);
        }
    } else {
        // Each entry is checked, so that every bad one is listed.
        const auto readList = [&](const char* key, auto readOne, auto& out) {
            std::optional<JsonField> list;
            if (!problems.attempt([&] {
                    list = root.require(key);
                    list->requireArray();
                }))
                return;
            for (const auto& e : list->elements()) problems.attempt([&] { out.push_back(readOne(e)); });
        };
        readList(
            "scales", [](const JsonField& e) { return e.asInt(); }, s.scales);
        readList(
            "sigmas", [](const JsonField& e) { return e.asDouble(); }, s.sigmas);
    }
    problems.throwIfAny();
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
    if (isDdpmSampler(s.sampler)) {
        j["steps"] = s.stepCount();
        j["scale"] = s.scales.empty() ? 0 : s.scales.front();
        if (s.sampler == SamplerKind::Sid) {
            j["t_init"] = s.sidTInit;
            j["grid_steps"] = s.sidGridSteps;
            j["noise"] = kindId(s.sidNoise);
        }
        bool edited = true;
        try {
            edited = s.timesteps != generatedTimesteps(s);
        } catch (const Error&) {
        }
        if (edited) j["timesteps"] = s.timesteps;
        return nlohmann::json(j);
    }
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
    JsonLimits limits;
    limits.maxBytes = kMaxScheduleFileBytes;
    Schedule s = scheduleFromJson(readJsonFile(path, "schedule file", limits), path);
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

namespace swd {

std::vector<double> ddpmSigmasOf(const std::vector<int>& timesteps) {
    return ddpmNoiseLevels(timesteps);
}

std::vector<int> ddpmGeneratedTimesteps(const Schedule& schedule) {
    return generatedTimesteps(schedule);
}

Schedule makeSidSchedule(int tInit, int gridSteps, int steps, int scale, SidNoise noise) {
    Schedule s;
    s.sampler = SamplerKind::Sid;
    s.sidTInit = tInit;
    s.sidGridSteps = gridSteps;
    s.sidNoise = noise;
    s.steps = steps;
    s.scales.assign(static_cast<std::size_t>(std::max(steps, 0)), scale);
    s.timesteps = sidTimesteps(tInit, gridSteps, steps);
    s.sigmas = ddpmNoiseLevels(s.timesteps);
    s.name = fmt::format("SiD, {} of {} steps from t = {}", steps, gridSteps, tInit);
    return s;
}

Schedule makeEulerDiscreteSchedule(int steps, int scale, double guidance) {
    Schedule s;
    s.sampler = SamplerKind::EulerDiscrete;
    s.steps = steps;
    s.scales.assign(static_cast<std::size_t>(std::max(steps, 0)), scale);
    s.timesteps = eulerDiscreteTimesteps(steps);
    s.sigmas = ddpmNoiseLevels(s.timesteps);
    s.guidance = guidance;
    s.name = fmt::format("Full resolution (Euler), {} steps", steps);
    return s;
}

}  // namespace swd
