#include "engine_backend.h"

#include "image_conversion.h"
#include "sampling/schedule.h"
#include "session/run_output.h"
#include "session/session.h"
#include "util/device.h"
#include "util/error.h"
#include "util/runtime.h"

#include <QObject>

#include <cmath>

namespace swd::ui {

namespace fs = std::filesystem;

namespace {

GenerationRequest toGenerationRequest(const RunRequest& r) {
    GenerationRequest g;
    g.prompt = r.prompt.toStdString();
    g.negativePrompt = r.negativePrompt.toStdString();
    g.seed = r.seed;
    g.schedule = r.schedule;
    g.batchSize = r.batchSize;
    g.device = r.device.toStdString();
    g.precision = r.precision;
    g.preview = r.preview;
    g.useAdapter = r.useAdapter && r.model.adapterKind != ModelChoice::AdapterKind::None;
    g.cfgBatched = r.cfgBatched;
    g.label = r.label.toStdString();
    return g;
}

// Forwards the engine's stages and steps to the worker as Qt values.
class ObserverBridge : public GenerationObserver {
public:
    ObserverBridge(RunBackend::Observer& out, const QString& label, bool ddpm)
        : m_out(out), m_label(label), m_ddpm(ddpm) {}

    void onStage(Stage stage, const std::string& detail) override {
        QString text = QString::fromLatin1(stageName(stage));
        if (stage == Stage::LoadingModels && !detail.empty())
            text += QStringLiteral(": ") + QString::fromStdString(detail);
        text[0] = text[0].toUpper();
        m_out.stage(text);
    }

    void onStep(const StepEvent& e) override {
        StepImage s;
        s.runLabel = m_label;
        s.index = e.index;
        s.stepCount = e.stepCount;
        s.scale = e.scale;
        s.sigma = e.sigma;
        s.sigmaNext = e.sigmaNext;
        if (m_ddpm) s.timestep = static_cast<int>(std::lround(e.timestep));
        s.ms = e.ms;
        s.modelMs = e.modelMs;
        s.elapsedMs = e.elapsedMs;
        s.etaMs = e.etaMs;
        if (!e.images.empty()) s.image = toQImage(e.images.front());
        steps.append(s);
        m_out.step(s);
    }

    QList<StepImage> steps;

private:
    RunBackend::Observer& m_out;
    QString m_label;
    bool m_ddpm = false;
};

ModelSelection toSelection(const ModelChoice& c) {
    ModelSelection m;
    if (c.kind == ModelChoice::Kind::Demo) m.kind = ModelSelection::Kind::Demo;
    if (c.kind == ModelChoice::Kind::Path) {
        m.kind = ModelSelection::Kind::Path;
        m.path = c.path.toStdString();
    }
    if (c.adapterKind == ModelChoice::AdapterKind::Path) m.adapter = fs::path(c.adapterPath.toStdString());
    return m;
}

// One entry of the Model list per pipeline, checkpoint and adapter found.
ModelEntry toModelEntry(const FoundModel& m) {
    ModelEntry e;
    e.path = QString::fromStdString(m.path.string());
    e.name = QString::fromStdString(m.name());
    e.summary = QString::fromStdString(m.summary());
    e.origin = QString::fromStdString(m.origin);
    if (const auto f = m.family()) e.family = QString::fromLatin1(modelFamilyId(*f));
    e.adapter = m.kind == FoundKind::Adapter;
    e.usable = m.usable();
    for (const auto& p : m.problems) e.problems << QString::fromStdString(p);
    return e;
}

// The app's side of the session (session/session.h): Qt values in, Qt values out.
class EngineBackend final : public RunBackend {
public:
    void configure(const BackendOptions& options) override {
        SessionOptions o;
        for (const QString& f : options.modelFolders) o.modelFolders.emplace_back(f.toStdString());
        o.useHfCache = options.useHfCache;
        o.demoDir = options.demoDir.isEmpty() ? fs::temp_directory_path() / "swd-studio-demo-model"
                                              : fs::path(options.demoDir.toStdString());
        o.engine.hashCache = options.hashCache.toStdString();
        o.engine.taesdPath = options.taesdPath.toStdString();
        o.missingModelHint =
            "Add the folder that holds the model in Settings, pick a model in the Model list, or pick "
            "the demo model to try the application.";
        m_session.setOptions(std::move(o));
        RuntimeOptions runtime;
        runtime.threads = options.threads;
        configureRuntime(runtime);
    }

    DiscoveryReport discover() override {
        DiscoveryReport report;
        report.devices << QStringLiteral("cpu");
        if (cudaAvailable()) report.devices << QStringLiteral("cuda");
        try {
            const DiscoveryResult& found = m_session.discovery(true);
            for (const FoundModel& m : found.models)
                if (m.kind == FoundKind::Pipeline || m.kind == FoundKind::Checkpoint ||
                    m.kind == FoundKind::Adapter)
                    report.models << toModelEntry(m);
            for (const SearchedPlace& p : found.searched)
                report.searched << QStringLiteral("%1 (%2): %3")
                                       .arg(QString::fromStdString(p.path.string()),
                                            QString::fromStdString(p.why), QString::fromStdString(p.outcome));
        } catch (const std::exception& e) {
            report.error = QString::fromUtf8(e.what());
        }
        return report;
    }

    RunResult run(const RunRequest& request, Observer& observer) override {
        const GenerationRequest g = toGenerationRequest(request);
        observer.stage(QObject::tr("Finding the models"));
        const ModelSet set = m_session.resolve(toSelection(request.model), g.schedule, g.useAdapter).set;
        ObserverBridge bridge(observer, request.label, isDdpmSampler(request.schedule.sampler));
        const GenerationResult res = m_session.run(set, g, &bridge, m_cancel);

        RunResult out;
        out.request = request;
        out.steps = bridge.steps;
        out.cancelled = res.cancelled;
        out.completedSteps = res.completedSteps;
        out.timings = res.timings;
        out.modelName = QString::fromStdString(set.displayName);
        out.deviceUsed = QString::fromStdString(res.provenance.deviceUsed);
        out.dtypeUsed = QString::fromStdString(res.provenance.dtypeUsed);
        for (const RgbImageF& image : res.images) out.images << toQImage(image.toRgb8());
        const bool any = !res.images.empty();
        out.parametersText =
            QString::fromStdString(any ? res.parametersText(0) : a1111Parameters(g, res.provenance));
        out.recordJson = QString::fromStdString(any ? res.recordJson(0) : imageRecordJson(g, res.provenance));
        save(res, request, &out);
        return out;
    }

    void requestCancel() override { m_cancel.request(); }
    void resetCancel() override { m_cancel.reset(); }

    CostInfo costInfo() const override { return m_session.costInfo(); }

private:
    void save(const GenerationResult& res, const RunRequest& request, RunResult* out) {
        if (request.outputFolder.isEmpty() || res.images.empty()) return;
        try {
            RunOutput output;
            output.folder = request.outputFolder.toStdString();
            output.format = request.outputFormat;
            output.prefix = request.label == kFullLabel ? "full" : "swd";
            output.datedNames = true;
            for (const WrittenImage& w : writeResult(res, output))
                if (!w.image.empty()) out->savedPaths << QString::fromStdString(w.image.string());
        } catch (const std::exception& e) {
            out->saveError = QString::fromUtf8(e.what());
        }
    }

    Session m_session;
    CancelToken m_cancel;
};

}  // namespace

std::unique_ptr<RunBackend> createEngineBackend() {
    return std::make_unique<EngineBackend>();
}

}  // namespace swd::ui
