#include "progress_printer.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace swd::cli {

ProgressPrinter::ProgressPrinter(Verbosity verbosity, std::FILE* stream)
    : m_verbosity(verbosity), m_stream(stream) {
    m_terminal = ::isatty(::fileno(stream)) == 1;
    const char* noColor = std::getenv("NO_COLOR");
    const char* term = std::getenv("TERM");
    m_colour = m_terminal && !(noColor && *noColor) && !(term && std::string(term) == "dumb");
}

ProgressPrinter::~ProgressPrinter() {
    endLine();
}

void ProgressPrinter::endLine() {
    if (!m_lineOpen) return;
    std::fputc('\n', m_stream);
    std::fflush(m_stream);
    m_lineOpen = false;
}

void ProgressPrinter::note(const std::string& text) {
    if (m_verbosity == Verbosity::Quiet) return;
    endLine();
    std::fprintf(m_stream, "%s\n", text.c_str());
}

void ProgressPrinter::onStage(Stage stage, const std::string& detail) {
    if (m_verbosity == Verbosity::Quiet || stage == Stage::Done || stage == Stage::Sampling) return;
    endLine();
    // The prompt is the user's own text: repeating it is noise unless asked for.
    const bool showDetail =
        !detail.empty() && (m_verbosity == Verbosity::Verbose || stage != Stage::EncodingPrompt);
    std::fprintf(m_stream, "  %s%s%s\n", stageName(stage), showDetail ? ": " : "",
                 showDetail ? detail.c_str() : "");
}

std::string ProgressPrinter::barLine(const StepEvent& e, int width) {
    const int done = e.index + 1;
    const int filled = e.stepCount > 0 ? std::clamp(width * done / e.stepCount, 0, width) : width;
    return fmt::format("  {} [{}{}] {}/{}  {} px  sigma {:.3f}  {:.1f} s  ETA {:.0f} s", e.runLabel,
                       std::string(static_cast<std::size_t>(filled), '#'),
                       std::string(static_cast<std::size_t>(width - filled), '-'), done, e.stepCount,
                       e.scale * 8, e.sigma, e.elapsedMs / 1000.0, std::ceil(e.etaMs / 1000.0));
}

void ProgressPrinter::onStep(const StepEvent& e) {
    if (m_verbosity == Verbosity::Quiet) return;
    if (m_terminal) {
        std::string line = barLine(e, 24);
        if (m_verbosity == Verbosity::Verbose) line += fmt::format("  step {:.0f} ms", e.ms);
        // \r + erase to the end of the line: the bar is redrawn in place.
        if (m_colour)
            std::fprintf(m_stream, "\r\x1b[2K\x1b[36m%s\x1b[0m", line.c_str());
        else
            std::fprintf(m_stream, "\r\x1b[2K%s", line.c_str());
        std::fflush(m_stream);
        m_lineOpen = true;
        if (e.index + 1 == e.stepCount) endLine();
        return;
    }
    std::string line = fmt::format("  {} step {}/{}  scale {} ({} px)  sigma {:.4f}  {:.0f} ms", e.runLabel,
                                   e.index + 1, e.stepCount, e.scale, e.scale * 8, e.sigma, e.ms);
    if (m_verbosity == Verbosity::Verbose) line += fmt::format(" (model {:.0f} ms)", e.modelMs);
    line += fmt::format("  ETA {:.1f} s", e.etaMs / 1000.0);
    std::fprintf(m_stream, "%s\n", line.c_str());
}

}  // namespace swd::cli
