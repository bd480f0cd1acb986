// Typed errors of the core. Every message says what is wrong, where (file, tensor, field) and, where
// possible, what to do. The CLI maps the kind to its exit code; the GUI shows the message.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace swd {

enum class ErrorKind {
    BadInput,     // a file, preset, request or argument the user supplied is wrong (exit code 2)
    Unsupported,  // valid input this build cannot run, e.g. CUDA on a CPU-only libtorch (exit code 2)
    Cancelled,    // the user asked to stop
    Internal,     // a bug or an environment fault (exit code 1)
};

class Error : public std::runtime_error {
public:
    Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), m_kind(kind) {}
    ErrorKind kind() const { return m_kind; }

private:
    ErrorKind m_kind;
};

template <typename... Args>
[[noreturn]] void throwBadInput(fmt::format_string<Args...> format, Args&&... args) {
    throw Error(ErrorKind::BadInput, fmt::format(format, std::forward<Args>(args)...));
}

template <typename... Args>
[[noreturn]] void throwUnsupported(fmt::format_string<Args...> format, Args&&... args) {
    throw Error(ErrorKind::Unsupported, fmt::format(format, std::forward<Args>(args)...));
}

template <typename... Args>
[[noreturn]] void throwInternal(fmt::format_string<Args...> format, Args&&... args) {
    throw Error(ErrorKind::Internal, fmt::format(format, std::forward<Args>(args)...));
}

// Process exit code for an exception that reached the top level: 2 for bad input, 1 otherwise.
int exitCodeFor(const std::exception& e);

}  // namespace swd
