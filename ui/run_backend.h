// What the generation worker drives: discovery of models and runs of a request, step by step. The real
// implementation is the engine backend (engine_backend.h); tests substitute their own. Every call but
// requestCancel/resetCancel happens on the worker thread, which owns the backend and everything it loads.
#pragma once

#include "pipeline/cost_model.h"
#include "run_types.h"

#include <QString>
#include <QStringList>

#include <memory>

namespace swd::ui {

// Settings the backend needs (from AppSettings and the app's folders).
struct BackendOptions {
    QStringList modelFolders;
    bool useHfCache = true;
    QString demoDir;    // where the demo model is written when it is not installed
    QString hashCache;  // file-hash cache for the run metadata ("": none)
    int threads = 0;    // libtorch intra-op threads (0: every hardware thread)
    QString taesdPath;  // TAESD3 decoder weights for "taesd" previews ("": projection instead)
};

class RunBackend {
public:
    class Observer {
    public:
        virtual ~Observer() = default;
        virtual void stage(const QString& text) = 0;
        virtual void step(const StepImage& step) = 0;
    };

    virtual ~RunBackend() = default;

    virtual void configure(const BackendOptions& options) = 0;
    virtual DiscoveryReport discover() = 0;
    // Runs one request; reports stages and steps to `observer`. A cancelled run returns what it finished.
    // Throws std::exception with a readable message for anything that cannot run.
    virtual RunResult run(const RunRequest& request, Observer& observer) = 0;
    // Thread-safe: asks the run in progress to stop at its next check (between steps).
    virtual void requestCancel() = 0;
    virtual void resetCancel() = 0;
    virtual CostInfo costInfo() const = 0;
};

}  // namespace swd::ui

Q_DECLARE_METATYPE(swd::CostInfo)
