// swd presets list | show NAME
#include "cli_common.h"
#include "sampling/preset_library.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nlohmann/json.hpp>

namespace swd::cli {

namespace {
std::string summary(const Schedule& s) {
    switch (s.sampler) {
        case SamplerKind::FlowEuler:
        case SamplerKind::EulerDiscrete:
            return fmt::format("{} steps at {} latent px, CFG {:g}", s.stepCount(), s.finalScale(), s.guidance);
        case SamplerKind::Sid:
            return fmt::format("{} of {} steps at {} latent px, timesteps {}", s.stepCount(), s.sidGridSteps,
                               s.finalScale(), fmt::join(s.timesteps, ","));
        case SamplerKind::ScaleWise:
            break;
    }
    return fmt::format("{} steps, scales {}", s.stepCount(), fmt::join(s.scales, ","));
}
}  // namespace

void addPresetsCommand(CLI::App& app) {
    auto* presets = app.add_subcommand("presets", "List and show the built-in schedule presets");
    presets->require_subcommand(1);

    auto* list = presets->add_subcommand("list", "List every preset: id, model, sampler, steps");
    setAction(list, [] {
        const auto library = PresetLibrary::builtin();
        for (const auto& s : library.all())
            fmt::print("{:<20} {:<13} {:<11} {:<34} {}\n", s.id, modelFamilyId(s.family),
                       samplerId(s.sampler), s.name, summary(s));
        return 0;
    });

    auto* show = presets->add_subcommand("show", "Print one preset as JSON, with its step table");
    auto name = std::make_shared<std::string>();
    show->add_option("NAME", *name, "preset id or name")->required();
    setAction(show, [name] {
        const auto library = PresetLibrary::builtin();
        const Schedule& s = library.get(*name);
        fmt::print("{}\n\n", scheduleToJson(s).dump(2));
        fmt::print("{:>4}  {:>5}  {:>6}  {:>9}  {:>10}\n", "step", "scale", "image", "sigma", "timestep");
        for (int i = 0; i < s.stepCount(); ++i)
            fmt::print("{:>4}  {:>5}  {:>6}  {:>9.4f}  {:>10.3f}\n", i, s.scales[i], s.scales[i] * 8,
                       s.sigmas[i], s.timestep(i));
        return 0;
    });
}

}  // namespace swd::cli
