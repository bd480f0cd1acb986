// swd models [--folder DIR]... [--no-hf-cache]: the models swd finds (Hugging Face cache and the given
// folders), what each is, what cannot be used and why, and for every preset whether its base model and
// adapter are there.
#include "catalog/model_set.h"
#include "cli_common.h"
#include "sampling/preset_library.h"
#include "util/error.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <filesystem>

namespace swd::cli {

namespace fs = std::filesystem;

namespace {

std::string whereLabel(const FoundModel& m) {
    if (!m.repoId.empty()) {
        std::string s = fmt::format("{}@{}", m.repoId, m.revision.substr(0, 12));
        if (!m.snapshot.empty() && m.path != m.snapshot)
            s += ":" + m.path.lexically_relative(m.snapshot).string();
        return s + " (HF cache)";
    }
    return m.path.string();
}

}  // namespace

void addModelsCommand(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "models",
        "List the SD3 / SD3.5, SD 1.5 and SDXL models, SwD adapters and SiD generators swd finds (Hugging Face "
        "cache and --folder), and for every preset what is still missing");
    struct Args {
        std::vector<std::string> folders;
        bool noHfCache = false;
    };
    auto args = std::make_shared<Args>();
    cmd->add_option("--folder", args->folders,
                    "a folder of models (diffusers folders, .safetensors files, adapter folders), searched "
                    "recursively; repeat for several");
    cmd->add_flag("--no-hf-cache", args->noHfCache, "do not search the Hugging Face cache");
    setAction(cmd, [args] {
        DiscoveryOptions options;
        for (const auto& f : args->folders) {
            std::error_code ec;
            if (!fs::is_directory(f, ec))
                throwBadInput("--folder {}: {}", f, fs::exists(f, ec) ? "is not a folder" : "no such folder");
            options.folders.emplace_back(f);
        }
        options.hfCache = !args->noHfCache;
        const DiscoveryResult found = discoverModels(options);

        fmt::print("Searched:\n{}", found.searchedText());
        std::vector<const FoundModel*> usable, broken, unrelated;
        for (const auto& m : found.models)
            (m.usable() ? usable : m.unrelated ? unrelated : broken).push_back(&m);

        fmt::print("\nFound {} usable:\n", usable.size());
        if (!usable.empty())
            fmt::print("  {:<12} {:<56} {:<18} {:>9}  {:<9} {}\n", "KIND", "WHAT", "LAYOUT", "SIZE", "DTYPE",
                       "PATH");
        for (const auto* m : usable) {
            fmt::print("  {:<12} {:<56} {:<18} {:>9}  {:<9} {}\n", foundKindName(m->kind), m->summary(),
                       m->layout, formatByteSize(m->bytes), formatDtypes(m->dtypes), whereLabel(*m));
            for (const auto& n : m->notes) fmt::print("  {:<12} note: {}\n", "", n);
        }
        if (!broken.empty()) {
            fmt::print("\nNot usable ({}):\n", broken.size());
            for (const auto* m : broken) {
                fmt::print("  {} ({}):\n", whereLabel(*m), foundKindName(m->kind));
                for (const auto& p : m->problems) fmt::print("    - {}\n", p);
            }
        }
        if (!unrelated.empty()) {
            std::vector<std::string> names;
            for (const auto* m : unrelated) names.push_back(whereLabel(*m));
            fmt::print("\nOther weights (not a model swd runs): {}\n", fmt::join(names, ", "));
        }

        fmt::print("\nPresets:\n");
        const auto library = PresetLibrary::builtin();
        for (const auto& preset : library.all()) {
            std::string needs = modelFamilyName(preset.family);
            if (!preset.adapter.empty()) needs += " + " + preset.adapter;
            std::string state;
            try {
                const ModelSetPlan plan = planModelSet(preset, found);
                state = plan.set ? "ready" : fmt::format("missing: {}", fmt::join(plan.missingParts, ", "));
                if (plan.set && !plan.set->realSize) state += " (other-size model)";
            } catch (const Error& e) {
                state = e.what();
            }
            fmt::print("  {:<20} {:<50} {}\n", preset.id, needs, state);
        }
        return 0;
    });
}

}  // namespace swd::cli
