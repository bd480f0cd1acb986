// swd bench: speed and memory of the pipeline and of each component (random weights where no model is
// given). Component benchmarks are subcommands registered by their own files (bench_*.cpp).
#include "cli_common.h"

namespace swd::cli {

void addBenchCommand(CLI::App& app) {
    auto* bench = app.add_subcommand(
        "bench", "Measure speed and peak memory: the whole pipeline, or one component with random weights");
    bench->require_subcommand(1);
    // Each component adds its subcommand here.
    addBenchVaeCommand(*bench);
}

}  // namespace swd::cli
