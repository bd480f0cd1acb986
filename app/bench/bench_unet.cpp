// swd bench unet: one forward of the real SD 1.5 or SDXL UNet with random weights (made in memory from
// UnetConfig::parameterShapes, loaded through the same loader as a checkpoint): time at a latent size,
// achieved GFLOP/s by the cost model's count (pipeline/cost_model.h) against this machine's measured
// matmul peak, peak memory over the weights.
#include "cli_common.h"
#include "fixtures/random_weights.h"
#include "kernels/dnnl_backend.h"
#include "models/op_profile.h"
#include "models/unet.h"
#include "pipeline/cost_model.h"
#include "util/runtime.h"
#include "util/stopwatch.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/InferenceMode.h>
#include <fmt/format.h>

#include <malloc.h>

#include <filesystem>

namespace swd::cli {

namespace {

struct UnetBenchArgs {
    std::string model = "sdxl";
    std::string config;  // a diffusers unet/config.json instead of the real architecture (e.g. the demo's)
    int latent = 0;      // 0: the model's own (SDXL 128 = 1024 px, SD 1.5 64 = 512 px)
    int batch = 1;
    std::string dtype = "bf16";
    int repeats = 3;
    bool profile = false;
};

// Where one profiled forward's time went, per operation kind.
void printUnetProfile(const SdUnet& unet, const std::function<void()>& forward) {
    profile::reset();
    profile::setEnabled(true);
    Stopwatch sw;
    forward();
    const double total = sw.elapsedMs();
    profile::setEnabled(false);
    fmt::print("profile of one forward ({:.0f} ms, {}):\n", total, matmulBackendName(unet.matmulBackend()));
    for (const auto& op : profile::snapshot())
        fmt::print("  {:<40} {:8.1f} ms {:5.1f}%  {:5} calls{}\n", op.name, op.ms, 100.0 * op.ms / total,
                   op.calls, op.flops > 0 ? fmt::format("  {:.0f} GFLOP/s", op.flops / op.ms / 1e6) : "");
}

int runUnetBench(const UnetBenchArgs& args) {
    c10::InferenceMode inference;
    const at::ScalarType dtype = parseBenchDtype(args.dtype);
    const bool xl = args.model == "sdxl";
    const UnetConfig config = !args.config.empty() ? UnetConfig::fromJson(std::filesystem::path(args.config))
                              : xl                 ? UnetConfig::sdxl()
                                                   : UnetConfig::sd15();
    const int latent = args.latent > 0 ? args.latent : config.sampleSize;

    const auto rssStart = currentRssBytes();
    Stopwatch loadTime;
    // The random store is dropped after the load, as a checkpoint's mapping would be.
    const auto unet =
        SdUnet::load(randomWeightStore(config.parameterShapes(), dtype, 7,
                                       "random " + std::string(xl ? "SDXL" : "SD 1.5") + " UNet"),
                     config, dtype);
    malloc_trim(0);
    fmt::print("{} UNet: {}\n", args.config.empty() ? (xl ? "SDXL" : "SD 1.5") : args.config,
               config.describe());
    fmt::print("random weights ({}) made and loaded in {:.1f} s; RSS {} before, {} after\n", args.dtype,
               loadTime.elapsedMs() / 1000.0, formatBytes(rssStart), formatBytes(currentRssBytes()));
    const MatmulBackend backend = dnnl_backend::usable(dtype) ? MatmulBackend::OneDnn : MatmulBackend::Aten;
    const MatmulPeak peak = matmulPeak(dtype, backend);
    fmt::print(
        "{} threads, matmul {}, oneDNN ISA {}; matmul peak on this machine now (2048^3 {}, best of 5): "
        "{:.0f} GFLOP/s wall, {:.0f} GFLOP per CPU-second\n",
        runtimeThreads(), matmulBackendName(unet->matmulBackend()), dnnl_backend::cpuIsa(), args.dtype,
        peak.wall, peak.cpu);

    auto gen = at::detail::createCPUGenerator(11);
    const int64_t B = args.batch;
    const at::Tensor x = at::randn({B, config.inChannels, latent, latent}, gen);
    const at::Tensor t = at::full({B}, 625, at::kLong);
    const at::Tensor ctx = at::randn({B, 77, config.crossAttentionDim}, gen);
    at::Tensor pooled, timeIds;
    if (config.textTimeEmbedding) {
        pooled = at::randn({B, config.textEmbedDim()}, gen);
        timeIds = at::tensor({8.0f * latent, 8.0f * latent, 0.0f, 0.0f, 8.0f * latent, 8.0f * latent})
                      .repeat({B, 1});
    }
    const auto forward = [&] { unet->forward(x, t, ctx, pooled, timeIds); };
    const double flops = unetFlops(config, latent, 77) * static_cast<double>(B);

    forward();  // warm-up (primitives, buffers)
    resetPeakRss();
    const auto base = currentRssBytes();
    const double cpu0 = profile::processCpuMs();
    const auto stats = timeRepeated(forward, args.repeats, 0);
    const double cpuPerRun = (profile::processCpuMs() - cpu0) / args.repeats;
    const double gflops = flops / (stats.minMs * 1e-3) / 1e9;
    fmt::print(
        "latent {}x{} ({} px), batch {}: min {:.0f} ms, median {:.0f} ms, max {:.0f} ms; {:.0f} GFLOP -> "
        "{:.0f} GFLOP/s = {:.0f}% of the matmul peak; peak RSS {} (+{} over the RSS before the runs)\n",
        latent, latent, 8 * latent, B, stats.minMs, stats.medianMs, stats.maxMs, flops / 1e9, gflops,
        100.0 * gflops / peak.wall, formatBytes(peakRssBytes()),
        formatBytes(peakRssBytes() > base ? peakRssBytes() - base : 0));
    fmt::print(
        "    CPU time per forward {:.0f} ms ({:.0f} GFLOP per CPU-second = {:.0f}% of the matmul's {:.0f})\n",
        cpuPerRun, flops / (cpuPerRun * 1e-3) / 1e9, 100.0 * flops / (cpuPerRun * 1e-3) / 1e9 / peak.cpu,
        peak.cpu);
    std::fflush(stdout);
    if (args.profile) printUnetProfile(*unet, forward);
    return 0;
}

}  // namespace

void addBenchUnetCommand(CLI::App& bench) {
    auto* cmd = bench.add_subcommand(
        "unet",
        "One UNet forward (real SD 1.5 / SDXL architecture, random weights): time, GFLOP/s against the "
        "measured matmul peak, peak memory");
    auto args = std::make_shared<UnetBenchArgs>();
    cmd->add_option("--model", args->model, "sdxl (1024 px default) or sd15 (512 px default)")
        ->check(CLI::IsMember({"sdxl", "sd15"}))
        ->capture_default_str();
    cmd->add_option(
        "--config", args->config,
        "a diffusers unet/config.json to time instead of the real architecture (e.g. the demo's)");
    cmd->add_option("--latent", args->latent, "latent side (default: SDXL 128 = 1024 px, SD 1.5 64 = 512 px)")
        ->check(CLI::Range(1, 512));
    cmd->add_option("--batch", args->batch, "batch size (2 = classifier-free guidance)")
        ->check(CLI::Range(1, 16));
    cmd->add_option("--dtype", args->dtype, "bf16 (fast CPU path) or fp32")
        ->check(CLI::IsMember({"bf16", "fp32"}));
    cmd->add_option("--repeats", args->repeats, "timed runs after one warm-up")->check(CLI::Range(1, 100));
    cmd->add_flag("--profile", args->profile, "time per operation kind (one extra forward)");
    setAction(cmd, [args] { return runUnetBench(*args); });
}

}  // namespace swd::cli
