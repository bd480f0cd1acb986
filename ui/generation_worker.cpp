#include "generation_worker.h"

#include <QMutexLocker>

#include <exception>

namespace swd::ui {

namespace {

// Forwards the backend's reports as the worker's signals, tagged with the job and run.
class WorkerObserver : public RunBackend::Observer {
public:
    WorkerObserver(std::function<void(const QString&)> stage, std::function<void(const StepImage&)> step)
        : m_stage(std::move(stage)), m_step(std::move(step)) {}
    void stage(const QString& text) override { m_stage(text); }
    void step(const StepImage& s) override { m_step(s); }

private:
    std::function<void(const QString&)> m_stage;
    std::function<void(const StepImage&)> m_step;
};

QString describe(const std::exception& e) {
    const QString message = QString::fromUtf8(e.what()).trimmed();
    return message.isEmpty() ? QObject::tr("The run failed without a message (%1)")
                                   .arg(QString::fromLatin1(typeid(e).name()))
                             : message;
}

}  // namespace

GenerationWorker::GenerationWorker(BackendFactory factory) : m_factory(std::move(factory)) {
    registerRunTypes();
    qRegisterMetaType<CostInfo>();
}

GenerationWorker::~GenerationWorker() = default;

void GenerationWorker::requestCancel() {
    m_cancelJob.store(true);
    if (RunBackend* b = m_live.load()) b->requestCancel();
}

QList<StepImage> GenerationWorker::takePendingSteps() {
    QMutexLocker lock(&m_stepMutex);
    QList<StepImage> out;
    out.swap(m_pendingSteps);
    m_notifyPosted = false;
    return out;
}

RunBackend& GenerationWorker::backend() {
    if (!m_backend) {
        m_backend = m_factory();
        m_live.store(m_backend.get());
        m_configured = false;
    }
    if (!m_configured) {
        m_backend->configure(m_options);
        m_configured = true;
    }
    return *m_backend;
}

void GenerationWorker::configure(const BackendOptions& options) {
    m_options = options;
    m_configured = false;
    try {
        if (m_backend) backend();
    } catch (const std::exception& e) {
        Q_EMIT runFailed(0, 0, describe(e));
    } catch (...) {
        Q_EMIT runFailed(0, 0, tr("Applying the settings failed with an unknown error"));
    }
}

void GenerationWorker::discover() {
    DiscoveryReport report;
    try {
        report = backend().discover();
    } catch (const std::exception& e) {
        report.error = describe(e);
    } catch (...) {
        report.error = tr("Model discovery failed with an unknown error");
    }
    if (report.devices.isEmpty()) report.devices << QStringLiteral("cpu");
    Q_EMIT discovered(report);
}

void GenerationWorker::runJob(int jobId, const QList<RunRequest>& runs) {
    m_cancelJob.store(false);
    bool failed = false;
    bool cancelled = false;
    for (int i = 0; i < runs.size(); ++i) {
        if (m_cancelJob.load()) {
            cancelled = true;
            break;
        }
        Q_EMIT runStarted(jobId, i);
        WorkerObserver observer(
            [this, jobId, i](const QString& text) { Q_EMIT stageChanged(jobId, i, text); },
            [this, jobId, i](const StepImage& step) {
                StepImage s = step;
                s.jobId = jobId;
                s.runIndex = i;
                bool post = false;
                {
                    QMutexLocker lock(&m_stepMutex);
                    m_pendingSteps.append(s);
                    if (!m_notifyPosted) m_notifyPosted = post = true;
                }
                if (post) Q_EMIT stepsPending();
            });
        // Nothing may unwind through the event loop: every failure becomes a message.
        try {
            RunBackend& b = backend();
            b.resetCancel();
            if (m_cancelJob.load()) b.requestCancel();  // cancelled while the backend was being created
            RunResult result = b.run(runs[i], observer);
            result.jobId = jobId;
            result.runIndex = i;
            for (StepImage& s : result.steps) {
                s.jobId = jobId;
                s.runIndex = i;
            }
            Q_EMIT costInfoChanged(b.costInfo());
            Q_EMIT runFinished(result);
            if (result.cancelled) {
                cancelled = true;
                break;
            }
        } catch (const std::exception& e) {
            failed = true;
            Q_EMIT runFailed(jobId, i, describe(e));
            break;
        } catch (...) {
            failed = true;
            Q_EMIT runFailed(jobId, i, tr("The run failed with an unknown error"));
            break;
        }
    }
    if (m_cancelJob.load()) cancelled = true;
    Q_EMIT jobFinished(jobId, cancelled, failed);
}

}  // namespace swd::ui
