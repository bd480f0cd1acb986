// swd generate | compare | make-demo-model: runs of the engine from the command line.
#include "cli_common.h"
#include "cli_signals.h"
#include "family/family.h"
#include "fixtures/demo_model.h"
#include "image/image_io.h"
#include "image/image_ops.h"
#include "model_choice.h"
#include "models/latent_preview.h"
#include "pipeline/engine.h"
#include "progress_printer.h"
#include "sampling/preset_library.h"
#include "session/run_output.h"
#include "util/device.h"
#include "util/error.h"
#include "util/runtime.h"

#include <fmt/format.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>

namespace swd::cli {

namespace fs = std::filesystem;

namespace {

struct RunArgs {
    ModelArgs model;
    std::string preset;
    std::string scheduleFile;
    std::string prompt;
    std::string negative;
    std::string seedText = "0";
    std::uint64_t seed = 0;  // parsed from seedText by checkRunArgs
    std::string out = "swd-output";
    bool stepsOut = false;
    std::string format = "png";
    int batch = 1;
    std::string device = "cpu";
    std::string precision = "auto";
    std::string preview = "auto";
    std::optional<int> t5Length;
    std::optional<double> guidance;
    bool noT5 = false;
    bool quiet = false;
    bool verbose = false;
    bool forStrips = false;  // compare: step strips need step images

    Verbosity verbosity() const {
        return quiet ? Verbosity::Quiet : verbose ? Verbosity::Verbose : Verbosity::Normal;
    }
};

// A seed as users type it: decimal digits only (a leading zero does not make it octal), 0 to 2^64-1.
// CLI11's own conversion wraps -1 and clamps 2^64 silently; a seed that is not the one asked for makes
// the run unrepeatable, so anything else is refused.
std::uint64_t parseSeed(const std::string& text) {
    bool fits =
        !text.empty() && text.size() <= 20 && text.find_first_not_of("0123456789") == std::string::npos;
    std::uint64_t value = 0;
    for (std::size_t i = 0; fits && i < text.size(); ++i) {
        const auto digit = static_cast<std::uint64_t>(text[i] - '0');
        fits = value <= (std::numeric_limits<std::uint64_t>::max() - digit) / 10;
        value = value * 10 + digit;
    }
    if (!fits)
        throwBadInput("--seed '{}': a seed is a whole number from 0 to 18446744073709551615",
                      text.size() > 40 ? text.substr(0, 40) + "..." : text);
    return value;
}

// CLI11's Range lets NaN through (every comparison with NaN is false).
CLI::Validator finiteRange(double low, double high) {
    return CLI::Validator(
        [low, high](std::string& text) -> std::string {
            double v = 0;
            if (!CLI::detail::lexical_cast(text, v) || !std::isfinite(v) || v < low || v > high)
                return fmt::format("must be a finite number from {} to {}, got '{}'", low, high,
                                   text.size() > 40 ? text.substr(0, 40) + "..." : text);
            return {};
        },
        fmt::format("FLOAT in [{} - {}]", low, high));
}

void addRunOptions(CLI::App* cmd, RunArgs& a) {
    addModelOptions(cmd, a.model);
    cmd->add_option("--preset", a.preset, "schedule preset id or name (see 'swd presets list')");
    cmd->add_option("--schedule", a.scheduleFile, "schedule JSON file (instead of a preset)");
    cmd->add_option("--prompt", a.prompt, "the prompt")->required();
    cmd->add_option("--negative", a.negative, "negative prompt (used only when guidance > 1)");
    cmd->add_option("--seed", a.seedText, "seed, 0 to 2^64-1 (image i of a batch uses seed + i)")
        ->capture_default_str();
    cmd->add_option("--out", a.out, "output folder (created when missing)")->capture_default_str();
    cmd->add_flag("--steps-out", a.stepsOut, "also write every step's decoded x0");
    cmd->add_option("--format", a.format, "png, png16, jpg, tiff or exr")->capture_default_str();
    cmd->add_option("--batch", a.batch, "images per run, 1 to 64")->check(CLI::Range(1, 64));
    cmd->add_option("--device", a.device, "cpu, cuda or cuda:N")->capture_default_str();
    cmd->add_option("--precision", a.precision, "auto, bf16, fp16 (CUDA only) or fp32")
        ->capture_default_str();
    cmd->add_option("--preview", a.preview,
                    "step images: vae (decoded x0), taesd, projection (latent to RGB) or off; auto: vae with "
                    "--steps-out and in compare, else off")
        ->capture_default_str();
    cmd->add_option("--t5-length", a.t5Length,
                    "T5 tokens, 1 to 512 (default: the preset's; 512 for SwD, 256 full resolution)")
        ->check(CLI::Range(1, 512));
    cmd->add_option("--guidance", a.guidance, "CFG scale, 0 to 100 (default: the preset's)")
        ->check(finiteRange(0.0, 100.0));
    cmd->add_flag("--no-t5", a.noT5, "run without T5-XXL (its part of the context is zeros; saves ~9.5 GB)");
    auto* quiet = cmd->add_flag(
        "--quiet,-q", a.quiet, "print only the written files, one path per line (errors still go to stderr)");
    cmd->add_flag("--verbose,-v", a.verbose, "also print each stage's detail and each step's model time")
        ->excludes(quiet);
}

Schedule pickSchedule(const RunArgs& a, const std::string& fallbackPreset) {
    Schedule s = a.scheduleFile.empty()
                     ? PresetLibrary::builtin().get(a.preset.empty() ? fallbackPreset : a.preset)
                     : loadScheduleFile(a.scheduleFile);
    if (a.t5Length) s.t5Length = *a.t5Length;
    if (a.guidance) s.guidance = *a.guidance;
    if (!a.model.adapter.empty() && s.adapter.empty())
        throwBadInput(
            "--adapter {}: {} runs the base model (its \"adapter\" is \"\"); name the adapter in "
            "the schedule, or leave out --adapter",
            a.model.adapter, a.scheduleFile.empty() ? "preset '" + s.name + "'" : a.scheduleFile);
    return s;
}

// Every problem of the run's schedule (overrides applied) is reported before a model loads.
void requireValidSchedule(const RunArgs& a, const Schedule& s) {
    const auto issues = validateForFamily(s);
    if (issues.empty()) return;
    std::string text;
    for (const auto& issue : issues) text += "\n  " + issue.toString();
    throwBadInput("{}: the schedule cannot run:{}",
                  a.scheduleFile.empty() ? fmt::format("preset '{}'", s.name) : a.scheduleFile, text);
}

// The output folder exists (or is created) and takes new files: checked before the run, not after it.
void requireWritableFolder(const fs::path& folder) {
    std::error_code ec;
    fs::create_directories(folder, ec);
    if (!fs::is_directory(folder))
        throwBadInput("--out {}: not a folder, and it cannot be created{}", folder.string(),
                      ec ? " (" + ec.message() + ")" : std::string());
    if (::access(folder.c_str(), W_OK | X_OK) != 0)
        throwBadInput("--out {}: the folder is not writable ({})", folder.string(), std::strerror(errno));
    removeStaleTemporaryImages(folder);  // left by a run that was killed while writing
}

ImageFormat parseFormat(const std::string& f) {
    const auto format = imageFormatFromId(f);
    if (!format) throwBadInput("--format '{}': use png, png16, jpg, tiff or exr", f);
    return *format;
}

// Everything the user typed is checked before a model is loaded: a mistake costs no sampling time.
void checkRunArgs(RunArgs& a) {
    a.seed = parseSeed(a.seedText);
    parseFormat(a.format);
    if (!precisionFromName(a.precision))
        throwBadInput("--precision '{}': use auto, bf16, fp16 or fp32", a.precision);
    if (a.preview != "auto") parsePreviewMode(a.preview);
    parseDevice(a.device);
    requireWritableFolder(a.out);
}

// What a run is called in progress lines: the few-step method (SwD, SiD) or "Full resolution".
const char* runLabel(SamplerKind sampler) {
    switch (sampler) {
        case SamplerKind::ScaleWise:
            return "SwD";
        case SamplerKind::Sid:
            return "SiD";
        case SamplerKind::FlowEuler:
        case SamplerKind::EulerDiscrete:
            break;
    }
    return "Full resolution";
}

GenerationRequest makeRequest(const RunArgs& a, const Schedule& s) {
    GenerationRequest r;
    r.prompt = a.prompt;
    r.negativePrompt = a.negative;
    r.seed = a.seed;
    r.schedule = s;
    r.batchSize = a.batch;
    r.device = a.device;
    r.precision = *precisionFromName(a.precision);
    r.preview = a.preview == "auto" ? (a.stepsOut || a.forStrips ? PreviewMode::FullVae : PreviewMode::Off)
                                    : parsePreviewMode(a.preview);
    r.useAdapter = s.sampler == SamplerKind::ScaleWise;
    r.label = runLabel(s.sampler);
    return r;
}

// The session of one command: the --folder folders, T5 as asked.
SessionOptions sessionOptions(const RunArgs& a) {
    SessionOptions o = cliSessionOptions(a.model);
    o.engine.loadT5 = !a.noT5;
    return o;
}

// Writes the run's images and, with --steps-out, every finished step's image into `folder`; prints each
// written path on stdout (the only output of --quiet). A cancelled run writes the steps it finished.
std::vector<fs::path> writeRun(const GenerationResult& r, const fs::path& folder, const std::string& prefix,
                               ImageFormat format, bool stepsOut) {
    RunOutput output;
    output.folder = folder;
    output.format = format;
    output.prefix = prefix;
    output.stepImages = stepsOut;
    std::vector<fs::path> images;
    for (const WrittenImage& w : writeResult(r, output)) {
        if (!w.image.empty()) {
            images.push_back(w.image);
            std::printf("%s\n", w.image.c_str());
        }
        if (!w.steps.empty()) std::printf("%s/\n", w.steps.c_str());
    }
    std::fflush(stdout);
    return images;
}

RgbImage8 stepStrip(const GenerationResult& r, int height) {
    std::vector<RgbImage8> thumbs;
    for (const auto& s : r.steps)
        if (!s.images.empty()) thumbs.push_back(s.images.front());
    if (thumbs.empty()) return {};
    return composeRow(thumbs, height);
}

nlohmann::json runReport(const GenerationResult& r, const std::vector<fs::path>& files) {
    nlohmann::json steps = nlohmann::json::array();
    for (const auto& s : r.steps)
        steps.push_back({{"step", s.index + 1},
                         {"scale", s.scale},
                         {"sigma", s.sigma},
                         {"timestep", s.timestep},
                         {"ms", s.ms},
                         {"model_ms", s.modelMs}});
    std::vector<std::string> names;
    for (const auto& f : files) names.push_back(f.filename().string());
    return {{"label", r.request.label},
            {"schedule", r.request.schedule.name},
            {"sampler", samplerId(r.request.schedule.sampler)},
            {"guidance", r.request.schedule.guidance},
            {"adapter", r.provenance.adapterName},
            {"steps", steps},
            {"text_ms", r.timings.textMs},
            {"sampling_ms", r.timings.samplingMs},
            {"decode_ms", r.timings.decodeMs},
            {"load_ms", r.timings.loadMs},
            {"total_ms", r.timings.totalMs},
            {"total_without_load_ms", r.timings.totalMs - r.timings.loadMs},
            {"peak_rss_bytes", r.timings.peakRssBytes},
            {"cancelled", r.cancelled},
            {"images", names}};
}

void writeText(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::trunc);
    out << text;
    if (!out) throwBadInput("{}: cannot write", path.string());
}

// swd generate: one run of a preset, its images (and steps) written.
int runGenerate(RunArgs& a) {
    checkRunArgs(a);
    const ImageFormat format = parseFormat(a.format);
    const Schedule s = pickSchedule(a, "swd-2b-6step");
    requireValidSchedule(a, s);
    ProgressPrinter progress(a.verbosity());
    Session session(sessionOptions(a));
    const ResolvedModels models = resolveModels(session, a.model, s);
    if (!models.note.empty()) progress.note(models.note);
    progress.note(fmt::format("{} with {}, seed {}", s.name, models.set.displayName, a.seed));
    CancelToken cancel;
    GenerationResult r;
    {
        InterruptCancels interrupt(cancel);
        r = session.run(models.set, makeRequest(a, s), &progress, cancel);
    }
    writeRun(r, a.out,
             s.sampler == SamplerKind::ScaleWise ? "swd"
             : s.sampler == SamplerKind::Sid     ? "sid"
                                                 : "full",
             format, a.stepsOut);
    if (r.cancelled) {
        progress.note(fmt::format("cancelled after {} of {} steps{}", r.completedSteps, s.stepCount(),
                                  a.stepsOut && r.completedSteps > 0 ? " (finished steps written)" : ""));
        return kExitInterrupted;
    }
    progress.note(fmt::format(
        "done: {:.2f} s (text {:.2f} s, sampling {:.2f} s, decode {:.2f} s, load {:.2f} s), peak {}",
        r.timings.totalMs / 1000, r.timings.textMs / 1000, r.timings.samplingMs / 1000,
        r.timings.decodeMs / 1000, r.timings.loadMs / 1000, formatBytes(r.timings.peakRssBytes)));
    return 0;
}

void addGenerateCommand(CLI::App& app) {
    auto* gen = app.add_subcommand("generate", "Generate images with a preset (SwD or full resolution)");
    auto ga = std::make_shared<RunArgs>();
    addRunOptions(gen, *ga);
    setAction(gen, [ga] { return runGenerate(*ga); });
}

// swd compare: the SwD run and the full-resolution run of one prompt and seed, then what compare writes
// (both runs, side-by-side and difference images, step strips, report.json).
int runCompare(RunArgs& ca, const std::string& fullPreset) {
    checkRunArgs(ca);
    const ImageFormat format = parseFormat(ca.format);
    const Schedule swdSchedule = pickSchedule(ca, "swd-2b-6step");
    requireValidSchedule(ca, swdSchedule);
    std::string fullId = fullPreset;
    if (fullId.empty())
        fullId = swdSchedule.compareWith.empty() ? "sd35-medium-full" : swdSchedule.compareWith;
    Schedule fullSchedule = PresetLibrary::builtin().get(fullId);
    // Both finals at one size: full resolution runs at the SwD schedule's last scale.
    fullSchedule.scales.assign(fullSchedule.scales.size(), swdSchedule.finalScale());
    ProgressPrinter progress(ca.verbosity());
    Session session(sessionOptions(ca));
    const ResolvedModels models = resolveModels(session, ca.model, swdSchedule);
    if (!models.note.empty()) progress.note(models.note);
    CancelToken cancel;
    GenerationResult swdRun, fullRun;
    {
        InterruptCancels interrupt(cancel);
        swdRun = session.run(models.set, makeRequest(ca, swdSchedule), &progress, cancel);
        if (!swdRun.cancelled)
            fullRun = session.run(models.set, makeRequest(ca, fullSchedule), &progress, cancel);
    }
    if (swdRun.cancelled || fullRun.cancelled || swdRun.images.empty() || fullRun.images.empty()) {
        progress.note("cancelled: nothing written (a comparison needs both finished runs)");
        return kExitInterrupted;
    }

    const fs::path folder = nextImagePath(ca.out, "compare", format).replace_extension("");
    fs::create_directories(folder);
    const auto swdFiles = writeRun(swdRun, folder, "swd", format, ca.stepsOut);
    const auto fullFiles = writeRun(fullRun, folder, "full", format, ca.stepsOut);
    const RgbImage8 a = swdRun.images.front().toRgb8(), b = fullRun.images.front().toRgb8();
    const auto writeExtra = [&](const char* name, const RgbImage8& image) {
        if (image.empty()) return;
        std::printf("%s\n", writeImage(folder / name, toFloatImage(image), {}, {ImageFormat::Png8}).c_str());
    };
    writeExtra("side-by-side.png", composeRow({a, b}, a.height));
    writeExtra("difference.png", differenceImage(a, b));
    writeExtra("swd-steps.png", stepStrip(swdRun, 128));
    writeExtra("full-steps.png", stepStrip(fullRun, 128));

    const double swdMs = swdRun.timings.totalMs - swdRun.timings.loadMs;
    const double fullMs = fullRun.timings.totalMs - fullRun.timings.loadMs;
    const double p = psnr(a, b);
    nlohmann::json report = {{"prompt", ca.prompt},
                             {"seed", ca.seed},
                             {"model", models.set.displayName},
                             {"demo_model", models.demo},
                             {"swd", runReport(swdRun, swdFiles)},
                             {"full_resolution", runReport(fullRun, fullFiles)},
                             {"speedup", swdMs > 0 ? fullMs / swdMs : 0.0},
                             {"psnr_db", std::isinf(p) ? nlohmann::json("inf") : nlohmann::json(p)},
                             {"ssim", ssim(a, b)},
                             {"files",
                              {{"side_by_side", "side-by-side.png"},
                               {"difference", "difference.png"},
                               {"swd_steps", "swd-steps.png"},
                               {"full_steps", "full-steps.png"}}}};
    writeText(folder / "report.json", report.dump(2) + "\n");
    std::printf("%s\n", (folder / "report.json").c_str());
    std::fflush(stdout);
    progress.note(
        fmt::format("SwD {:.2f} s, full resolution {:.2f} s: {:.1f}x faster; PSNR {:.2f} dB, SSIM {:.4f}",
                    swdMs / 1000, fullMs / 1000, swdMs > 0 ? fullMs / swdMs : 0.0, p, ssim(a, b)));
    return 0;
}

void addCompareCommand(CLI::App& app) {
    auto* cmp = app.add_subcommand(
        "compare",
        "Run SwD and full-resolution sampling with one prompt and seed; write both images, a side-by-side "
        "image, both step strips and a JSON report (timings, speedup, PSNR and SSIM between the finals)");
    auto ca = std::make_shared<RunArgs>();
    auto fullPreset = std::make_shared<std::string>();
    addRunOptions(cmp, *ca);
    cmp->add_option("--full-preset", *fullPreset,
                    "full-resolution preset (default: the SwD preset's counterpart)");
    ca->forStrips = true;
    setAction(cmp, [ca, fullPreset] { return runCompare(*ca, *fullPreset); });
}

void addMakeDemoModelCommand(CLI::App& app) {
    auto* demo = app.add_subcommand(
        "make-demo-model", "Write the built-in demo model (tiny, random weights, real architecture family)");
    auto dir = std::make_shared<std::string>();
    auto seed = std::make_shared<std::uint64_t>(kDemoModelSeed);
    auto tokenizers = std::make_shared<std::string>();
    demo->add_option("DIR", *dir,
                     "new or empty folder to write, or a demo model written before (its files are "
                     "replaced; nothing else is touched)")
        ->required();
    demo->add_option("--seed", *seed, "seed of the random weights")->capture_default_str();
    demo->add_option("--tokenizers", *tokenizers, "tokenizer folder (clip/, t5/); default: the shipped ones");
    setAction(demo, [dir, seed, tokenizers] {
        writeDemoModel(*dir, *seed, *tokenizers);
        std::printf("%s\n", dir->c_str());
        return 0;
    });
}

}  // namespace

void addGenerateCommands(CLI::App& app) {
    addGenerateCommand(app);       // swd generate
    addCompareCommand(app);        // swd compare
    addMakeDemoModelCommand(app);  // swd make-demo-model
}

}  // namespace swd::cli
