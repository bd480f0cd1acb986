#include "generation_controller.h"

#include "engine_backend.h"

namespace swd::ui {

namespace {

QString formatEta(double ms) {
    if (ms < 1000.0) return QObject::tr("%1 ms").arg(ms, 0, 'f', 0);
    if (ms < 60000.0) return QObject::tr("%1 s").arg(ms / 1000.0, 0, 'f', 1);
    return QObject::tr("%1 min %2 s").arg(int(ms / 60000.0)).arg(int(ms / 1000.0) % 60);
}

}  // namespace

GenerationController::GenerationController(GenerationWorker::BackendFactory factory, QObject* parent)
    : QObject(parent) {
    registerRunTypes();
    qRegisterMetaType<CostInfo>();
    if (!factory) factory = [] { return createEngineBackend(); };
    m_thread = new QThread(this);
    m_thread->setObjectName(QStringLiteral("swd-generation"));
    m_worker = new GenerationWorker(std::move(factory));
    m_worker->moveToThread(m_thread);

    connect(m_worker, &GenerationWorker::discovered, this, &GenerationController::discovered);
    connect(m_worker, &GenerationWorker::runStarted, this, &GenerationController::onRunStarted);
    connect(m_worker, &GenerationWorker::stageChanged, this,
            [this](int jobId, int runIndex, const QString& text) {
                if (jobId != m_jobId) return;
                m_stage = text;
                const QString label = runIndex < m_runs.size() ? m_runs[runIndex].label : QString();
                Q_EMIT stageChanged(label.isEmpty() ? text : label + QStringLiteral(": ") + text);
                Q_EMIT progressChanged(progress(), m_etaMs, label + QStringLiteral(": ") + text);
            });
    connect(m_worker, &GenerationWorker::stepsPending, this, &GenerationController::drainSteps);
    connect(m_worker, &GenerationWorker::runFinished, this, &GenerationController::onRunFinished);
    connect(m_worker, &GenerationWorker::runFailed, this,
            [this](int jobId, int runIndex, const QString& message) {
                // jobId 0: applying the settings failed, outside any job.
                const QString label = jobId != 0 && jobId == m_jobId && runIndex < m_runs.size()
                                          ? m_runs[runIndex].label
                                          : QString();
                Q_EMIT failed(label.isEmpty() ? message : tr("%1 run failed: %2").arg(label, message));
            });
    connect(m_worker, &GenerationWorker::jobFinished, this, &GenerationController::onJobFinished);
    connect(m_worker, &GenerationWorker::costInfoChanged, this, [this](const CostInfo& info) {
        m_cost = info;
        Q_EMIT costInfoChanged(info);
    });

    m_previewTimer.setSingleShot(true);
    m_previewTimer.setInterval(kPreviewIntervalMs);
    connect(&m_previewTimer, &QTimer::timeout, this, [this] {
        if (m_previewPending) emitPreview();
    });
    m_thread->start();
}

GenerationController::~GenerationController() {
    m_worker->requestCancel();
    m_thread->quit();
    m_thread->wait();
    delete m_worker;
}

void GenerationController::configure(const BackendOptions& options) {
    GenerationWorker* w = m_worker;
    QMetaObject::invokeMethod(
        m_worker, [w, options] { w->configure(options); }, Qt::QueuedConnection);
}

void GenerationController::discover() {
    GenerationWorker* w = m_worker;
    QMetaObject::invokeMethod(
        m_worker, [w] { w->discover(); }, Qt::QueuedConnection);
}

int GenerationController::start(const QList<RunRequest>& runs) {
    if (busy() || runs.isEmpty()) return 0;
    m_jobId = m_nextJob++;
    m_runs = runs;
    m_runIndex = 0;
    m_stage.clear();
    m_runFlops.clear();
    m_totalFlops = m_doneFlops = 0;
    m_estimator = StepTimeEstimator(m_cost.flopsPerSecond);
    for (const RunRequest& r : runs) {
        m_runFlops.push_back(scheduleStepFlops(m_cost.shape, r.schedule, r.batchSize));
        for (double f : m_runFlops.back()) m_totalFlops += f;
    }
    m_etaMs = estimateRemainingMs(m_runFlops.front(), 0, m_estimator);
    for (std::size_t i = 1; i < m_runFlops.size(); ++i)
        m_etaMs += estimateRemainingMs(m_runFlops[i], 0, m_estimator);
    const int jobId = m_jobId;
    GenerationWorker* w = m_worker;
    QMetaObject::invokeMethod(
        m_worker, [w, jobId, runs] { w->runJob(jobId, runs); }, Qt::QueuedConnection);
    Q_EMIT busyChanged(true);
    Q_EMIT jobStarted(jobId, runs);
    Q_EMIT progressChanged(0.0, m_etaMs, tr("Starting…"));
    return jobId;
}

void GenerationController::cancel() {
    if (!busy()) return;
    m_worker->requestCancel();
    Q_EMIT progressChanged(progress(), m_etaMs, tr("Cancelling after the current step…"));
}

double GenerationController::progress() const {
    return m_totalFlops > 0 ? std::min(1.0, m_doneFlops / m_totalFlops) : 0.0;
}

void GenerationController::drainSteps() {
    for (const StepImage& s : m_worker->takePendingSteps()) handleStep(s);
}

void GenerationController::handleStep(const StepImage& step) {
    if (step.jobId != m_jobId) return;
    const auto run = static_cast<std::size_t>(step.runIndex);
    double flops = 0;
    if (run < m_runFlops.size() && step.index >= 0 &&
        static_cast<std::size_t>(step.index) < m_runFlops[run].size())
        flops = m_runFlops[run][static_cast<std::size_t>(step.index)];
    m_doneFlops += flops;
    if (flops > 0 && step.modelMs > 0) m_estimator.observe(flops, step.modelMs);
    // The engine's ETA of this run (its own calibration) plus the cost model's for the runs still queued.
    m_etaMs = step.etaMs;
    for (std::size_t i = run + 1; i < m_runFlops.size(); ++i)
        m_etaMs += estimateRemainingMs(m_runFlops[i], 0, m_estimator);

    Q_EMIT stepFinished(step);
    m_pendingPreview = step;
    m_previewPending = true;
    if (!m_previewTimer.isActive()) emitPreview();
    // A DDPM step (SiD, Euler discrete) is named by its timestep; a SwD step by its scale and σ.
    const QString where =
        step.timestep >= 0
            ? tr("t %1 · noise %2").arg(step.timestep).arg(step.sigma, 0, 'f', 3)
            : tr("scale %1 (%2 px) · σ %3").arg(step.scale).arg(8 * step.scale).arg(step.sigma, 0, 'f', 3);
    Q_EMIT progressChanged(progress(), m_etaMs,
                           tr("%1: step %2/%3 · %4 · %5 ms · ETA %6")
                               .arg(step.runLabel)
                               .arg(step.index + 1)
                               .arg(step.stepCount)
                               .arg(where)
                               .arg(step.ms, 0, 'f', 0)
                               .arg(formatEta(m_etaMs)));
}

void GenerationController::emitPreview() {
    m_previewPending = false;
    Q_EMIT previewChanged(m_pendingPreview);
    m_previewTimer.start();
}

void GenerationController::onRunStarted(int jobId, int runIndex) {
    if (jobId != m_jobId) return;
    m_runIndex = runIndex;
    if (runIndex < m_runs.size()) Q_EMIT runStarted(jobId, runIndex, m_runs[runIndex]);
}

void GenerationController::onRunFinished(const RunResult& result) {
    drainSteps();  // every step of the run is delivered before its result
    if (result.jobId != m_jobId) return;
    if (m_previewPending) emitPreview();
    Q_EMIT runFinished(result);
}

void GenerationController::onJobFinished(int jobId, bool cancelled, bool failedJob) {
    drainSteps();
    if (jobId != m_jobId) return;
    m_jobId = 0;
    m_etaMs = 0;
    Q_EMIT progressChanged(cancelled || failedJob ? progress() : 1.0, 0.0,
                           failedJob   ? tr("Failed")
                           : cancelled ? tr("Cancelled")
                                       : tr("Done"));
    Q_EMIT busyChanged(false);
    Q_EMIT jobFinished(jobId, cancelled, failedJob);
}

}  // namespace swd::ui
