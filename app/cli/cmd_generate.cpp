// swd generate | compare | make-demo-model: runs of the engine from the command line.
#include "cli_common.h"
#include "image/image_io.h"
#include "image/image_ops.h"
#include "model_choice.h"
#include "pipeline/demo_model.h"
#include "pipeline/engine.h"
#include "sampling/preset_library.h"
#include "util/error.h"
#include "util/runtime.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>

namespace swd::cli {

namespace fs = std::filesystem;

namespace {

struct RunArgs {
    ModelArgs model;
    std::string preset;
    std::string scheduleFile;
    std::string prompt;
    std::string negative;
    std::uint64_t seed = 0;
    bool seedGiven = false;
    std::string out = "swd-output";
    bool stepsOut = false;
    std::string format = "png";
    int batch = 1;
    std::string device = "cpu";
    std::string precision = "auto";
    std::string preview = "auto";
    int t5Length = 0;
    double guidance = -1;
    bool noT5 = false;
    bool quiet = false;
    bool forStrips = false;  // compare: step strips need step images
};

void addRunOptions(CLI::App* cmd, RunArgs& a, bool withPreset) {
    addModelOptions(cmd, a.model);
    if (withPreset) {
        cmd->add_option("--preset", a.preset, "schedule preset id or name (see 'swd presets list')");
        cmd->add_option("--schedule", a.scheduleFile, "schedule JSON file (instead of a preset)");
    }
    cmd->add_option("--prompt", a.prompt, "the prompt")->required();
    cmd->add_option("--negative", a.negative, "negative prompt (used only when guidance > 1)");
    cmd->add_option("--seed", a.seed, "seed (image i of a batch uses seed + i); default 0");
    cmd->add_option("--out", a.out, "output folder")->capture_default_str();
    cmd->add_flag("--steps-out", a.stepsOut, "also write every step's decoded x0");
    cmd->add_option("--format", a.format, "png, png16, jpg, tiff or exr")->capture_default_str();
    cmd->add_option("--batch", a.batch, "images per run")->check(CLI::Range(1, 64));
    cmd->add_option("--device", a.device, "cpu, cuda or cuda:N")->capture_default_str();
    cmd->add_option("--precision", a.precision, "auto, bf16, fp16 (CUDA only) or fp32")
        ->capture_default_str();
    cmd->add_option("--preview", a.preview,
                    "step images: vae (decoded x0), taesd, projection (latent to RGB) or off; auto: vae with "
                    "--steps-out and in compare, else off")
        ->capture_default_str();
    cmd->add_option("--t5-length", a.t5Length,
                    "T5 tokens (default: the preset's; 512 for SwD, 256 full resolution)");
    cmd->add_option("--guidance", a.guidance, "CFG scale (default: the preset's)");
    cmd->add_flag("--no-t5", a.noT5, "run without T5-XXL (its part of the context is zeros; saves ~9.5 GB)");
    cmd->add_flag("--quiet", a.quiet, "print only the written files");
}

Schedule pickSchedule(const RunArgs& a, const std::string& fallbackPreset) {
    Schedule s;
    if (!a.scheduleFile.empty()) {
        s = loadScheduleFile(a.scheduleFile);
    } else {
        s = PresetLibrary::builtin().get(a.preset.empty() ? fallbackPreset : a.preset);
    }
    if (a.t5Length > 0) s.t5Length = a.t5Length;
    if (a.guidance >= 0) s.guidance = a.guidance;
    return s;
}

GenerationRequest makeRequest(const RunArgs& a, const Schedule& s) {
    GenerationRequest r;
    r.prompt = a.prompt;
    r.negativePrompt = a.negative;
    r.seed = a.seed;
    r.schedule = s;
    r.batchSize = a.batch;
    r.device = a.device;
    const auto p = precisionFromName(a.precision);
    if (!p) throwBadInput("--precision '{}': use auto, bf16, fp16 or fp32", a.precision);
    r.precision = *p;
    r.preview = a.preview == "auto" ? (a.stepsOut || a.forStrips ? PreviewMode::FullVae : PreviewMode::Off)
                                    : parsePreviewMode(a.preview);
    r.useAdapter = s.sampler == SamplerKind::ScaleWise;
    r.label = s.sampler == SamplerKind::ScaleWise ? "SwD" : "Full resolution";
    return r;
}

EngineOptions engineOptions(const RunArgs& a) {
    EngineOptions o;
    o.device = a.device;
    const auto p = precisionFromName(a.precision);
    if (!p) throwBadInput("--precision '{}': use auto, bf16, fp16 or fp32", a.precision);
    o.precision = *p;
    o.textPrecision = *p;
    o.loadT5 = !a.noT5;
    o.hashCache = cliCacheDir() / "hashes.json";
    return o;
}

ImageFormat parseFormat(const std::string& f) {
    const auto format = imageFormatFromId(f);
    if (!format) throwBadInput("--format '{}': use png, png16, jpg, tiff or exr", f);
    return *format;
}

class PrintingObserver : public GenerationObserver {
public:
    explicit PrintingObserver(bool quiet) : m_quiet(quiet) {}
    void onStage(Stage stage, const std::string& detail) override {
        if (m_quiet || stage == Stage::Done) return;
        const bool showDetail = !detail.empty() && stage != Stage::EncodingPrompt;
        std::fprintf(stderr, "  %s%s%s\n", stageName(stage), showDetail ? ": " : "",
                     showDetail ? detail.c_str() : "");
    }
    void onStep(const StepEvent& e) override {
        if (m_quiet) return;
        std::fprintf(stderr, "  %s step %d/%d  scale %d (%d px)  sigma %.4f  %.0f ms  ETA %.1f s\n",
                     e.runLabel.c_str(), e.index + 1, e.stepCount, e.scale, e.scale * 8, e.sigma, e.ms,
                     e.etaMs / 1000.0);
    }

private:
    bool m_quiet;
};

// Writes the run's images (and step images) into `folder`; returns the written final images.
std::vector<fs::path> writeRun(const GenerationResult& r, const fs::path& folder, const std::string& prefix,
                               ImageFormat format, bool stepsOut, bool quiet) {
    std::vector<fs::path> written;
    for (std::size_t i = 0; i < r.images.size(); ++i) {
        ImageMetadata meta;
        meta.parameters = r.parametersText(static_cast<int>(i));
        meta.request = r.recordJson(static_cast<int>(i));
        meta.software = r.provenance.version;
        const fs::path path = writeImage(nextImagePath(folder, prefix, format), r.images[i], meta, {format});
        written.push_back(path);
        if (!quiet) std::printf("%s\n", path.c_str());
        if (stepsOut) {
            const fs::path stepDir = folder / (path.stem().string() + "-steps");
            for (const auto& step : r.steps) {
                if (i >= step.images.size()) continue;
                const fs::path sp = stepDir / fmt::format("step-{:02d}-scale{}-sigma{:.4f}.png",
                                                          step.index + 1, step.scale, step.sigma);
                writeImage(sp, toFloatImage(step.images[i]), {meta.parameters, "", meta.software},
                           {ImageFormat::Png8});
            }
            if (!quiet) std::printf("%s/\n", stepDir.c_str());
        }
    }
    return written;
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

}  // namespace

void addGenerateCommands(CLI::App& app) {
    // swd generate
    auto* gen = app.add_subcommand("generate", "Generate images with a preset (SwD or full resolution)");
    auto ga = std::make_shared<RunArgs>();
    addRunOptions(gen, *ga, true);
    setAction(gen, [ga] {
        const Schedule s = pickSchedule(*ga, "swd-2b-6step");
        const ModelChoice choice = chooseModelSet(ga->model, s);
        if (!choice.note.empty()) std::fprintf(stderr, "%s\n", choice.note.c_str());
        if (!ga->quiet)
            std::fprintf(stderr, "%s with %s, seed %llu\n", s.name.c_str(), choice.set.displayName.c_str(),
                         static_cast<unsigned long long>(ga->seed));
        Engine engine(choice.set, engineOptions(*ga));
        PrintingObserver observer(ga->quiet);
        CancelToken cancel;
        const GenerationResult r = engine.generate(makeRequest(*ga, s), &observer, cancel);
        const ImageFormat format = parseFormat(ga->format);
        const auto files = writeRun(r, ga->out, s.sampler == SamplerKind::ScaleWise ? "swd" : "full", format,
                                    ga->stepsOut, ga->quiet);
        if (!ga->quiet)
            std::fprintf(stderr,
                         "done: %.2f s (text %.2f s, sampling %.2f s, decode %.2f s, load %.2f s), peak %s\n",
                         r.timings.totalMs / 1000, r.timings.textMs / 1000, r.timings.samplingMs / 1000,
                         r.timings.decodeMs / 1000, r.timings.loadMs / 1000,
                         formatBytes(r.timings.peakRssBytes).c_str());
        return 0;
    });

    // swd compare
    auto* cmp = app.add_subcommand(
        "compare",
        "Run SwD and full-resolution sampling with one prompt and seed; write both images, a side-by-side "
        "image, both step strips and a JSON report (timings, speedup, PSNR and SSIM between the finals)");
    auto ca = std::make_shared<RunArgs>();
    auto fullPreset = std::make_shared<std::string>();
    addRunOptions(cmp, *ca, true);
    cmp->add_option("--full-preset", *fullPreset,
                    "full-resolution preset (default: the SwD preset's counterpart)");
    ca->forStrips = true;
    setAction(cmp, [ca, fullPreset] {
        const Schedule swdSchedule = pickSchedule(*ca, "swd-2b-6step");
        std::string fullId = *fullPreset;
        if (fullId.empty())
            fullId = swdSchedule.compareWith.empty() ? "sd35-medium-full" : swdSchedule.compareWith;
        Schedule fullSchedule = PresetLibrary::builtin().get(fullId);
        // Both finals at one size: full resolution runs at the SwD schedule's last scale.
        fullSchedule.scales.assign(fullSchedule.scales.size(), swdSchedule.finalScale());
        const ModelChoice choice = chooseModelSet(ca->model, swdSchedule);
        if (!choice.note.empty()) std::fprintf(stderr, "%s\n", choice.note.c_str());
        Engine engine(choice.set, engineOptions(*ca));
        PrintingObserver observer(ca->quiet);
        CancelToken cancel;
        const GenerationResult swdRun = engine.generate(makeRequest(*ca, swdSchedule), &observer, cancel);
        const GenerationResult fullRun = engine.generate(makeRequest(*ca, fullSchedule), &observer, cancel);

        const ImageFormat format = parseFormat(ca->format);
        fs::create_directories(ca->out);
        const fs::path folder = nextImagePath(ca->out, "compare", format).replace_extension("");
        fs::create_directories(folder);
        const auto swdFiles = writeRun(swdRun, folder, "swd", format, ca->stepsOut, ca->quiet);
        const auto fullFiles = writeRun(fullRun, folder, "full", format, ca->stepsOut, ca->quiet);
        const RgbImage8 a = swdRun.images.front().toRgb8(), b = fullRun.images.front().toRgb8();
        const RgbImage8 side = composeRow({a, b}, a.height);
        writeImage(folder / "side-by-side.png", toFloatImage(side), {}, {ImageFormat::Png8});
        writeImage(folder / "difference.png", toFloatImage(differenceImage(a, b)), {}, {ImageFormat::Png8});
        const RgbImage8 swdStrip = stepStrip(swdRun, 128), fullStrip = stepStrip(fullRun, 128);
        if (!swdStrip.empty())
            writeImage(folder / "swd-steps.png", toFloatImage(swdStrip), {}, {ImageFormat::Png8});
        if (!fullStrip.empty())
            writeImage(folder / "full-steps.png", toFloatImage(fullStrip), {}, {ImageFormat::Png8});

        const double swdMs = swdRun.timings.totalMs - swdRun.timings.loadMs;
        const double fullMs = fullRun.timings.totalMs - fullRun.timings.loadMs;
        const double p = psnr(a, b);
        nlohmann::json report = {{"prompt", ca->prompt},
                                 {"seed", ca->seed},
                                 {"model", choice.set.displayName},
                                 {"demo_model", choice.demo},
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
        if (!ca->quiet)
            std::fprintf(stderr,
                         "SwD %.2f s, full resolution %.2f s: %.1fx faster; PSNR %.2f dB, SSIM %.4f\n",
                         swdMs / 1000, fullMs / 1000, swdMs > 0 ? fullMs / swdMs : 0.0, p, ssim(a, b));
        return 0;
    });

    // swd make-demo-model
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

}  // namespace swd::cli
