// swd bench: speed and memory of the pipeline and of each component (random weights where no model is
// given). Component benchmarks are subcommands registered by their own files (bench_*.cpp).
#include "cli_common.h"

namespace swd::cli {

void addBenchUnetCommand(CLI::App& bench);  // bench/bench_unet.cpp

void addBenchCommand(CLI::App& app) {
    auto* bench = app.add_subcommand(
        "bench",
        "Measure speed and peak memory: the whole pipeline (SwD against full resolution), or one component "
        "(subcommand) with random weights");
    bench->require_subcommand(0, 1);
    addBenchPipeline(*bench);
    // Each component adds its subcommand here.
    addBenchVaeCommand(*bench);
    addBenchTextCommand(*bench);
    addBenchTransformerCommand(*bench);
    addBenchUnetCommand(*bench);
}

}  // namespace swd::cli
