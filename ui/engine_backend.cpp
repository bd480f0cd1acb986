#include "engine_backend.h"

#include "image/image_io.h"
#include "image_conversion.h"
#include "io/model_discovery.h"
#include "io/model_set.h"
#include "pipeline/demo_model.h"
#include "pipeline/engine.h"
#include "util/device.h"
#include "util/error.h"
#include "util/runtime.h"

#include <QDate>
#include <QDir>

#include <c10/core/InferenceMode.h>

#include <optional>

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
    const auto precision = precisionFromName(r.precision.toStdString());
    if (!precision)
        throwBadInput("unknown precision '{}' (use auto, bf16, fp16 or fp32)", r.precision.toStdString());
    g.precision = *precision;
    g.preview = parsePreviewMode(r.preview.toStdString());
    g.useAdapter = r.useAdapter && r.model.adapterKind != ModelChoice::AdapterKind::None;
    g.cfgBatched = r.cfgBatched;
    g.label = r.label.toStdString();
    return g;
}

// Forwards the engine's stages and steps to the worker as Qt values.
class ObserverBridge : public GenerationObserver {
public:
    ObserverBridge(RunBackend::Observer& out, const QString& label) : m_out(out), m_label(label) {}

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
        s.ms = e.ms;
        s.modelMs = e.modelMs;
        s.elapsedMs = e.elapsedMs;
        s.etaMs = e.etaMs;
        if (!e.previews.empty()) s.image = toQImage(e.previews.front());
        steps.append(s);
        m_out.step(s);
    }

    QList<StepImage> steps;

private:
    RunBackend::Observer& m_out;
    QString m_label;
};

class EngineBackend final : public RunBackend {
public:
    void configure(const BackendOptions& options) override {
        const bool foldersChanged =
            options.modelFolders != m_options.modelFolders || options.useHfCache != m_options.useHfCache;
        m_options = options;
        if (foldersChanged) m_found.reset();
        RuntimeOptions runtime;
        runtime.threads = options.threads;
        configureRuntime(runtime);
    }

    DiscoveryReport discover() override {
        DiscoveryReport report;
        report.devices << QStringLiteral("cpu");
        if (cudaAvailable()) report.devices << QStringLiteral("cuda");
        try {
            const DiscoveryResult& found = discovery(true);
            for (const FoundModel& m : found.models) {
                if (m.kind != FoundKind::Pipeline && m.kind != FoundKind::Checkpoint &&
                    m.kind != FoundKind::Adapter)
                    continue;
                ModelEntry e;
                e.path = QString::fromStdString(m.path.string());
                e.name = QString::fromStdString(m.name());
                e.summary = QString::fromStdString(m.summary());
                e.origin = QString::fromStdString(m.origin);
                if (const auto f = m.family()) e.family = QString::fromLatin1(modelFamilyId(*f));
                e.adapter = m.kind == FoundKind::Adapter;
                e.usable = m.usable();
                for (const auto& p : m.problems) e.problems << QString::fromStdString(p);
                report.models << e;
            }
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
        const ModelSet set = resolve(request);
        Engine& engine = engineFor(set, request);
        ObserverBridge bridge(observer, request.label);
        // InferenceMode is thread-local: it holds on this worker thread, which owns every tensor.
        c10::InferenceMode inference;
        const GenerationResult res = engine.generate(g, &bridge, m_cancel);

        RunResult out;
        out.request = request;
        out.steps = bridge.steps;
        out.cancelled = res.cancelled;
        out.completedSteps = res.completedSteps;
        out.timings.loadMs = res.timings.loadMs;
        out.timings.textMs = res.timings.textMs;
        out.timings.samplingMs = res.timings.samplingMs;
        out.timings.decodeMs = res.timings.decodeMs;
        out.timings.totalMs = res.timings.totalMs;
        out.timings.peakRssBytes = res.timings.peakRssBytes;
        out.modelName = QString::fromStdString(set.displayName);
        out.deviceUsed = QString::fromStdString(res.provenance.deviceUsed);
        out.dtypeUsed = QString::fromStdString(res.provenance.dtypeUsed);
        for (const RgbImageF& image : res.images) out.images << toQImage(image.toRgb8());
        if (!res.images.empty()) {
            out.parametersText = QString::fromStdString(res.parametersText(0));
            out.recordJson = QString::fromStdString(res.recordJson(0));
        } else {
            out.recordJson = QString::fromStdString(imageRecordJson(g, res.provenance));
            out.parametersText = QString::fromStdString(a1111Parameters(g, res.provenance));
        }
        save(res, request, &out);
        updateCost(engine, res, set);
        return out;
    }

    void requestCancel() override { m_cancel.request(); }
    void resetCancel() override { m_cancel.reset(); }
    CostInfo costInfo() const override { return m_cost; }

private:
    const DiscoveryResult& discovery(bool refresh) {
        if (!m_found || refresh) {
            DiscoveryOptions options;
            for (const QString& f : m_options.modelFolders) options.folders.emplace_back(f.toStdString());
            options.hfCache = m_options.useHfCache;
            m_found = discoverModels(options);
        }
        return *m_found;
    }

    ModelSet resolve(const RunRequest& request) {
        const ModelChoice& c = request.model;
        ModelSet set;
        if (c.kind == ModelChoice::Kind::Demo) {
            const fs::path fallback = m_options.demoDir.isEmpty()
                                          ? fs::temp_directory_path() / "swd-studio-demo-model"
                                          : fs::path(m_options.demoDir.toStdString());
            set = demoModelSet(ensureDemoModel(fallback));
            if (c.adapterKind == ModelChoice::AdapterKind::Path)
                set.adapter = fs::path(c.adapterPath.toStdString());
            return set;
        }
        Schedule schedule = request.schedule;
        // Without an adapter the preset's adapter is not needed to pair the set.
        if (c.adapterKind == ModelChoice::AdapterKind::None || !request.useAdapter) schedule.adapter.clear();
        ModelSetOverrides overrides;
        if (c.kind == ModelChoice::Kind::Path) overrides.model = fs::path(c.path.toStdString());
        if (c.adapterKind == ModelChoice::AdapterKind::Path && request.useAdapter)
            overrides.adapter = fs::path(c.adapterPath.toStdString());
        const ModelSetPlan plan = planModelSet(schedule, discovery(false), overrides);
        if (!plan.set)
            throwBadInput(
                "{}\nAdd the folder that holds the model in Settings, pick a model in the Model list, or "
                "pick the demo model to try the application.",
                plan.message);
        return *plan.set;
    }

    Engine& engineFor(const ModelSet& set, const RunRequest& request) {
        const auto precision = precisionFromName(request.precision.toStdString());
        const std::string base = set.transformer.string() + "|" + set.transformerPrefix + "|" +
                                 request.device.toStdString() + "|" + request.precision.toStdString() + "|" +
                                 m_options.taesdPath.toStdString();
        const std::string adapter = set.adapter ? set.adapter->string() : std::string();
        // The loaded engine serves the run when it has the same base model on the same device, and the
        // adapter the run needs (a run without the adapter can use an engine that has one: it is switched
        // off).
        const bool reuse =
            m_engine && m_engineBase == base && (adapter.empty() || adapter == m_engineAdapter);
        if (!reuse) {
            m_engine.reset();  // free the old models before loading the new ones
            EngineOptions options;
            options.device = request.device.toStdString();
            options.precision = precision.value_or(Precision::Auto);
            options.textPrecision = options.precision;
            if (!m_options.hashCache.isEmpty()) options.hashCache = m_options.hashCache.toStdString();
            options.taesdPath = m_options.taesdPath.toStdString();
            m_engine = std::make_unique<Engine>(set, options);
            m_engineBase = base;
            m_engineAdapter = adapter;
        }
        return *m_engine;
    }

    void save(const GenerationResult& res, const RunRequest& request, RunResult* out) {
        if (request.outputFolder.isEmpty() || res.images.empty()) return;
        try {
            const auto format = imageFormatFromId(request.outputFormat.toStdString());
            if (!format) throwBadInput("unknown output format '{}'", request.outputFormat.toStdString());
            const fs::path folder(request.outputFolder.toStdString());
            fs::create_directories(folder);
            removeStaleTemporaryImages(folder);  // left by a run that was killed while writing
            const std::string prefix =
                (request.label == kFullLabel ? std::string("full-") : std::string("swd-")) +
                QDate::currentDate().toString(QStringLiteral("yyyyMMdd")).toStdString();
            for (std::size_t i = 0; i < res.images.size(); ++i) {
                ImageMetadata meta;
                meta.parameters = res.parametersText(static_cast<int>(i));
                meta.request = res.recordJson(static_cast<int>(i));
                meta.software = res.provenance.version;
                const fs::path written =
                    writeImage(nextImagePath(folder, prefix, *format), res.images[i], meta, {*format});
                out->savedPaths << QString::fromStdString(written.string());
            }
        } catch (const std::exception& e) {
            out->saveError = QString::fromUtf8(e.what());
        }
    }

    void updateCost(const Engine& engine, const GenerationResult& res, const ModelSet& set) {
        m_cost.shape = engine.transformerShape();
        m_cost.maxLatentSide = engine.maxLatentSide();
        m_cost.modelName = QString::fromStdString(set.displayName);
        // Throughput of this run's transformer calls, as the engine's own estimator measures it.
        const auto flops = scheduleStepFlops(m_cost.shape, res.request.schedule, res.request.batchSize);
        double f = 0, ms = 0;
        for (const StepResult& s : res.steps) {
            if (s.index < 0 || static_cast<std::size_t>(s.index) >= flops.size()) continue;
            f += flops[static_cast<std::size_t>(s.index)];
            ms += s.modelMs;
        }
        if (f > 0 && ms > 0) {
            m_cost.flopsPerSecond = f / (ms / 1000.0);
            m_cost.calibrated = true;
        }
    }

    BackendOptions m_options;
    std::optional<DiscoveryResult> m_found;
    std::unique_ptr<Engine> m_engine;
    std::string m_engineBase, m_engineAdapter;
    CancelToken m_cancel;
    CostInfo m_cost;
};

}  // namespace

std::unique_ptr<RunBackend> createEngineBackend() {
    return std::make_unique<EngineBackend>();
}

}  // namespace swd::ui
