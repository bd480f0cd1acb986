// The UI side of generation: owns the worker thread (one, long-lived: models stay loaded between runs),
// sends it jobs, and turns what comes back into UI signals: every step in order, a throttled live
// preview (newest wins, at most every kPreviewIntervalMs), cost-weighted progress with an ETA, results,
// and failures as readable messages. The UI thread never waits for the worker except on destruction.
#pragma once

#include "generation_worker.h"
#include "run_backend.h"

#include <QElapsedTimer>
#include <QObject>
#include <QThread>
#include <QTimer>

namespace swd::ui {

class GenerationController : public QObject {
    Q_OBJECT

public:
    // `factory` makes the backend on the worker thread (default: the engine backend).
    explicit GenerationController(GenerationWorker::BackendFactory factory = {}, QObject* parent = nullptr);
    // Cancels a run in progress and waits for the worker thread to finish it.
    ~GenerationController() override;

    void configure(const BackendOptions& options);
    void discover();
    // Starts a job (its runs one after the other, e.g. SwD then full resolution with one seed). Returns the
    // job id, or 0 when a job is still running.
    int start(const QList<RunRequest>& runs);
    // Stops the run in progress at its next step boundary and drops the job's remaining runs.
    void cancel();
    bool busy() const { return m_jobId != 0; }
    int currentJob() const { return m_jobId; }
    QThread* workerThread() const { return m_thread; }

    CostInfo costInfo() const { return m_cost; }
    // Cost-weighted progress of the current job (0..1) and the remaining time it predicts.
    double progress() const;
    double etaMs() const { return m_etaMs; }

    static constexpr int kPreviewIntervalMs = 100;

Q_SIGNALS:
    void busyChanged(bool busy);
    void jobStarted(int jobId, const QList<swd::ui::RunRequest>& runs);
    void runStarted(int jobId, int runIndex, const swd::ui::RunRequest& request);
    void stageChanged(const QString& text);
    void stepFinished(const swd::ui::StepImage& step);
    void previewChanged(const swd::ui::StepImage& step);
    void progressChanged(double fraction, double etaMs, const QString& text);
    void runFinished(const swd::ui::RunResult& result);
    void failed(const QString& message);
    void jobFinished(int jobId, bool cancelled, bool failed);
    void discovered(const swd::ui::DiscoveryReport& report);
    void costInfoChanged(const swd::CostInfo& info);

private:
    void drainSteps();
    void handleStep(const StepImage& step);
    void emitPreview();
    void onRunStarted(int jobId, int runIndex);
    void onRunFinished(const RunResult& result);
    void onJobFinished(int jobId, bool cancelled, bool failed);

    QThread* m_thread = nullptr;
    GenerationWorker* m_worker = nullptr;
    int m_nextJob = 1;
    int m_jobId = 0;
    QList<RunRequest> m_runs;
    int m_runIndex = 0;
    QString m_stage;
    std::vector<std::vector<double>> m_runFlops;
    double m_totalFlops = 0, m_doneFlops = 0;
    double m_etaMs = 0;
    StepTimeEstimator m_estimator;
    CostInfo m_cost;
    QTimer m_previewTimer;
    StepImage m_pendingPreview;
    bool m_previewPending = false;
};

}  // namespace swd::ui
