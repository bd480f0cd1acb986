// The object that lives on the generation thread and owns the backend (and through it the engine, its
// models and every tensor): it runs jobs (one or more runs with one seed), reports stages, steps and
// results by queued signals, and turns every exception into a readable failure message. Steps are
// coalesced: the worker queues them and posts one notification until the UI has taken them, so a slow UI
// never builds an unbounded queue of images.
#pragma once

#include "run_backend.h"

#include <QMutex>
#include <QObject>

#include <atomic>
#include <functional>
#include <memory>

namespace swd::ui {

class GenerationWorker : public QObject {
    Q_OBJECT

public:
    using BackendFactory = std::function<std::unique_ptr<RunBackend>()>;

    // The backend is created by `factory` on the worker thread, at the first call that needs it.
    explicit GenerationWorker(BackendFactory factory);
    ~GenerationWorker() override;

    // Thread-safe: stops the run in progress at its next check and skips the job's remaining runs.
    void requestCancel();
    // Thread-safe: the steps queued since the last call (in order).
    QList<StepImage> takePendingSteps();

    // Worker-thread entry points (invoked queued by the controller).
    void configure(const BackendOptions& options);
    void discover();
    void runJob(int jobId, const QList<RunRequest>& runs);

Q_SIGNALS:
    void discovered(const swd::ui::DiscoveryReport& report);
    void runStarted(int jobId, int runIndex);
    void stageChanged(int jobId, int runIndex, const QString& text);
    void stepsPending();
    void runFinished(const swd::ui::RunResult& result);
    void runFailed(int jobId, int runIndex, const QString& message);
    void jobFinished(int jobId, bool cancelled, bool failed);
    void costInfoChanged(const swd::CostInfo& info);

private:
    RunBackend& backend();

    BackendFactory m_factory;
    std::unique_ptr<RunBackend> m_backend;
    BackendOptions m_options;
    bool m_configured = false;
    std::atomic<bool> m_cancelJob{false};
    std::atomic<RunBackend*> m_live{nullptr};  // the backend, for requestCancel from other threads
    QMutex m_stepMutex;
    QList<StepImage> m_pendingSteps;
    bool m_notifyPosted = false;
};

}  // namespace swd::ui
