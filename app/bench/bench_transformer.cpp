// swd bench transformer: one forward of the real SD3.5 Medium (or Large, SD3 Medium) transformer with
// random weights loaded through the same loader as a checkpoint: time per latent size and context length,
// achieved GFLOP/s against this machine's measured matmul peak, peak memory over the weights, and where
// the time goes per operation kind (--profile).
#include "cli_common.h"
#include "fixtures/random_weights.h"
#include "kernels/dnnl_backend.h"
#include "models/mmdit.h"
#include "models/op_profile.h"
#include "util/runtime.h"
#include "util/stopwatch.h"

#include <c10/core/InferenceMode.h>
#include <fmt/format.h>

#include <malloc.h>

#include <algorithm>
#include <cmath>

namespace swd::cli {

namespace {

// Floating-point operations of one forward (matmuls and attention products; element-wise ops excluded).
double forwardFlops(const MMDiTConfig& c, int64_t batch, int64_t imageTokens, int64_t contextTokens) {
    const double H = c.hidden(), N = static_cast<double>(imageTokens), L = static_cast<double>(contextTokens);
    const double T = N + L;
    double f = 2 * N * (c.inChannels * c.patchSize * c.patchSize) * H;  // patch embedding
    f += 2 * L * c.jointAttentionDim * H;                               // context embedder
    f += 2 * (256 * H + H * H + c.pooledProjectionDim * H + H * H);     // timestep / pooled MLPs
    for (int i = 0; i < c.numLayers; ++i) {
        const bool last = c.contextPreOnly(i), dual = c.isDual(i);
        f += 2 * ((dual ? 9 : 6) + (last ? 2 : 6)) * H * H;  // adaLN
        f += 2 * N * 12 * H * H;                             // x: q, k, v, out, mlp
        f += 2 * L * (last ? 3 : 12) * H * H;                // context
        f += 4 * T * T * H;                                  // joint attention
        if (dual) f += 2 * N * 4 * H * H + 4 * N * N * H;    // attn2
    }
    f += 2 * 2 * H * H + 2 * N * H * (c.patchSize * c.patchSize * c.outChannels);  // final layer
    return f * static_cast<double>(batch);
}

std::vector<int> parseList(const std::string& s, const char* option) {
    std::vector<int> out;
    std::size_t start = 0;
    while (start <= s.size()) {
        const auto comma = s.find(',', start);
        const std::string item =
            s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        try {
            std::size_t used = 0;
            out.push_back(std::stoi(item, &used));
            if (used != item.size() || out.back() <= 0) throw std::invalid_argument(item);
        } catch (const std::exception&) {
            throw CLI::ValidationError(option,
                                       "expected positive integers separated by commas, got '" + s + "'");
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

struct TransformerBenchArgs {
    std::string model = "medium";
    std::string latents = "32,64";
    std::string contexts = "333";
    int batch = 1;
    std::string dtype = "bf16";
    std::string matmul = "auto";
    std::string attention = "auto";
    int repeats = 3;
    int loraRank = 0;
    bool profile = false;
    bool attentionOnly = false;
    bool prepared = false;
};

void addTransformerOptions(CLI::App* cmd, TransformerBenchArgs& args) {
    cmd->add_option("--model", args.model,
                    "medium (SD3.5 Medium, MMDiT-X), large (SD3.5 Large) or sd3 (SD3 Medium)")
        ->check(CLI::IsMember({"medium", "large", "sd3"}));
    cmd->add_option("--latent", args.latents,
                    "latent sides, comma separated (32 = 256 px, 64 = 512 px, 128 = 1024 px)");
    cmd->add_option(
        "--context", args.contexts,
        "context lengths, comma separated (333 = 77 + 256 T5 tokens as diffusers; 589 = 77 + 512 as SwD; "
        "154 = stable-diffusion.cpp's one chunk)");
    cmd->add_option("--batch", args.batch, "batch size (2 = classifier-free guidance)")
        ->check(CLI::Range(1, 16));
    cmd->add_option("--dtype", args.dtype, "bf16 (fast CPU path) or fp32")
        ->check(CLI::IsMember({"bf16", "fp32"}));
    cmd->add_option("--matmul", args.matmul, "auto, onednn or aten")
        ->check(CLI::IsMember({"auto", "onednn", "aten"}));
    cmd->add_option("--attention", args.attention, "auto, onednn, tiled or naive")
        ->check(CLI::IsMember({"auto", "onednn", "tiled", "naive"}));
    cmd->add_option("--repeats", args.repeats, "timed runs after one warm-up")->check(CLI::Range(1, 100));
    cmd->add_option("--lora-rank", args.loraRank,
                    "also time with a random LoRA of this rank on SwD's target modules (applied at run time)")
        ->check(CLI::Range(0, 1024));
    cmd->add_flag("--profile", args.profile, "time per operation kind (one extra run per size)");
    cmd->add_flag(
        "--prepared", args.prepared,
        "prepare the AdaLN modulations for the timestep first (MMDiT::prepareConditioning, as a sampler "
        "that knows its schedule does), so the forward skips the memory-bound AdaLN matmuls");
    cmd->add_flag("--attention-only", args.attentionOnly,
                  "time only the joint attention of one block at these sizes, with every attention backend");
}

MMDiTLoadOptions loadOptions(const TransformerBenchArgs& args, const MMDiTConfig& config) {
    MMDiTLoadOptions load;
    load.config = config;
    if (args.matmul == "onednn") load.matmul = MatmulBackend::OneDnn;
    if (args.matmul == "aten") load.matmul = MatmulBackend::Aten;
    if (args.attention == "onednn") load.attention = AttentionBackend::OneDnn;
    if (args.attention == "tiled") load.attention = AttentionBackend::Tiled;
    if (args.attention == "naive") load.attention = AttentionBackend::Naive;
    return load;
}

// --attention-only: the joint attention of one block per size, with every attention backend.
void runAttentionOnly(const TransformerBenchArgs& args, const MMDiTConfig& config, at::ScalarType dtype) {
    const int64_t heads = config.numHeads, D = config.headDim, H = config.hidden();
    for (int latent : parseList(args.latents, "--latent"))
        for (int context : parseList(args.contexts, "--context")) {
            const int64_t T = (latent / 2) * (latent / 2) + context, B = args.batch;
            // q, k, v as the model makes them: views of [B, T, hidden] buffers.
            auto make = [&] {
                return at::randn({B, T, H}).to(dtype).view({B, T, heads, D}).permute({0, 2, 1, 3});
            };
            const at::Tensor q = make(), k = make(), v = make();
            const double flops = 4.0 * B * heads * T * T * D;
            for (AttentionBackend backend :
                 {AttentionBackend::OneDnn, AttentionBackend::Tiled, AttentionBackend::Naive}) {
                if (backend == AttentionBackend::OneDnn && !dnnl_backend::usable(dtype)) continue;
                AttentionOptions o;
                o.backend = backend;
                at::Tensor outBuf = at::empty({B, T, heads, D}, q.options());
                o.out = outBuf.permute({0, 2, 1, 3});
                scaledDotProductAttention(q, k, v, o);
                const double cpu0 = profile::processCpuMs();
                const auto stats =
                    timeRepeated([&] { scaledDotProductAttention(q, k, v, o); }, args.repeats, 0);
                const double cpuMs = (profile::processCpuMs() - cpu0) / args.repeats;
                fmt::print(
                    "attention {} tokens x {} heads x {} ({}), {:<7}: min {:.1f} ms, median {:.1f} "
                    "ms, "
                    "{:.0f} GFLOP/s; CPU {:.1f} ms per call = {:.0f} GFLOP per CPU-second\n",
                    T, heads, D, args.dtype, attentionBackendName(backend), stats.minMs, stats.medianMs,
                    flops / (stats.minMs * 1e-3) / 1e9, cpuMs, flops / (cpuMs * 1e-3) / 1e9);
            }
        }
}

// The model with random weights, and what it and this machine are: weights, threads, backends, matmul peak.
std::unique_ptr<MMDiT> loadRandomModel(const TransformerBenchArgs& args, const MMDiTConfig& config,
                                       at::ScalarType dtype, const MMDiTLoadOptions& load,
                                       MatmulPeak& peakNow) {
    const auto rssStart = currentRssBytes();
    Stopwatch sw;
    // The random store is dropped after the load (its tensors are freed and trimmed), as a checkpoint's
    // mapping would be: the model then holds its packed weights only.
    auto model = MMDiT::load(randomWeightStore(MMDiT::expectedParameters(config, MMDiTLayout::Diffusers),
                                               dtype, 7, "random " + config.describe()),
                             dtype, at::kCPU, load);
    const auto loadPeak = peakRssBytes();
    malloc_trim(0);
    const auto weightBytes = model->parameterBytes();
    fmt::print("SD3 transformer '{}': {}\n", args.model, config.describe());
    fmt::print(
        "random weights {} ({}) made and loaded in {:.1f} s; RSS {} before, {} after (peak {} during "
        "the load: the random store and the packed copy)\n",
        formatBytes(weightBytes), args.dtype, sw.elapsedMs() / 1000.0, formatBytes(rssStart),
        formatBytes(currentRssBytes()), formatBytes(loadPeak));
    fmt::print(
        "{} threads, matmul {}, attention {}, oneDNN ISA {}\n", runtimeThreads(),
        matmulBackendName(model->matmulBackend()),
        attentionBackendName(model->attentionBackend() == AttentionBackend::Auto
                                 ? defaultAttentionBackend(at::empty({1}, at::TensorOptions().dtype(dtype)))
                                 : model->attentionBackend()),
        dnnl_backend::cpuIsa());
    peakNow = matmulPeak(dtype, model->matmulBackend());
    fmt::print(
        "matmul peak on this machine now (2048^3 {}, best of 5): {:.0f} GFLOP/s wall, {:.0f} GFLOP per "
        "CPU-second ({:.0f} x {} threads)\n",
        args.dtype, peakNow.wall, peakNow.cpu, peakNow.cpu * runtimeThreads(), runtimeThreads());
    return model;
}

// --lora-rank: a random LoRA on SwD's target modules (nullptr without one).
std::shared_ptr<LoraAdapter> randomLora(const TransformerBenchArgs& args, const MMDiTConfig& config) {
    std::shared_ptr<LoraAdapter> lora;
    if (args.loraRank > 0) {
        std::map<std::string, at::Tensor> factors;
        auto gen = at::detail::createCPUGenerator(3);
        for (const auto& [name, shape] : MMDiT::expectedParameters(config, MMDiTLayout::Diffusers)) {
            static const std::vector<std::string> targets = {".to_q.weight",       ".to_k.weight",
                                                             ".to_v.weight",       ".to_out.0.weight",
                                                             ".net.0.proj.weight", ".net.2.weight"};
            for (const auto& t : targets)
                if (name.size() > t.size() && name.compare(name.size() - t.size(), t.size(), t) == 0) {
                    const std::string module = name.substr(0, name.size() - 7);
                    factors[module + ".lora_A.weight"] = at::randn({args.loraRank, shape[1]}, gen) * 0.01;
                    factors[module + ".lora_B.weight"] = at::randn({shape[0], args.loraRank}, gen) * 0.01;
                }
        }
        lora = LoraAdapter::fromTensors(factors, args.loraRank, "random LoRA");
        fmt::print("random LoRA: rank {}, {} modules\n", args.loraRank, lora->modules().size());
    }
    return lora;
}

// One latent size and context length: the forward's inputs and its arithmetic.
struct SizeCase {
    int latent = 0, context = 0;
    int64_t B = 0, N = 0;  // batch, image tokens
    at::Tensor x, t, ctx, pooled;
    double flops = 0;
};

// --profile: one profiled forward, time per operation kind.
void printOpProfile(MMDiT& model, const SizeCase& s) {
    profile::reset();
    profile::setEnabled(true);
    Stopwatch total;
    const double cpuStart = profile::processCpuMs();
    model.forward(s.x, s.t, s.ctx, s.pooled);
    const double totalMs = total.elapsedMs(), totalCpu = profile::processCpuMs() - cpuStart;
    profile::setEnabled(false);
    double covered = 0, coveredCpu = 0;
    fmt::print("  {:<50} {:>9} {:>6} {:>9} {:>6} {:>6} {:>8} {:>11}\n", "op kind (one profiled forward)",
               "wall ms", "%", "cpu ms", "%", "calls", "GFLOP/s", "GFLOP/cpu-s");
    for (const auto& op : profile::snapshot()) {
        covered += op.ms;
        coveredCpu += op.cpuMs;
        const std::string gf = op.flops > 0 ? fmt::format("{:.0f}", op.flops / (op.ms * 1e-3) / 1e9) : "";
        const std::string gfc =
            op.flops > 0 && op.cpuMs > 0 ? fmt::format("{:.0f}", op.flops / (op.cpuMs * 1e-3) / 1e9) : "";
        fmt::print("  {:<50} {:>9.1f} {:>5.1f}% {:>9.1f} {:>5.1f}% {:>6} {:>8} {:>11}\n", op.name, op.ms,
                   100 * op.ms / totalMs, op.cpuMs, 100 * op.cpuMs / totalCpu, op.calls, gf, gfc);
    }
    fmt::print("  {:<50} {:>9.1f} {:>5.1f}% {:>9.1f} {:>5.1f}%\n",
               "rest (adaLN chunks, copies, embeddings, ...)", totalMs - covered,
               100 * (totalMs - covered) / totalMs, totalCpu - coveredCpu,
               100 * (totalCpu - coveredCpu) / totalCpu);
    fmt::print("  {:<50} {:>9.1f} {:>6} {:>9.1f}   (cpu ms / {} threads = {:.0f} ms)\n", "total", totalMs, "",
               totalCpu, runtimeThreads(), totalCpu / runtimeThreads());
    std::fflush(stdout);
}

// Timed forwards of one size (after a warm-up): wall and CPU time, GFLOP/s against the peak, peak RSS.
void measureForward(const TransformerBenchArgs& args, MMDiT& model, const SizeCase& s, const char* label,
                    const MatmulPeak& peakNow, std::uint64_t weightBytes) {
    const double peak = peakNow.wall;
    const double flops = s.flops;
    model.forward(s.x, s.t, s.ctx, s.pooled);  // warm-up (primitives, buffers)
    resetPeakRss();
    const auto base = currentRssBytes();
    const double cpu0 = profile::processCpuMs();
    const auto stats = timeRepeated([&] { model.forward(s.x, s.t, s.ctx, s.pooled); }, args.repeats, 0);
    const double cpuPerRun = (profile::processCpuMs() - cpu0) / args.repeats;
    const auto peakRss = peakRssBytes();
    fmt::print(
        "latent {}x{} ({} image tokens) + context {}, batch {}{}: min {:.0f} ms, median "
        "{:.0f} "
        "ms, max {:.0f} ms; {:.0f} GFLOP -> {:.0f} GFLOP/s = {:.0f}% of the matmul peak; "
        "peak RSS {} (weights {}, +{} over the RSS before the runs)\n",
        s.latent, s.latent, s.N, s.context, s.B, label, stats.minMs, stats.medianMs, stats.maxMs, flops / 1e9,
        flops / (stats.minMs * 1e-3) / 1e9, 100.0 * flops / (stats.minMs * 1e-3) / 1e9 / peak,
        formatBytes(peakRss), formatBytes(weightBytes), formatBytes(peakRss > base ? peakRss - base : 0));
    fmt::print(
        "    CPU time per forward {:.0f} ms ({:.0f} GFLOP per CPU-second = {:.0f}% of the "
        "matmul's "
        "{:.0f}; / {} threads = {:.0f} ms)\n",
        cpuPerRun, flops / (cpuPerRun * 1e-3) / 1e9, 100.0 * flops / (cpuPerRun * 1e-3) / 1e9 / peakNow.cpu,
        peakNow.cpu, runtimeThreads(), cpuPerRun / runtimeThreads());
    std::fflush(stdout);
    if (!args.profile) return;
    printOpProfile(model, s);
}

// --prepared / --lora-rank: base and variants of one size, interleaved run by run.
void runInterleavedVariants(const TransformerBenchArgs& args, MMDiT& model, const SizeCase& s,
                            const std::shared_ptr<LoraAdapter>& lora) {
    // The variants interleaved run by run, so that other load on the machine hits them alike.
    struct Variant {
        std::string label;
        bool prepared = false, withLora = false;
        std::vector<double> wallMs, cpuMs;
    };
    std::vector<Variant> variants = {{"base", false, false, {}, {}}};
    if (args.prepared) variants.push_back({"AdaLN prepared", true, false, {}, {}});
    if (lora)
        variants.push_back({fmt::format("LoRA rank {} at run time", args.loraRank), false, true, {}, {}});
    for (int rep = 0; rep <= args.repeats; ++rep) {
        for (auto& v : variants) {
            model.setAdapter(v.withLora ? lora : nullptr);
            if (v.prepared) {
                model.prepareConditioning(s.t.narrow(0, 0, 1), s.pooled);
            } else {
                model.clearConditioning();
            }
            Stopwatch sw;
            const double cpu0 = profile::processCpuMs();
            model.forward(s.x, s.t, s.ctx, s.pooled);
            if (rep == 0) continue;  // warm-up round
            v.wallMs.push_back(sw.elapsedMs());
            v.cpuMs.push_back(profile::processCpuMs() - cpu0);
        }
    }
    model.setAdapter(nullptr);
    model.clearConditioning();
    const double baseCpu = *std::min_element(variants[0].cpuMs.begin(), variants[0].cpuMs.end());
    for (const auto& v : variants) {
        const double wall = *std::min_element(v.wallMs.begin(), v.wallMs.end());
        const double cpu = *std::min_element(v.cpuMs.begin(), v.cpuMs.end());
        fmt::print(
            "    interleaved x{}: {:<28} min {:.0f} ms wall, min CPU {:.0f} ms ({:+.1f}% vs "
            "base)\n",
            args.repeats, v.label, wall, cpu, 100.0 * (cpu - baseCpu) / baseCpu);
    }
    std::fflush(stdout);
}

int runTransformerBench(const TransformerBenchArgs& args) {
    c10::InferenceMode inference;
    const at::ScalarType dtype = parseBenchDtype(args.dtype);
    const MMDiTConfig config = args.model == "medium"  ? MMDiTConfig::sd35Medium()
                               : args.model == "large" ? MMDiTConfig::sd35Large()
                                                       : MMDiTConfig::sd3Medium();
    const auto latents = parseList(args.latents, "--latent");
    const auto contexts = parseList(args.contexts, "--context");
    const MMDiTLoadOptions load = loadOptions(args, config);

    if (args.attentionOnly) {
        runAttentionOnly(args, config, dtype);
        return 0;
    }

    MatmulPeak peakNow;
    auto model = loadRandomModel(args, config, dtype, load, peakNow);
    const auto weightBytes = model->parameterBytes();
    const std::shared_ptr<LoraAdapter> lora = randomLora(args, config);

    auto gen = at::detail::createCPUGenerator(11);
    for (int latent : latents) {
        for (int context : contexts) {
            SizeCase s;
            s.latent = latent;
            s.context = context;
            s.B = args.batch;
            s.N = (latent / 2) * (latent / 2);
            s.x = at::randn({s.B, 16, latent, latent}, gen);
            s.t = at::full({s.B}, 750.0f);
            s.ctx = at::randn({s.B, context, config.jointAttentionDim}, gen);
            s.pooled = at::randn({s.B, config.pooledProjectionDim}, gen);
            s.flops = forwardFlops(config, s.B, s.N, context);
            model->setAdapter(nullptr);
            model->clearConditioning();
            measureForward(args, *model, s, "", peakNow, weightBytes);
            if (!args.prepared && !lora) continue;
            runInterleavedVariants(args, *model, s, lora);
        }
    }
    return 0;
}

}  // namespace

void addBenchTransformerCommand(CLI::App& bench) {
    auto* cmd = bench.add_subcommand(
        "transformer",
        "One MMDiT forward (real SD3.5 Medium / Large / SD3 architecture, random weights): time, "
        "GFLOP/s against the measured matmul peak, peak memory, time per op kind (--profile)");
    auto args = std::make_shared<TransformerBenchArgs>();
    addTransformerOptions(cmd, *args);
    setAction(cmd, [args] { return runTransformerBench(*args); });
}

}  // namespace swd::cli
