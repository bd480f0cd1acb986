#include "model_choice.h"

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

SessionOptions cliSessionOptions(const ModelArgs& args) {
    SessionOptions o;
    for (const auto& f : args.folders) o.modelFolders.emplace_back(f);
    o.demoDir = cliCacheDir() / "demo-model";
    o.demoWhenNoneInstalled = true;
    o.engine.hashCache = cliCacheDir() / "hashes.json";
    return o;
}

ResolvedModels resolveModels(Session& session, const ModelArgs& args, const Schedule& preset) {
    ModelSelection selection;
    if (args.model == "demo") {
        selection.kind = ModelSelection::Kind::Demo;
    } else if (args.model != "auto") {
        selection.kind = ModelSelection::Kind::Path;
        selection.path = args.model;
    }
    if (!args.adapter.empty()) selection.adapter = fs::path(args.adapter);
    ResolvedModels models = session.resolve(selection, preset);
    if (!models.note.empty()) models.note += " Pass --model PATH to use yours.";
    return models;
}

}  // namespace swd::cli
