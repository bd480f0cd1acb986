// Shared pieces of the `swd` subcommands.
#pragma once

#include "models/linear.h"

#include <ATen/ATen.h>
#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace swd::cli {

// Every subcommand registers itself on the root app. Its callback runs the command and returns the
// process exit code (0 ok, 2 bad input, 1 internal); exceptions are mapped by main().
using CommandAction = std::function<int()>;
void setAction(CLI::App* command, CommandAction action);

// The component benches' --dtype: bf16 (bfloat16) or fp32 (float32); anything else is a usage error.
at::ScalarType parseBenchDtype(const std::string& value);

// GFLOP/s of a 2048² matmul through the models' Linear, best of 5: the ceiling the benches compare
// with, measured in the same process because these VMs' speed drifts by tens of percent over minutes.
struct MatmulPeak {
    double wall = 0;  // GFLOP/s, best wall-clock run
    double cpu = 0;   // GFLOP per CPU-second of the whole process, best run
};
MatmulPeak matmulPeak(at::ScalarType dtype, MatmulBackend backend);

void addPresetsCommand(CLI::App& app);
void addScheduleCommand(CLI::App& app);
void addCheckGoldenCommand(CLI::App& app);
void addBenchCommand(CLI::App& app);
void addGenerateCommands(CLI::App& app);  // generate, compare, make-demo-model
void addInspectCommand(CLI::App& app);
void addConvertCommand(CLI::App& app);  // convert a pickled SiD generator to safetensors
void addModelsCommand(CLI::App& app);
void addBenchVaeCommand(CLI::App& bench);
void addBenchPipeline(CLI::App& bench);  // swd bench without a subcommand
void addBenchTextCommand(CLI::App& bench);
void addBenchTransformerCommand(CLI::App& bench);

// The exit code chosen by the subcommand that ran (set by setAction's wrapper).
int& commandExitCode();

}  // namespace swd::cli
