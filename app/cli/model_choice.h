// The CLI's side of choosing a model set: --model PATH, --model demo, or (default) what discovery finds
// for the preset, falling back to the built-in demo model when no model of that family is installed at
// all. The choosing itself is the session's (session/session.h), shared with the app.
#pragma once

#include "session/session.h"

#include <CLI/CLI.hpp>

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

// Where the CLI keeps its own files (the demo model when it is not installed, the hash cache):
// $XDG_CACHE_HOME/swd-studio or ~/.cache/swd-studio.
std::filesystem::path cliCacheDir();

// The session a CLI command runs in: the --folder folders, the demo model in cliCacheDir(), the hash cache
// there, and the demo model when nothing of the family is installed.
SessionOptions cliSessionOptions(const ModelArgs& args);

// The model set of `preset` for these options. The note (why the demo model is used) says how to use a
// model of one's own. Throws BadInput with the pairing message (what is missing, every place looked) when
// the user has models of the family but the set is incomplete, or named a path that does not fit.
ResolvedModels resolveModels(Session& session, const ModelArgs& args, const Schedule& preset);

}  // namespace swd::cli
