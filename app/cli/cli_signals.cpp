#include "cli_signals.h"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstring>

namespace swd::cli {

namespace {

std::atomic<CancelToken*> g_token{nullptr};
std::atomic<bool> g_interrupted{false};
struct sigaction g_previousInt, g_previousTerm;

// Only async-signal-safe work here: an atomic store (lock-free for bool on every platform we build for),
// write(2), and re-raising with the default action on the second signal.
void onSignal(int signal) {
    static_assert(std::atomic<bool>::is_always_lock_free, "the cancel flag must be lock-free");
    if (g_interrupted.exchange(true)) {
        std::signal(signal, SIG_DFL);
        std::raise(signal);
        return;
    }
    if (CancelToken* token = g_token.load()) token->request();
    static const char message[] =
        "\nswd: cancelling after the current step (press Ctrl-C again to stop at once)\n";
    const ssize_t ignored = ::write(STDERR_FILENO, message, sizeof(message) - 1);
    (void)ignored;
}

}  // namespace

InterruptCancels::InterruptCancels(CancelToken& token) {
    g_interrupted.store(false);
    g_token.store(&token);
    struct sigaction action;
    std::memset(&action, 0, sizeof(action));
    action.sa_handler = onSignal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &g_previousInt);
    sigaction(SIGTERM, &action, &g_previousTerm);
}

InterruptCancels::~InterruptCancels() {
    sigaction(SIGINT, &g_previousInt, nullptr);
    sigaction(SIGTERM, &g_previousTerm, nullptr);
    g_token.store(nullptr);
}

bool InterruptCancels::interrupted() {
    return g_interrupted.load();
}

}  // namespace swd::cli
