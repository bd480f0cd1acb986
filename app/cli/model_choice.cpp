#include "model_choice.h"

#include "cli_common.h"
#include "io/model_discovery.h"
#include "pipeline/demo_model.h"
#include "util/error.h"

#include <cstdlib>

namespace swd::cli {

namespace fs = std::filesystem;

void addModelOptions(CLI::App* command, ModelArgs& args) {
    command
        ->add_option(
            "--model", args.model,
            "model: a diffusers folder or single-file checkpoint, 'demo' (the built-in random-weight "
            "model) or 'auto' (find the preset's model; the demo model when none is installed)")
        ->capture_default_str();
    command->add_option("--adapter", args.adapter, "SwD adapter: a PEFT folder or LoRA .safetensors file");
    command->add_option("--folder", args.folders, "extra folder to search for models (repeatable)");
}

fs::path cliCacheDir() {
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return fs::path(xdg) / "swd-studio";
    if (const char* home = std::getenv("HOME"); home && *home)
        return fs::path(home) / ".cache" / "swd-studio";
    return fs::temp_directory_path() / "swd-studio";
}

ModelChoice chooseModelSet(const ModelArgs& args, const Schedule& preset) {
    ModelChoice choice;
    if (args.model == "demo") {
        choice.set = demoModelSet(ensureDemoModel(cliCacheDir() / "demo-model"));
        choice.demo = true;
        if (!args.adapter.empty()) choice.set.adapter = fs::path(args.adapter);
        return choice;
    }
    DiscoveryOptions options;
    for (const auto& f : args.folders) options.folders.emplace_back(f);
    const DiscoveryResult found = discoverModels(options);
    ModelSetOverrides overrides;
    if (args.model != "auto") overrides.model = fs::path(args.model);
    if (!args.adapter.empty()) overrides.adapter = fs::path(args.adapter);
    const ModelSetPlan plan = planModelSet(preset, found, overrides);
    if (plan.set) {
        choice.set = *plan.set;
        return choice;
    }
    // Nothing of this family installed and nothing named: the demo model keeps the CLI working.
    bool anyOfFamily = false;
    for (const auto& m : found.models)
        if (m.family() == preset.family && m.kind != FoundKind::Adapter) anyOfFamily = true;
    if (args.model == "auto" && args.adapter.empty() && !anyOfFamily) {
        choice.set = demoModelSet(ensureDemoModel(cliCacheDir() / "demo-model"));
        choice.demo = true;
        choice.note = fmt::format(
            "No {} model is installed (looked in: {}); using the built-in demo model "
            "(random weights). Pass --model PATH to use yours.",
            modelFamilyName(preset.family), found.searchedText());
        return choice;
    }
    throwBadInput("{}", plan.message);
}

}  // namespace swd::cli
