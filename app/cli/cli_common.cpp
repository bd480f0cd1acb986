#include "cli_common.h"

namespace swd::cli {

int& commandExitCode() {
    static int code = 0;
    return code;
}

at::ScalarType parseBenchDtype(const std::string& value) {
    if (value == "bf16" || value == "bfloat16") return at::kBFloat16;
    if (value == "fp32" || value == "float32") return at::kFloat;
    throw CLI::ValidationError("--dtype", "expected bf16 or fp32, got " + value);
}

void setAction(CLI::App* command, CommandAction action) {
    command->callback([action = std::move(action)] { commandExitCode() = action(); });
}

}  // namespace swd::cli
