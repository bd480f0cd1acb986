#include "cli_common.h"

#include "models/linear.h"
#include "models/op_profile.h"
#include "util/stopwatch.h"

#include <algorithm>

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

MatmulPeak matmulPeak(at::ScalarType dtype, MatmulBackend backend) {
    const int64_t n = 2048;
    const double flops = 2.0 * n * n * n;
    const Linear lin("peak", at::randn({n, n}).to(dtype), at::Tensor(), backend);
    const at::Tensor x = at::randn({n, n}).to(dtype);
    at::Tensor y = at::empty({n, n}, x.options());
    lin.forwardInto(x, y);
    MatmulPeak p;
    for (int i = 0; i < 5; ++i) {
        Stopwatch sw;
        const double cpu0 = profile::processCpuMs();
        lin.forwardInto(x, y);
        const double cpuMs = profile::processCpuMs() - cpu0, wallMs = sw.elapsedMs();
        p.wall = std::max(p.wall, flops / (wallMs * 1e-3) / 1e9);
        if (cpuMs > 0) p.cpu = std::max(p.cpu, flops / (cpuMs * 1e-3) / 1e9);
    }
    return p;
}

void setAction(CLI::App* command, CommandAction action) {
    command->callback([action = std::move(action)] { commandExitCode() = action(); });
}

}  // namespace swd::cli
