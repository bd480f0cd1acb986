#include "cli_common.h"

namespace swd::cli {

int& commandExitCode() {
    static int code = 0;
    return code;
}

void setAction(CLI::App* command, CommandAction action) {
    command->callback([action = std::move(action)] { commandExitCode() = action(); });
}

}  // namespace swd::cli
