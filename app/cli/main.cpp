// swd: the SwD Studio command line. Exit codes: 0 ok, 2 bad input, 1 internal error.
#include "cli_common.h"
#include "util/error.h"
#include "util/runtime.h"
#include "util/torch_compat.h"

#include <fmt/format.h>

#include <cstdio>

int main(int argc, char** argv) {
    CLI::App app{fmt::format("swd {}: scale-wise distillation (SwD) and full-resolution sampling for SD3.5.\n"
                             "libtorch {}",
                             SWD_VERSION, swd::compat::torchVersionString()),
                 "swd"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string(SWD_VERSION));
    int threads = 0;
    app.add_option("--threads", threads, "CPU threads for libtorch (default: all)")
        ->check(CLI::NonNegativeNumber);
    app.footer("Run 'swd <command> --help' for the options of a command.");

    swd::cli::addPresetsCommand(app);
    swd::cli::addScheduleCommand(app);
    swd::cli::addGenerateCommands(app);
    swd::cli::addCheckGoldenCommand(app);
    swd::cli::addBenchCommand(app);
    swd::cli::addInspectCommand(app);
    swd::cli::addModelsCommand(app);

    app.parse_complete_callback([&] { swd::configureRuntime({threads, true}); });
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? 0 : 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "swd: %s\n", e.what());
        return swd::exitCodeFor(e);
    }
    return swd::cli::commandExitCode();
}
