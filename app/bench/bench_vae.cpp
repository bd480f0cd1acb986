// swd bench vae: speed and peak memory of the SD3, SDXL or SD 1.5 VAE decoder (real architecture, random
// weights loaded through the same loader as a checkpoint), tiled and untiled, the seam a tiled decode leaves
// on a smooth latent, and the cost of the preview paths.
#include "cli_common.h"
#include "fixtures/random_weights.h"
#include "kernels/dnnl_backend.h"
#include "kernels/winograd_conv.h"
#include "models/latent_preview.h"
#include "models/op_profile.h"
#include "models/vae.h"
#include "models/vae_keys.h"
#include "models/vae_tiny.h"
#include "util/runtime.h"
#include "util/stopwatch.h"

#include <c10/core/InferenceMode.h>
#include <fmt/format.h>

#include <cmath>
#include <cstdio>

namespace swd::cli {

namespace {

// A smooth latent: a few low-frequency waves per channel (what a finished image's latent looks like at
// the scale of a tile seam).
at::Tensor smoothLatent(int64_t channels, int64_t h, int64_t w, uint64_t seed) {
    auto gen = at::detail::createCPUGenerator(seed);
    const at::Tensor coarse = at::randn({1, channels, 3, 3}, gen);
    return at::upsample_bilinear2d(coarse, {h, w}, /*align_corners=*/true);
}

struct VaeBenchArgs {
    std::string model = "sd3";
    int size = 512;
    std::string dtype = "bf16";
    std::string tiling = "never";
    int tile = 64;
    int overlap = 16;
    int statsPasses = 1;
    int repeats = 3;
    bool seam = false;
    bool previews = false;
    bool encoder = false;
    bool plainUpsample = false;
    bool nchw = false;
    bool directConv = false;
    bool accuracy = false;
    bool profile = false;
    bool conditioned = false;
};

void addVaeOptions(CLI::App* cmd, VaeBenchArgs& args) {
    cmd->add_option("--model", args.model,
                    "sd3 (16-channel latents), sdxl or sd15 (4-channel latents with quant convs)")
        ->check(CLI::IsMember({"sd3", "sdxl", "sd15"}))
        ->capture_default_str();
    cmd->add_option("--size", args.size, "image side in pixels (multiple of 8)")->check(CLI::Range(8, 8192));
    cmd->add_option("--dtype", args.dtype, "bf16 (fast CPU path) or fp32");
    cmd->add_option("--tiling", args.tiling, "never, always or both (tiled first, then untiled)")
        ->check(CLI::IsMember({"never", "always", "both"}));
    cmd->add_option("--tile", args.tile, "tile side in latent pixels")->check(CLI::Range(2, 1024));
    cmd->add_option("--overlap", args.overlap, "tile overlap in latent pixels")->check(CLI::Range(0, 1023));
    cmd->add_option("--stats-passes", args.statsPasses, "GroupNorm statistics passes of the tiled decode")
        ->check(CLI::Range(0, 8));
    cmd->add_option("--repeats", args.repeats, "timed runs after one warm-up")->check(CLI::Range(1, 100));
    cmd->add_flag("--seam", args.seam, "compare a tiled and an untiled decode of a smooth latent");
    cmd->add_flag("--previews", args.previews, "time the projection and TAESD previews too");
    cmd->add_flag("--encoder", args.encoder, "time the encoder too");
    cmd->add_flag("--plain-upsample", args.plainUpsample,
                  "nearest x2 then 3x3 conv instead of the fused sub-pixel conv (for comparison)");
    cmd->add_flag("--nchw", args.nchw,
                  "contiguous NCHW activations instead of channels-last (for comparison)");
    cmd->add_flag("--direct-conv", args.directConv,
                  "direct 3x3 convolutions instead of Winograd F(2x2, 3x3) in bf16 (for comparison)");
    cmd->add_flag(
        "--accuracy", args.accuracy,
        "compare the bf16 decode (Winograd and direct convolutions) with an fp32 decode of the same "
        "weights");
    cmd->add_flag("--conditioned", args.conditioned,
                  "random conv biases N(0, 2^2) instead of N(0, 0.02^2): GroupNorm groups with distinct "
                  "channel offsets, "
                  "as in trained decoders (for --seam)");
    cmd->add_flag("--profile", args.profile, "print where the time of one more untiled decode went");
}

// Timed decodes of `latent`, tiled and/or untiled as --tiling asks.
void timeDecodes(const VaeBenchArgs& args, AutoencoderKl& vae, const at::Tensor& latent, int64_t lat) {
    auto run = [&](const char* label, const TilingOptions& tiling) {
        resetPeakRss();
        const auto base = currentRssBytes();
        double cpuMs = 1e300;  // process CPU time of the cheapest run: a contention-free estimate
        const auto stats = timeRepeated(
            [&] {
                const double c0 = profile::processCpuMs();
                vae.decodeToImage(latent, tiling);
                cpuMs = std::min(cpuMs, profile::processCpuMs() - c0);
            },
            args.repeats, 1);
        fmt::print(
            "decode {:<8} min {:.0f} ms  median {:.0f} ms  max {:.0f} ms  (CPU time {:.0f} ms = {:.0f} "
            "ms per "
            "thread)  peak RSS {} (+{} over the {} before)\n",
            label, stats.minMs, stats.medianMs, stats.maxMs, cpuMs, cpuMs / runtimeThreads(),
            formatBytes(peakRssBytes()), formatBytes(peakRssBytes() - base), formatBytes(base));
        std::fflush(stdout);
    };
    const TilingOptions tiled = TilingOptions::always(args.tile, args.overlap, args.statsPasses);
    if (args.tiling == "always" || args.tiling == "both") {
        const auto rows = planTiles(lat, args.tile, args.overlap);
        fmt::print("tiles: {} x {} of {} latent px\n", rows.size(), rows.size(), rows.front().size);
        run("tiled", tiled);
    }
    if (args.tiling == "never" || args.tiling == "both") run("untiled", TilingOptions::never());
}

// --profile: where the time of one more untiled decode went.
void printDecodeProfile(AutoencoderKl& vae, const at::Tensor& latent) {
    profile::reset();
    profile::setEnabled(true);
    Stopwatch sw;
    vae.decodeToImage(latent, TilingOptions::never());
    const double total = sw.elapsedMs();
    profile::setEnabled(false);
    fmt::print("profile of one untiled decode ({:.0f} ms):\n", total);
    for (const auto& op : profile::snapshot())
        fmt::print("  {:<36} {:8.1f} ms {:5.1f}%  {:4} calls{}\n", op.name, op.ms, 100.0 * op.ms / total,
                   op.calls, op.flops > 0 ? fmt::format("  {:.0f} GFLOP/s", op.flops / op.ms / 1e6) : "");
}

// --seam: a tiled against an untiled decode of a smooth latent.
void printSeamCheck(const VaeBenchArgs& args, AutoencoderKl& vae, int64_t lat) {
    const at::Tensor smooth = smoothLatent(vae.config().latentChannels, lat, lat, 5);
    const at::Tensor a = vae.decodeToImage(smooth, TilingOptions::never());
    for (int passes : {0, 1}) {
        const at::Tensor b =
            vae.decodeToImage(smooth, TilingOptions::always(args.tile, args.overlap, passes));
        const at::Tensor diff = (a - b).abs();
        const at::Tensor d8 = (imageToUint8Hwc(a).to(at::kInt) - imageToUint8Hwc(b).to(at::kInt)).abs();
        fmt::print(
            "seam check (smooth latent, tile {} overlap {}, {} statistics pass{}): max |tiled - "
            "untiled| "
            "= {:.4f} (mean {:.5f}); uint8: max {} levels, {:.2f}% of pixels differ by more than 2\n",
            args.tile, args.overlap, passes, passes == 1 ? "" : "es", diff.max().item<double>(),
            diff.mean().item<double>(), d8.max().item<int>(),
            100.0 * (d8 > 2).to(at::kFloat).mean().item<double>());
    }
}

// --accuracy: the bf16 decode, with Winograd and with direct convolutions, against an fp32 decode.
void printAccuracy(const VaeBenchArgs& args, AutoencoderKl& vae, const VaeConfig& config,
                   at::ScalarType dtype, const VaeLoadOptions& load, int64_t lat, at::Generator& gen) {
    // The same bf16 weights, computed in fp32: the reference for both bf16 convolution paths.
    const auto reference = AutoencoderKl::load(randomWeightStore(vaeParameterShapes(config, false), dtype, 7,
                                                                 "random VAE", args.conditioned ? 2.0 : 0.02),
                                               at::kFloat, at::kCPU, load);
    const int64_t ch = config.latentChannels;
    const at::Tensor smooth = smoothLatent(ch, lat, lat, 5) + 0.3 * at::randn({1, ch, lat, lat}, gen);
    const at::Tensor expected = reference->decodeToImage(smooth, TilingOptions::never());
    const at::Tensor expected8 = imageToUint8Hwc(expected).to(at::kInt);
    fmt::print("accuracy against fp32 (image in [0, 1]: mean {:.3f}, std {:.3f}):\n",
               expected.mean().item<double>(), expected.std().item<double>());
    for (bool winograd : {true, false}) {
        WinogradConv3x3::setEnabled(winograd);
        const at::Tensor got = vae.decodeToImage(smooth, TilingOptions::never()).to(at::kFloat);
        const at::Tensor diff = (got - expected).abs();
        const at::Tensor d8 = (imageToUint8Hwc(got).to(at::kInt) - expected8).abs();
        fmt::print(
            "  bf16 {:<9} max |diff| {:.4f}  mean {:.5f}; uint8: max {} levels, mean {:.3f}, "
            "{:.2f}% of values off by more than 2\n",
            winograd ? "Winograd" : "direct", diff.max().item<double>(), diff.mean().item<double>(),
            d8.max().item<int>(), d8.to(at::kFloat).mean().item<double>(),
            100.0 * (d8 > 2).to(at::kFloat).mean().item<double>());
    }
    WinogradConv3x3::setEnabled(!args.directConv);
}

// --previews: the projection and TAESD previews of `latent`.
void timePreviews(const VaeBenchArgs& args, at::ScalarType dtype, const at::Tensor& latent, int64_t lat) {
    LatentPreviewer projection(PreviewMode::Projection);
    auto stats = timeRepeated([&] { projection.preview(latent); }, args.repeats, 1);
    fmt::print("preview projection  min {:.2f} ms  median {:.2f} ms  ({}x{} px)\n", stats.minMs,
               stats.medianMs, lat, lat);
    auto taesd = TaesdDecoder::load(
        randomWeightStore(taesdParameterShapes(16), dtype, 3, "random TAESD3", 0.02), dtype);
    LatentPreviewer tiny(PreviewMode::Taesd, nullptr, std::shared_ptr<TaesdDecoder>(std::move(taesd)));
    stats = timeRepeated([&] { tiny.preview(latent); }, args.repeats, 1);
    fmt::print("preview TAESD       min {:.0f} ms  median {:.0f} ms  ({}x{} px)\n", stats.minMs,
               stats.medianMs, args.size, args.size);
}

int runVaeBench(const VaeBenchArgs& args) {
    if (args.size % 8 != 0) throw CLI::ValidationError("--size", "must be a multiple of 8");
    const at::ScalarType dtype = parseBenchDtype(args.dtype);
    const VaeConfig config = args.model == "sdxl"   ? VaeConfig::sdxl()
                             : args.model == "sd15" ? VaeConfig::sd15()
                                                    : VaeConfig::sd3();
    if (args.previews && config.latentChannels != 16)
        throw CLI::ValidationError("--previews", "times the SD3 previews; use --model sd3");
    const int64_t lat = args.size / config.downsampleFactor();
    WinogradConv3x3::setEnabled(!args.directConv);
    fmt::print("{} VAE, random weights, {} threads, {}, {}x{} px (latent {}x{}), {}, {}, {}\n",
               args.model == "sd3"    ? "SD3"
               : args.model == "sdxl" ? "SDXL"
                                      : "SD 1.5",
               runtimeThreads(), args.dtype, args.size, args.size, lat, lat,
               args.nchw ? "NCHW" : "channels-last", args.plainUpsample ? "plain upsample" : "fused upsample",
               dtype == at::kBFloat16 && !args.directConv ? "Winograd 3x3 convs" : "direct 3x3 convs");
    const MatmulBackend backend = dnnl_backend::usable(dtype) ? MatmulBackend::OneDnn : MatmulBackend::Aten;
    fmt::print("matmul peak on this machine now (2048^3 {}, best of 5): {:.0f} GFLOP/s\n", args.dtype,
               matmulPeak(dtype, backend).wall);
    VaeLoadOptions load;
    load.config = config;
    load.withEncoder = args.encoder;
    load.channelsLast = !args.nchw;
    load.fusedUpsample = !args.plainUpsample;
    const auto before = currentRssBytes();
    const auto vae = AutoencoderKl::load(randomWeightStore(vaeParameterShapes(config, args.encoder), dtype, 7,
                                                           "random VAE", args.conditioned ? 2.0 : 0.02),
                                         dtype, at::kCPU, load);
    fmt::print("weights loaded: RSS {} (+{})\n", formatBytes(currentRssBytes()),
               formatBytes(currentRssBytes() - before));

    auto gen = at::detail::createCPUGenerator(11);
    const at::Tensor latent = at::randn({1, config.latentChannels, lat, lat}, gen);
    timeDecodes(args, *vae, latent, lat);
    fmt::print("matmul peak after the timed decodes: {:.0f} GFLOP/s\n", matmulPeak(dtype, backend).wall);

    if (args.profile) printDecodeProfile(*vae, latent);
    if (args.seam) printSeamCheck(args, *vae, lat);
    if (args.accuracy && dtype == at::kBFloat16) printAccuracy(args, *vae, config, dtype, load, lat, gen);
    if (args.encoder) {
        const at::Tensor image = at::rand({1, 3, args.size, args.size}, gen) * 2 - 1;
        const auto stats = timeRepeated([&] { vae->encode(image); }, args.repeats, 1);
        fmt::print("encode           min {:.0f} ms  median {:.0f} ms\n", stats.minMs, stats.medianMs);
    }
    if (args.previews) timePreviews(args, dtype, latent, lat);
    return 0;
}

}  // namespace

void addBenchVaeCommand(CLI::App& bench) {
    auto* cmd = bench.add_subcommand("vae",
                                     "SD3 / SDXL / SD 1.5 VAE decode (real architecture, random weights): "
                                     "time and peak memory, tiled and untiled; "
                                     "the seam of a tiled decode on a smooth latent; preview paths");
    auto args = std::make_shared<VaeBenchArgs>();
    addVaeOptions(cmd, *args);
    setAction(cmd, [args] { return runVaeBench(*args); });
}

}  // namespace swd::cli
