// swd check-golden [--tokenizers DIR] CASE_DIR...
#include "cli_common.h"
#include "golden/golden_case.h"

#include <fmt/format.h>

namespace swd::cli {

void addCheckGoldenCommand(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "check-golden",
        "Compare this build against reference outputs (golden cases: a folder with case.json). Prints one "
        "line per compared tensor; exits 0 only when every run of every case passes");
    struct Args {
        std::vector<std::string> cases;
        std::string tokenizers;
        std::string device = "cpu";
    };
    auto args = std::make_shared<Args>();
    cmd->add_option("CASE_DIR", args->cases, "golden case folders")
        ->required()
        ->check(CLI::ExistingDirectory);
    cmd->add_option("--tokenizers", args->tokenizers,
                    "tokenizer folder (clip/vocab.json, clip/merges.txt, t5/spiece.model); default: "
                    "the folder 'tokenizers' beside the folder that holds the case")
        ->check(CLI::ExistingDirectory);
    cmd->add_option("--device", args->device, "cpu or cuda");
    setAction(cmd, [args] {
        GoldenOptions options;
        options.tokenizersDir = args->tokenizers;
        options.device = args->device;
        int failed = 0, runs = 0;
        for (const auto& dir : args->cases) {
            const auto report = runGoldenCase(dir, options);
            fmt::print("{}", formatGoldenReport(report));
            std::fflush(stdout);
            runs += static_cast<int>(report.runs.size());
            if (!report.passed()) ++failed;
        }
        fmt::print("{} case{}, {} runs: {}\n", args->cases.size(), args->cases.size() == 1 ? "" : "s", runs,
                   failed == 0 ? "all passed" : fmt::format("{} case(s) FAILED", failed));
        return failed == 0 ? 0 : 1;
    });
}

}  // namespace swd::cli
