// The one place that turns a request into images, for every front end (the app's worker, the CLI's
// generate / compare / bench): it finds the user's models, resolves the model set a run needs (a path, the
// demo model, or what discovery found for the preset, with the "what is missing and where I looked"
// message), keeps the loaded engine while the model set, device and precision stay, runs the request and
// learns the machine's throughput for the cost estimates. Saving is session/run_output.h.
//
// Threading: a Session and its engine belong to one thread (the app's worker thread, the CLI's main
// thread); only the CancelToken passed to run() is touched from others.
#pragma once

#include "catalog/model_discovery.h"
#include "catalog/model_set.h"
#include "pipeline/cost_model.h"
#include "pipeline/engine.h"

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace swd {

// Which model set a run uses.
struct ModelSelection {
    enum class Kind { Auto, Path, Demo };
    Kind kind = Kind::Auto;
    std::filesystem::path path;  // Kind::Path: a diffusers folder or a single-file checkpoint
    std::optional<std::filesystem::path> adapter;  // an adapter file or folder instead of the discovered one
};

struct SessionOptions {
    std::vector<std::filesystem::path> modelFolders;
    bool useHfCache = true;
    std::filesystem::path demoDir;  // where the demo model is written when it is not installed
    // Auto with no model of the preset's family installed at all (and nothing named) runs the demo model
    // with a note, instead of failing (the CLI; the app offers the demo model as a choice of its own).
    bool demoWhenNoneInstalled = false;
    // Added on a line of its own to the "what is missing" message: what to do in this front end.
    std::string missingModelHint;
    // What every engine is made with; device and precision come from each request.
    EngineOptions engine;
};

struct ResolvedModels {
    ModelSet set;
    bool demo = false;
    std::string note;  // for the user: why the demo model is used
};

class Session {
public:
    explicit Session(SessionOptions options = {});
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // New folders or cache choice forget the last discovery; the loaded engine stays.
    void setOptions(SessionOptions options);
    const SessionOptions& options() const { return m_options; }

    // The user's models (searched once, again with refresh).
    const DiscoveryResult& discovery(bool refresh = false);

    // The model set for `schedule` (its family; its adapter only when `useAdapter`). Throws BadInput with
    // the pairing message (what is missing, every place looked) when nothing fits.
    ResolvedModels resolve(const ModelSelection& selection, const Schedule& schedule, bool useAdapter = true);

    // Runs `request` on `models`: the engine is reused when it holds the same base model on the same
    // device and precision, and the adapter the run needs. A cancelled run returns what it finished.
    GenerationResult run(const ModelSet& models, const GenerationRequest& request,
                         GenerationObserver* observer, const CancelToken& cancel);

    // The engine run() uses for this request, made or kept (to load it ahead, as the benchmark does).
    Engine& engineFor(const ModelSet& models, const GenerationRequest& request);
    CostInfo costInfo() const { return m_cost; }

private:
    void calibrate(const GenerationResult& result);

    SessionOptions m_options;
    std::optional<DiscoveryResult> m_found;
    std::unique_ptr<Engine> m_engine;
    std::string m_engineBase, m_engineAdapter;
    CostInfo m_cost;
};

}  // namespace swd
