// The run backend over the core engine (core/pipeline/engine.h): resolves the model set of a request
// (discovered models, a path, or the built-in demo model), keeps one Engine loaded between runs (SwD and
// full-resolution runs of one model share it: the adapter is switched, not reloaded), converts steps and
// results into Qt types and writes every result to the output folder as soon as it finishes. This header is
// Qt-only; engine_backend.cpp is the one UI file that includes the engine.
#pragma once

#include "run_backend.h"

#include <memory>

namespace swd::ui {

std::unique_ptr<RunBackend> createEngineBackend();

}  // namespace swd::ui
