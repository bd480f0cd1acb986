// Ctrl-C (SIGINT) and SIGTERM during a run cancel it as Esc does in the app: the engine stops after the
// current step, the finished steps are kept and written, and the command exits with 130. A second
// Ctrl-C ends the process at once (the default action); a file being written then is left only as a
// hidden temporary, which the next run removes.
#pragma once

#include "pipeline/engine.h"

namespace swd::cli {

class InterruptCancels {
public:
    explicit InterruptCancels(CancelToken& token);
    ~InterruptCancels();
    InterruptCancels(const InterruptCancels&) = delete;
    InterruptCancels& operator=(const InterruptCancels&) = delete;

    // A signal arrived while this guard was installed.
    static bool interrupted();
};

// The exit status of a run stopped by the user: 128 + SIGINT, as shells report it.
inline constexpr int kExitInterrupted = 130;

}  // namespace swd::cli
