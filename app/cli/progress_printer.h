// What `swd generate` and `swd compare` print while they run, on stderr: a progress bar redrawn in place
// when stderr is a terminal, one plain line per step otherwise (logs, pipes, CI). --quiet prints nothing
// here (stdout then carries only the written paths); --verbose adds each stage's detail and the model
// time of every step. Colour only on a terminal and never when NO_COLOR is set (no-color.org).
#pragma once

#include "pipeline/engine.h"

#include <cstdio>
#include <string>

namespace swd::cli {

enum class Verbosity { Quiet, Normal, Verbose };

class ProgressPrinter : public GenerationObserver {
public:
    ProgressPrinter(Verbosity verbosity, std::FILE* stream = stderr);
    ~ProgressPrinter() override;

    void onStage(Stage stage, const std::string& detail) override;
    void onStep(const StepEvent& event) override;

    // A message between runs (ends the bar's line first).
    void note(const std::string& text);

    // The bar line for one step, without colour or carriage return: "SwD [#####-----] 3/6 ...".
    static std::string barLine(const StepEvent& event, int width);

private:
    void endLine();

    Verbosity m_verbosity;
    std::FILE* m_stream;
    bool m_terminal = false;
    bool m_colour = false;
    bool m_lineOpen = false;  // a bar is drawn and its line not yet ended
};

}  // namespace swd::cli
