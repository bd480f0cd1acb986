#include "session/session.h"

#include "fixtures/demo_model.h"
#include "util/error.h"

#include <fmt/format.h>

namespace swd {

namespace fs = std::filesystem;

Session::Session(SessionOptions options) : m_options(std::move(options)) {}

Session::~Session() = default;

void Session::setOptions(SessionOptions options) {
    if (options.modelFolders != m_options.modelFolders || options.useHfCache != m_options.useHfCache)
        m_found.reset();
    m_options = std::move(options);
}

const DiscoveryResult& Session::discovery(bool refresh) {
    if (!m_found || refresh) {
        DiscoveryOptions options;
        options.folders = m_options.modelFolders;
        options.hfCache = m_options.useHfCache;
        m_found = discoverModels(options);
    }
    return *m_found;
}

ResolvedModels Session::resolve(const ModelSelection& selection, const Schedule& schedule, bool useAdapter) {
    ResolvedModels out;
    // The demo variant of the preset's family: SD 1.5 / SDXL presets run the tiny UNet pipelines.
    const auto demo = [&] {
        out.set = demoModelSet(ensureDemoModel(m_options.demoDir), schedule.family);
        out.demo = true;
        if (selection.adapter) out.set.adapter = *selection.adapter;
    };
    if (selection.kind == ModelSelection::Kind::Demo) {
        demo();
        return out;
    }
    Schedule preset = schedule;
    if (!useAdapter) preset.adapter.clear();  // a run without the adapter does not need it to pair the set
    ModelSetOverrides overrides;
    if (selection.kind == ModelSelection::Kind::Path) overrides.model = selection.path;
    if (selection.adapter && useAdapter) overrides.adapter = selection.adapter;
    const DiscoveryResult& found = discovery(false);
    const ModelSetPlan plan = planModelSet(preset, found, overrides);
    if (plan.set) {
        out.set = *plan.set;
        return out;
    }
    // Nothing of this family installed and nothing named: the demo model keeps the front end working.
    bool anyOfFamily = false;
    for (const auto& m : found.models)
        if (m.family() == schedule.family && m.kind != FoundKind::Adapter) anyOfFamily = true;
    if (m_options.demoWhenNoneInstalled && selection.kind == ModelSelection::Kind::Auto &&
        !selection.adapter && !anyOfFamily) {
        demo();
        out.note = fmt::format(
            "No {} model is installed (looked in: {}); using the built-in demo model (random "
            "weights).",
            modelFamilyName(schedule.family), found.searchedText());
        return out;
    }
    if (m_options.missingModelHint.empty()) throwBadInput("{}", plan.message);
    throwBadInput("{}\n{}", plan.message, m_options.missingModelHint);
}

Engine& Session::engineFor(const ModelSet& models, const GenerationRequest& request) {
    const std::string base =
        fmt::format("{}|{}|{}|{}|{}", models.transformer.string(), models.transformerPrefix, request.device,
                    precisionName(request.precision), m_options.engine.taesdPath.string());
    const std::string adapter = models.adapter ? models.adapter->string() : std::string();
    // The loaded engine serves the run when it has the same base model on the same device, and the adapter
    // the run needs (a run without the adapter can use an engine that has one: it is switched off).
    const bool reuse = m_engine && m_engineBase == base && (adapter.empty() || adapter == m_engineAdapter);
    if (!reuse) {
        m_engine.reset();  // free the old models before loading the new ones
        EngineOptions options = m_options.engine;
        options.device = request.device;
        options.precision = request.precision;
        options.textPrecision = request.precision;
        m_engine = std::make_unique<Engine>(models, options);
        m_engineBase = base;
        m_engineAdapter = adapter;
    }
    return *m_engine;
}

GenerationResult Session::run(const ModelSet& models, const GenerationRequest& request,
                              GenerationObserver* observer, const CancelToken& cancel) {
    Engine& engine = engineFor(models, request);
    GenerationResult result = engine.generate(request, observer, cancel);
    calibrate(result);
    return result;
}

// The throughput of this run's denoiser calls, from the FLOPs the engine computed for its steps.
void Session::calibrate(const GenerationResult& result) {
    m_cost.shape = m_engine->costShape();
    m_cost.maxLatentSide = m_engine->maxLatentSide();
    m_cost.modelName = m_engine->models().displayName;
    double flops = 0, ms = 0;
    for (const StepResult& s : result.steps) {
        if (s.index < 0 || static_cast<std::size_t>(s.index) >= result.stepFlops.size()) continue;
        flops += result.stepFlops[static_cast<std::size_t>(s.index)];
        ms += s.modelMs;
    }
    if (flops > 0 && ms > 0) {
        m_cost.flopsPerSecond = flops / (ms / 1000.0);
        m_cost.calibrated = true;
    }
}

}  // namespace swd
