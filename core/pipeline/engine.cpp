#include "pipeline/engine.h"

#include "family/family.h"
#include "sampling/samplers.h"
#include "sampling/seeded_noise.h"
#include "util/device.h"
#include "util/error.h"
#include "util/json_reader.h"
#include "util/runtime.h"
#include "util/stopwatch.h"
#include "util/torch_compat.h"

#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>
#include <fmt/format.h>

#include <cstring>

namespace swd {

RunProvenance GenerationResult::provenanceFor(int imageIndex) const {
    RunProvenance p = provenance;
    if (imageIndex >= 0 && imageIndex < static_cast<int>(seeds.size()))
        p.imageSeed = seeds[static_cast<std::size_t>(imageIndex)];
    return p;
}

std::string GenerationResult::parametersText(int imageIndex) const {
    return a1111Parameters(request, provenanceFor(imageIndex));
}

std::string GenerationResult::recordJson(int imageIndex) const {
    // The stored request re-makes exactly this image: its own seed, batch of one.
    GenerationRequest single = request;
    single.seed = provenanceFor(imageIndex).imageSeed;
    single.batchSize = 1;
    return imageRecordJson(single, provenanceFor(imageIndex));
}

namespace {

// [B, H, W, 3] uint8 (CPU, contiguous) -> one RgbImage8 per batch item.
std::vector<RgbImage8> toRgb8Images(const at::Tensor& hwc) {
    std::vector<RgbImage8> out;
    if (!hwc.defined()) return out;
    const at::Tensor c = hwc.to(at::kCPU).contiguous();
    for (int64_t b = 0; b < c.size(0); ++b) {
        RgbImage8 img;
        img.height = static_cast<int>(c.size(1));
        img.width = static_cast<int>(c.size(2));
        img.data.resize(static_cast<std::size_t>(img.width) * img.height * 3);
        std::memcpy(img.data.data(), c[b].data_ptr<std::uint8_t>(), img.data.size());
        out.push_back(std::move(img));
    }
    return out;
}

// [B, 3, H, W] fp32 in [0, 1] -> one RgbImageF (HWC) per batch item.
std::vector<RgbImageF> toFloatImages(const at::Tensor& image01) {
    std::vector<RgbImageF> out;
    const at::Tensor hwc = image01.to(at::kCPU, at::kFloat).permute({0, 2, 3, 1}).contiguous();
    for (int64_t b = 0; b < hwc.size(0); ++b) {
        RgbImageF img;
        img.height = static_cast<int>(hwc.size(1));
        img.width = static_cast<int>(hwc.size(2));
        img.data.resize(static_cast<std::size_t>(img.width) * img.height * 3);
        std::memcpy(img.data.data(), hwc[b].data_ptr<float>(), img.data.size() * sizeof(float));
        out.push_back(std::move(img));
    }
    return out;
}

}  // namespace

struct Engine::Impl {
    ModelSet set;
    EngineOptions options;
    at::Device device{at::kCPU};
    at::Device textDevice{at::kCPU};
    at::ScalarType dtype = at::kBFloat16;
    std::unique_ptr<FamilyModels> models;  // the family's components of `set`
    StepTimeEstimator estimator;

    void load(GenerationObserver* observer, double* loadMs);
    void checkRequest(const GenerationRequest& request) const;
    RunProvenance provenance(const GenerationRequest& request, bool withAdapter);
    // Prompt (and negative prompt under CFG) -> conditioning; the time goes to timings.textMs.
    void encode(const GenerationRequest& request, SamplerInputs& in, RunTimings& timings);
    // The steps (each observed, previewed and timed) -> the final latent.
    SamplingResult sample(const GenerationRequest& request, SamplerInputs& in, GenerationObserver* observer,
                          const CancelToken& cancel, const Stopwatch& total, GenerationResult& result);
    void decode(const SamplingResult& sampled, GenerationObserver* observer, GenerationResult& result);
};

Engine::Engine(ModelSet models, EngineOptions options) : m_impl(std::make_unique<Impl>()) {
    Impl& d = *m_impl;
    d.set = std::move(models);
    d.options = std::move(options);
    d.device = parseDevice(d.options.device);
    d.dtype = componentDtype(d.options.precision, d.device, Component::Transformer);
    d.textDevice = d.options.textDevice.empty() ? d.device : parseDevice(d.options.textDevice);
    FamilyLoadOptions load;
    load.device = d.device;
    load.textDevice = d.textDevice;
    load.dtype = d.dtype;
    load.textDtype = componentDtype(d.options.textPrecision, d.textDevice, Component::TextEncoderT5);
    load.loadT5 = d.options.loadT5;
    load.taesdPath = d.options.taesdPath;
    load.hashCache = d.options.hashCache;
    load.vaeTileSize = d.options.vaeTileSize;
    load.weights = d.options.weights;
    d.models = familyFor(d.set.family).createModels(d.set, load);
}

Engine::~Engine() = default;

const ModelSet& Engine::models() const {
    return m_impl->set;
}

const EngineOptions& Engine::options() const {
    return m_impl->options;
}

bool Engine::loaded() const {
    return m_impl->models->loaded();
}

void Engine::Impl::load(GenerationObserver* observer, double* loadMs) {
    Stopwatch clock;
    const bool loadedSomething = models->load([&](const std::string& component) {
        if (observer) observer->onStage(Stage::LoadingModels, component);
    });
    // Loading frees large temporaries (converted and unpacked copies, consumed in-memory stores); give them
    // back now, since the allocator policy keeps freed memory otherwise.
    if (loadedSomething) returnFreedMemory();
    if (loadMs && loadedSomething) *loadMs += clock.elapsedMs();
}

void Engine::load(GenerationObserver* observer) {
    m_impl->load(observer, nullptr);
}

DenoiserShape Engine::costShape() const {
    return m_impl->models->costShape();
}

int Engine::maxLatentSide() const {
    return m_impl->models->maxLatentSide();
}

const StepTimeEstimator& Engine::estimator() const {
    return m_impl->estimator;
}

void Engine::releaseTextEncoders() {
    m_impl->models->releaseTextEncoders();
    returnFreedMemory();
}

// Everything about a request that can be wrong, checked before any work.
void Engine::Impl::checkRequest(const GenerationRequest& request) const {
    const Schedule& schedule = request.schedule;
    if (request.batchSize < 1) throwBadInput("batch size must be at least 1 (got {})", request.batchSize);
    if (parseDevice(request.device) != device)
        throwBadInput(
            "this engine runs on {}, the request asks for {}; change the device in the settings to "
            "reload the models there",
            device.str(), request.device);
    // The loaded denoiser's own limit once it is known; until then the schedule's model's.
    ScheduleLimits limits;
    limits.maxLatentSide = models->loaded() ? models->maxLatentSide() : 0;
    const auto issues = validateForFamily(schedule, limits);
    if (!issues.empty())
        throwBadInput("schedule '{}' cannot run:{}", cutForMessage(schedule.name),
                      formatScheduleIssues(issues));
    if (request.useAdapter && !schedule.adapter.empty() && !models->hasAdapter())
        throwBadInput(
            "preset '{}' needs the adapter {}, and the model set '{}' has none; add it in the model "
            "settings, or run the full-resolution preset",
            schedule.name, schedule.adapter, set.displayName);
}

// What every image of the run records about where it came from.
RunProvenance Engine::Impl::provenance(const GenerationRequest& request, bool withAdapter) {
    RunProvenance p;
    p.modelName = set.displayName;
    p.modelIdentity = set.identity();
    p.modelHash = models->modelHash();
    p.adapterName = withAdapter ? models->adapterName() : "";
    p.adapterHash = withAdapter ? models->adapterHash() : "";
    p.version = softwareVersion();
    p.deviceUsed = deviceDescription(device);
    if (textDevice != device) p.deviceUsed += ", text encoders on " + deviceDescription(textDevice);
    p.dtypeUsed = dtypeName(dtype);
    p.imageSeed = request.seed;
    return p;
}

void Engine::Impl::encode(const GenerationRequest& request, SamplerInputs& in, RunTimings& timings) {
    Stopwatch clock;
    const Schedule& schedule = request.schedule;
    const auto batch = static_cast<std::size_t>(request.batchSize);
    in.positive = models->encode(std::vector<std::string>(batch, request.prompt), schedule);
    if (schedule.guidance > 1.0) {
        in.guidance.scale = schedule.guidance;
        in.guidance.negative =
            models->encodeNegative(std::vector<std::string>(batch, request.negativePrompt), schedule);
        in.guidance.batched = request.cfgBatched;
    }
    if (options.releaseTextEncoders) {
        models->releaseTextEncoders();
        returnFreedMemory();
    }
    timings.textMs = clock.elapsedMs();
}

SamplingResult Engine::Impl::sample(const GenerationRequest& request, SamplerInputs& in,
                                    GenerationObserver* observer, const CancelToken& cancel,
                                    const Stopwatch& total, GenerationResult& result) {
    const Schedule& schedule = request.schedule;
    // Noise on the CPU, one generator per image: one seed, one image, on any device.
    SeededNoise noise(request.seed, request.batchSize);
    result.seeds = noise.imageSeeds();
    const int s0 = schedule.scales.front();
    in.schedule = &schedule;
    in.initialNoise = noise.draw({request.batchSize, models->latentChannels(), s0, s0}).to(device);
    in.model = [this](const at::Tensor& x, const at::Tensor& t, const Conditioning& c) {
        return models->denoise(x, t, c);
    };
    in.noise = [&](at::IntArrayRef shape) { return noise.draw(shape).to(device); };
    in.cancelled = [&] { return cancel.requested(); };
    result.stepFlops = scheduleStepFlops(models->costShape(), schedule, request.batchSize);

    if (observer) observer->onStage(Stage::Sampling, schedule.name);
    Stopwatch clock;
    in.observer = [&](const StepRecord& rec) {
        Stopwatch previewClock;
        StepEvent ev;
        ev.index = rec.index;
        ev.scale = rec.scale;
        ev.sigma = rec.sigma;
        ev.sigmaNext = rec.sigmaNext;
        ev.timestep = rec.timestep;
        ev.modelMs = rec.modelMs;
        if (request.preview != PreviewMode::Off)
            ev.images = toRgb8Images(models->preview(rec.x0, request.preview));
        ev.ms = rec.ms + previewClock.elapsedMs();
        estimator.observe(result.stepFlops[static_cast<std::size_t>(rec.index)], rec.modelMs);
        result.timings.stepMs.push_back(ev.ms);
        if (observer) {
            ev.runLabel = request.label;
            ev.stepCount = rec.stepCount;
            ev.x0 = rec.x0;
            ev.elapsedMs = total.elapsedMs();
            ev.etaMs = estimateRemainingMs(result.stepFlops, rec.index + 1, estimator);
            observer->onStep(ev);
        }
        result.steps.push_back(std::move(static_cast<StepResult&>(ev)));
    };
    const SamplingResult sampled = runSampler(in);
    result.timings.samplingMs = clock.elapsedMs();
    result.completedSteps = sampled.completedSteps;
    result.cancelled = sampled.cancelled;
    if (sampled.latent.defined()) result.finalLatent = sampled.latent.to(at::kCPU);
    return sampled;
}

void Engine::Impl::decode(const SamplingResult& sampled, GenerationObserver* observer,
                          GenerationResult& result) {
    if (observer) observer->onStage(Stage::Decoding, "");
    Stopwatch clock;
    result.images = toFloatImages(models->decode(sampled.latent));
    result.timings.decodeMs = clock.elapsedMs();
}

GenerationResult Engine::generate(const GenerationRequest& request, GenerationObserver* observer,
                                  const CancelToken& cancel) {
    Impl& d = *m_impl;
    Stopwatch total;
    resetPeakRss();
    resetGpuPeak(d.device);
    GenerationResult result;
    result.request = request;
    const Schedule& schedule = request.schedule;
    d.checkRequest(request);

    c10::InferenceMode inference;
    d.load(observer, &result.timings.loadMs);
    const int maxSide = d.models->maxLatentSide();
    if (maxSide > 0 && schedule.finalScale() > maxSide)
        throwBadInput(
            "scale {} exceeds {} latent pixels, the largest this transformer's positional table covers",
            schedule.finalScale(), maxSide);
    // SwD and full-resolution runs of one model differ only here: the adapter is switched, not reloaded.
    // A schedule whose adapter is "" runs the base model, whatever adapter the model set holds.
    const bool withAdapter = request.useAdapter && !schedule.adapter.empty() && d.models->hasAdapter();
    d.models->useAdapter(withAdapter);
    result.provenance = d.provenance(request, withAdapter);

    if (cancel.requested()) {
        result.cancelled = true;
        return result;
    }
    if (observer) observer->onStage(Stage::EncodingPrompt, request.prompt);
    SamplerInputs in;
    d.encode(request, in, result.timings);
    const SamplingResult sampled = d.sample(request, in, observer, cancel, total, result);
    if (!sampled.cancelled && !cancel.requested())
        d.decode(sampled, observer, result);
    else
        result.cancelled = true;

    result.timings.totalMs = total.elapsedMs();
    result.timings.peakRssBytes = peakRssBytes();
    result.timings.peakGpuBytes = gpuPeakBytes(d.device);
    result.provenance.totalMs = result.timings.totalMs;
    if (observer) observer->onStage(Stage::Done, result.cancelled ? "cancelled" : "");
    return result;
}

}  // namespace swd
