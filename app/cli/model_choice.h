// Which model set a CLI run uses: --model PATH, --model demo, or (default) what discovery finds for the
// preset, falling back to the built-in demo model when no model of that family is installed at all.
#pragma once

#include "io/model_set.h"
#include "sampling/schedule.h"

#include <CLI/CLI.hpp>
#include "sampling/schedule.h"

#include <filesystem>
#include <string>
#include <vector>

namespace swd::cli {

struct ModelArgs {
    std::string model = "auto";  // "auto", "demo" or a path
    std::string adapter;         // a path, or "" (the preset's adapter as discovered)
    std::vector<std::string> folders;
};

// Adds --model, --adapter and --folder to a command.
void addModelOptions(CLI::App* command, ModelArgs& args);

struct ModelChoice {
    ModelSet set;
    bool demo = false;
    std::string note;  // printed to the user (e.g. why the demo model is used)
};

// Throws BadInput with the pairing message (what is missing, every place looked) when the user has
// models of the preset's family but the set is incomplete, or named a path that does not fit.
ModelChoice chooseModelSet(const ModelArgs& args, const Schedule& preset);

// Where the CLI keeps its own files (the demo model when it is not installed, the hash cache):
// $XDG_CACHE_HOME/swd-studio or ~/.cache/swd-studio.
std::filesystem::path cliCacheDir();

}  // namespace swd::cli
