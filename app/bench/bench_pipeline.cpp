// swd bench (no subcommand): the whole pipeline, SwD against full resolution on one model: per-step ms
// at each scale, text encoding, VAE decode, total, peak memory, and the SwD / full-resolution ratio.
#include "cli_common.h"
#include "fixtures/random_model.h"
#include "io/safetensors.h"
#include "model_choice.h"
#include "pipeline/engine.h"
#include "sampling/preset_library.h"
#include "util/device.h"
#include "util/error.h"
#include "util/runtime.h"
#include "util/stopwatch.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include <unistd.h>

namespace swd::cli {

namespace fs = std::filesystem;

namespace {

struct BenchArgs {
    ModelArgs model;
    std::string randomFamily;  // "sd3.5-medium" / "sd3.5-large": real architecture, random weights
    std::string preset = "swd-2b-6step";
    std::string fullPreset;
    int fullSteps = 0;  // run only this many full-resolution steps and extrapolate (0: all)
    bool skipFull = false;
    std::string prompt = "a photograph of a lighthouse on a cliff at dusk, dramatic clouds";
    std::uint64_t seed = 1;
    std::string device = "cpu";
    std::string textDevice;
    std::string precision = "auto";
    bool noT5 = false;
    bool releaseText = false;
    int adapterRank = 64;
    std::string json;
};

nlohmann::json printRun(const GenerationResult& r, const Schedule& full, bool extrapolated) {
    fmt::print("\n{} ({}, {} of {} steps{}):\n", r.request.label, r.request.schedule.name, r.completedSteps,
               full.stepCount(), extrapolated ? ", the rest extrapolated" : "");
    fmt::print("  {:>4}  {:>5}  {:>6}  {:>7}  {:>10}  {:>10}\n", "step", "scale", "image", "tokens", "ms",
               "model ms");
    nlohmann::json steps = nlohmann::json::array();
    for (const auto& s : r.steps) {
        const int tokens = (s.scale / 2) * (s.scale / 2) + 77 + r.request.schedule.t5Length;
        fmt::print("  {:>4}  {:>5}  {:>6}  {:>7}  {:>10.0f}  {:>10.0f}\n", s.index + 1, s.scale, s.scale * 8,
                   tokens, s.ms, s.modelMs);
        steps.push_back({{"step", s.index + 1},
                         {"scale", s.scale},
                         {"tokens", tokens},
                         {"ms", s.ms},
                         {"model_ms", s.modelMs}});
    }
    double sampling = r.timings.samplingMs;
    if (extrapolated && !r.steps.empty()) {
        double sum = 0;
        for (const auto& s : r.steps) sum += s.ms;
        sampling =
            sum / static_cast<double>(r.steps.size()) * full.stepCount();  // every step costs the same here
    }
    const double total = r.timings.textMs + sampling + r.timings.decodeMs;
    fmt::print(
        "  text encoding {:.0f} ms, sampling {:.0f} ms{}, VAE decode {:.0f} ms, total {:.0f} ms (+ loading "
        "{:.0f} ms); peak RSS {}{}\n",
        r.timings.textMs, sampling, extrapolated ? " (extrapolated)" : "", r.timings.decodeMs, total,
        r.timings.loadMs, formatBytes(r.timings.peakRssBytes),
        r.timings.peakGpuBytes ? ", peak VRAM " + formatBytes(r.timings.peakGpuBytes) : std::string());
    return {{"label", r.request.label},
            {"schedule", r.request.schedule.name},
            {"steps", steps},
            {"text_ms", r.timings.textMs},
            {"sampling_ms", sampling},
            {"decode_ms", r.timings.decodeMs},
            {"total_ms", total},
            {"load_ms", r.timings.loadMs},
            {"peak_rss_bytes", r.timings.peakRssBytes},
            {"peak_gpu_bytes", r.timings.peakGpuBytes},
            {"extrapolated", extrapolated}};
}

// Removed however the bench ends.
struct ScratchFolder {
    fs::path path;
    ~ScratchFolder() {
        std::error_code ec;
        if (!path.empty()) fs::remove_all(path, ec);
    }
};

// The SwD preset, the full-resolution counterpart at the same final size, and with --full-steps the
// shortened full-resolution run next to the plan it is extrapolated to.
struct BenchSchedules {
    Schedule swd, full, fullPlan;
    bool extrapolate = false;
};

BenchSchedules pickSchedules(const BenchArgs& a) {
    const auto library = PresetLibrary::builtin();
    BenchSchedules s;
    s.swd = library.get(a.preset);
    s.full = library.get(!a.fullPreset.empty()        ? a.fullPreset
                         : !s.swd.compareWith.empty() ? s.swd.compareWith
                                                      : "sd35-medium-full");
    s.full.scales.assign(s.full.scales.size(), s.swd.finalScale());  // same final size
    s.fullPlan = s.full;
    s.extrapolate = a.fullSteps > 0 && a.fullSteps < s.full.stepCount();
    if (s.extrapolate) {
        s.full.scales.resize(static_cast<std::size_t>(a.fullSteps));
        s.full.sigmas.resize(static_cast<std::size_t>(a.fullSteps));
        s.full.sigmas.push_back(0.0);
        s.full.steps.reset();
    }
    return s;
}

// Random weights of a real architecture, held in memory (the session's engine alone holds them and drops
// each component's once loaded). Released text encoders can only give their memory back when they came
// from files (as real ones do): with --release-text they are written to `scratch` and loaded from there.
ModelSet randomWeightModels(BenchArgs& a, Precision precision, EngineOptions& options,
                            ScratchFolder& scratch) {
    const auto family = modelFamilyFromId(a.randomFamily);
    if (!family) throwBadInput("--random-weights '{}': use sd3.5-medium or sd3.5-large", a.randomFamily);
    RandomModel rm =
        makeRandomModel(*family, componentDtype(precision, parseDevice(a.device), Component::Transformer),
                        !a.noT5, a.adapterRank);
    ModelSet set = rm.set;
    if (a.releaseText) {
        scratch.path = fs::temp_directory_path() / fmt::format("swd-bench-text-{}", ::getpid());
        fs::create_directories(scratch.path);
        auto toFile = [&](const std::string& role, fs::path& path, const char* name) {
            const auto it = rm.weights.stores.find(role);
            if (it == rm.weights.stores.end()) return;
            std::vector<std::pair<std::string, at::Tensor>> tensors;
            for (const auto& n : it->second.names()) tensors.emplace_back(n, it->second.get(n));
            path = scratch.path / name;
            saveSafetensors(path, tensors);
            rm.weights.stores.erase(it);
        };
        toFile("clip_l", set.clipL, "clip_l.safetensors");
        toFile("clip_g", set.clipG, "clip_g.safetensors");
        toFile("t5", set.t5, "t5xxl.safetensors");
        fmt::print("random text encoders written to {} (removed at the end)\n", scratch.path.string());
    }
    options.weights = WeightSource(std::move(rm.weights));
    return set;
}

// Both runs on one session, each printed and added to the JSON report.
void runBoth(const BenchArgs& a, Precision precision, Session& session, const ModelSet& set,
             const BenchSchedules& schedules) {
    CancelToken cancel;
    auto request = [&](const Schedule& s) {
        GenerationRequest r;
        r.prompt = a.prompt;
        r.seed = a.seed;
        r.schedule = s;
        r.device = a.device;
        r.precision = precision;
        r.preview = PreviewMode::Off;
        r.useAdapter = s.sampler == SamplerKind::ScaleWise;
        r.label = s.sampler == SamplerKind::ScaleWise ? "SwD" : "Full resolution";
        return r;
    };
    Stopwatch loadClock;
    session.engineFor(set, request(schedules.swd)).load();
    fmt::print("models loaded in {:.1f} s; RSS {}\n", loadClock.elapsedMs() / 1000,
               formatBytes(currentRssBytes()));
    // What stays resident between runs (the policy's steady state), besides the peak during the run.
    auto residentAfter = [](nlohmann::json& run) {
        const std::uint64_t rss = currentRssBytes();
        fmt::print("  RSS after the run {}\n", formatBytes(rss));
        run["rss_after_bytes"] = rss;
    };
    const GenerationResult swdRun = session.run(set, request(schedules.swd), nullptr, cancel);
    nlohmann::json report = {{"model", set.displayName}, {"threads", runtimeThreads()}};
    report["swd"] = printRun(swdRun, schedules.swd, false);
    residentAfter(report["swd"]);
    if (!a.skipFull) {
        const GenerationResult fullRun = session.run(set, request(schedules.full), nullptr, cancel);
        report["full_resolution"] = printRun(fullRun, schedules.fullPlan, schedules.extrapolate);
        residentAfter(report["full_resolution"]);
        const double ratio =
            report["full_resolution"]["total_ms"].get<double>() / report["swd"]["total_ms"].get<double>();
        report["full_over_swd"] = ratio;
        fmt::print("\nfull resolution / SwD: {:.1f}x\n", ratio);
    }
    if (!a.json.empty()) std::ofstream(a.json) << report.dump(2) << "\n";
}

void runBenchPipeline(BenchArgs& a) {
    const BenchSchedules schedules = pickSchedules(a);
    const auto precision = precisionFromName(a.precision);
    if (!precision) throwBadInput("--precision '{}': use auto, bf16, fp16 or fp32", a.precision);
    SessionOptions sessionOptions = cliSessionOptions(a.model);
    EngineOptions& options = sessionOptions.engine;
    options.textDevice = a.textDevice;
    options.loadT5 = !a.noT5;
    options.releaseTextEncoders = a.releaseText;
    ScratchFolder scratch;
    Stopwatch prep;
    ModelSet set;
    if (!a.randomFamily.empty()) set = randomWeightModels(a, *precision, options, scratch);
    // One session finds the user's model and runs it (made after the random weights are in its options).
    Session session(std::move(sessionOptions));
    if (a.randomFamily.empty()) set = resolveModels(session, a.model, schedules.swd).set;
    const double prepMs = prep.elapsedMs();
    fmt::print(
        "swd bench: {} on {}, {}, T5 {}, text encoders {}; RSS after weights {}{}\n", set.displayName,
        a.device, a.precision, a.noT5 ? "off" : "on", a.releaseText ? "released after use" : "kept",
        formatBytes(currentRssBytes()),
        a.randomFamily.empty() ? "" : fmt::format(" (random weights made in {:.1f} s)", prepMs / 1000));
    runBoth(a, *precision, session, set, schedules);
}

}  // namespace

void addBenchPipeline(CLI::App& bench) {
    auto a = std::make_shared<BenchArgs>();
    addModelOptions(&bench, a->model);
    bench.add_option("--random-weights", a->randomFamily,
                     "use the real architecture of this family with random weights instead of a model: "
                     "sd3.5-medium or sd3.5-large");
    bench.add_option("--preset", a->preset, "SwD preset")->capture_default_str();
    bench.add_option("--full-preset", a->fullPreset,
                     "full-resolution preset (default: the preset's counterpart)");
    bench.add_option(
        "--full-steps", a->fullSteps,
        "run only this many full-resolution steps and extrapolate the rest (they all cost the same)");
    bench.add_flag("--skip-full", a->skipFull, "do not run full resolution");
    bench.add_option("--prompt", a->prompt, "prompt");
    bench.add_option("--seed", a->seed, "seed");
    bench.add_option("--device", a->device, "device of the transformer and VAE")->capture_default_str();
    bench.add_option("--text-device", a->textDevice, "device of the text encoders (default: --device)");
    bench.add_option("--precision", a->precision, "auto, bf16, fp16 (CUDA) or fp32")->capture_default_str();
    bench.add_flag("--no-t5", a->noT5, "leave T5-XXL out (memory policy)");
    bench.add_flag("--release-text", a->releaseText, "free the text encoders after encoding (memory policy)");
    bench.add_option("--adapter-rank", a->adapterRank, "rank of the random adapter with --random-weights")
        ->capture_default_str();
    bench.add_option("--json", a->json, "also write the numbers as JSON to this file");
    bench.callback([a, &bench] {
        if (!bench.get_subcommands().empty()) return;  // a component benchmark ran instead
        runBenchPipeline(*a);
    });
}

}  // namespace swd::cli
