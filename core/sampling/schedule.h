// Schedule: what one generation runs, step by step: the latent side (scale) and noise level (sigma)
// of every step, the sampler, guidance and T5 length. SwD schedules grow the scale; full-resolution
// schedules keep it constant. Presets are JSON files of this shape (see presets/ and the README).
#pragma once

#include "util/kinds.h"

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace swd {

// The most steps a schedule may have, whether listed (scales/sigmas) or generated ("steps").
inline constexpr int kMaxScheduleSteps = 1000;
// The largest classifier-free guidance scale a schedule may ask for.
inline constexpr double kMaxGuidance = 100.0;
// Largest schedule file read (a 1000-step schedule is about 20 kB).
inline constexpr std::size_t kMaxScheduleFileBytes = 1024 * 1024;

struct Schedule {
    std::string id;    // file stem of the preset, e.g. "swd-2b-6step"
    std::string name;  // shown to users
    std::string description;
    ModelFamily family = ModelFamily::Any;
    SamplerKind sampler = SamplerKind::ScaleWise;
    std::vector<int> scales;     // latent side of each step (image side = 8 x scale)
    std::vector<double> sigmas;  // noise level at each step, then the final 0: scales.size() + 1 values
    double guidance = 1.0;       // classifier-free guidance scale; CFG runs only when > 1
    int t5Length = 512;          // T5 tokens in the context (SwD trained with 512; the SD3 pipeline uses 256)
    std::string adapter;         // the LoRA a preset needs, e.g. "yresearch/swd-medium-6-steps" ("" = base)
    std::string compareWith;     // id of the full-resolution preset this one is compared against
    // Generator form of full-resolution presets ("steps", "shift", "scale" in JSON): the sigmas are
    // flowMatchSigmas(steps, shift) and every step runs at one scale. Kept so a preset saves back as it was.
    std::optional<int> steps;
    std::optional<double> shift;
    // DDPM samplers (SiD, Euler discrete): the UNet's integer timestep at each step; `sigmas` then lists
    // √(1 − ᾱ_t) of each, then 0 (ddpmNoiseLevels), so charts and checks read one kind of list.
    std::vector<int> timesteps;
    // SiD: the timesteps are t_init·(1 − k/K) on the trained grid of K = sidGridSteps steps; running fewer
    // steps than K stops early on that grid. sidNoise re-noises steps k >= 1.
    int sidTInit = 0;
    int sidGridSteps = 0;
    SidNoise sidNoise = SidNoise::Fresh;

    int stepCount() const { return static_cast<int>(scales.size()); }
    double timestep(int step) const { return sigmas.at(static_cast<std::size_t>(step)) * 1000.0; }
    int finalScale() const { return scales.empty() ? 0 : scales.back(); }
};

// One problem found by validate(): which field and entry, and what is wrong with it.
struct ScheduleIssue {
    std::string field;  // "scales", "sigmas", "guidance", "t5_length", "steps"
    int index = -1;     // entry of the list, or -1 for the whole field
    std::string message;

    std::string toString() const;
};

struct ScheduleLimits {
    int maxLatentSide = 0;  // 0: no limit (validateForFamily in family/family.h gives the family's)
    int patchSize = 2;
};

// SiD and Euler discrete: UNet samplers whose schedule lists DDPM timesteps (sampling/ddpm.h).
bool isDdpmSampler(SamplerKind sampler);

// Every problem with the schedule, in field order; empty when it can run.
std::vector<ScheduleIssue> validateSchedule(const Schedule& schedule, const ScheduleLimits& limits = {});
// The issues one per line ("\n  scales[2]: ..."), at most `maxListed`, then "... and N more".
std::string formatScheduleIssues(const std::vector<ScheduleIssue>& issues, std::size_t maxListed = 20);

// JSON (the preset format). fromJson throws BadInput naming `label` and listing every field that is
// missing or of the wrong type (integers must be whole and in range); it does not validate the
// numbers (validateSchedule does), so an editor can load a broken preset and show why.
// loadScheduleFile reads only a regular file of at most kMaxScheduleFileBytes (util/json_reader.h).
Schedule scheduleFromJson(const nlohmann::json& json, const std::string& label);
nlohmann::json scheduleToJson(const Schedule& schedule);
Schedule loadScheduleFile(const std::string& path);
void saveScheduleFile(const Schedule& schedule, const std::string& path);

// A full-resolution flow-matching schedule: `steps` steps at one scale, diffusers' sigma grid.
Schedule makeFullResolutionSchedule(int steps, double shift, int scale, double guidance, int t5Length);
// Torch-free doors to sampling/ddpm.h for the UI: the noise level √(1 − ᾱ_t) of each timestep then 0
// (ddpmNoiseLevels; -1 for a timestep outside 0..999), and the timesteps the schedule's DDPM sampler
// generates for its steps (SiD's grid, Euler's spacing; throws BadInput when it cannot, k > K).
std::vector<double> ddpmSigmasOf(const std::vector<int>& timesteps);
std::vector<int> ddpmGeneratedTimesteps(const Schedule& schedule);
// SiD: `steps` of a K-step grid from t_init at one latent side. Throws BadInput unless 1 <= steps <= K.
Schedule makeSidSchedule(int tInit, int gridSteps, int steps, int scale, SidNoise noise = SidNoise::Fresh);
// The SD1.5 / SDXL pipeline's Euler discrete schedule ('leading' timesteps) with CFG.
Schedule makeEulerDiscreteSchedule(int steps, int scale, double guidance);

}  // namespace swd
