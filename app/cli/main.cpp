// swd: the SwD Studio command line. Exit codes: 0 ok, 2 bad input, 1 internal error.
#include "catalog/model_set.h"
#include "cli_common.h"
#include "fixtures/demo_model.h"
#include "text/spm_library.h"
#include "util/error.h"
#include "util/runtime.h"
#include "util/torch_compat.h"

#include <fmt/format.h>

#include <cstdio>
#include <filesystem>

namespace {

// `swd --version`: the versions of what this binary runs on and the data files it found, so a bug report
// or a packaging check shows which installation answered.
std::string versionText() {
    namespace fs = std::filesystem;
    std::error_code ec;
    auto firstExisting = [&](const std::vector<fs::path>& paths) -> std::string {
        for (const auto& p : paths)
            if (fs::exists(p, ec)) return fs::weakly_canonical(p, ec).string();
        return "not found";
    };
    const auto demo = swd::findShippedDemoModel();
    return fmt::format(
        "swd {}\n{}\nsentencepiece module: {}\ntokenizers: {}\ndemo model: {}", SWD_VERSION,
        swd::inferenceLibrariesDescription(), firstExisting(swd::SpmLibrary::candidatePaths()),
        firstExisting(swd::bundledTokenizerDirs()),
        demo ? fs::weakly_canonical(*demo, ec).string() : std::string("not shipped (written on first use)"));
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{fmt::format("swd {}: scale-wise distillation (SwD) and full-resolution sampling for SD3.5.\n"
                             "libtorch {}",
                             SWD_VERSION, swd::compat::torchVersionString()),
                 "swd"};
    app.require_subcommand(1);
    app.set_version_flag("--version", versionText,
                         "print the version, the libraries and the data files used");
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
    swd::cli::addConvertCommand(app);
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
