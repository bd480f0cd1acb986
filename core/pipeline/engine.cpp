#include "pipeline/engine.h"

#include "io/file_hash.h"
#include "models/lora.h"
#include "models/mmdit.h"
#include "models/vae.h"
#include "models/vae_tiny.h"
#include "sampling/samplers.h"
#include "sampling/seeded_noise.h"
#include "text/sd3_conditioner.h"
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

const char* stageName(Stage stage) {
    switch (stage) {
        case Stage::LoadingModels:
            return "loading models";
        case Stage::EncodingPrompt:
            return "encoding the prompt";
        case Stage::Sampling:
            return "sampling";
        case Stage::Decoding:
            return "decoding";
        case Stage::Done:
            return "done";
    }
    return "";
}

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
    ModelSet models;
    EngineOptions options;
    at::Device device{at::kCPU};
    at::Device textDevice{at::kCPU};
    at::ScalarType dtype = at::kBFloat16;
    at::ScalarType textDtype = at::kBFloat16;

    std::unique_ptr<Sd3Conditioner> conditioner;
    std::unique_ptr<MMDiT> transformer;
    std::shared_ptr<const LoraAdapter> adapter;
    std::shared_ptr<Sd3Vae> vae;
    std::shared_ptr<TaesdDecoder> taesd;
    StepTimeEstimator estimator;
    std::string modelHash, adapterHash;

    void loadAll(GenerationObserver* observer, double* loadMs);
    // A loaded component keeps what it needs of in-memory weights (packed copies or views); the engine lets
    // go of the rest so that the process does not hold the weights twice. Components are never reloaded.
    void dropInMemoryStore(TensorStore ModelWeights::*part) {
        if (!options.weights || (options.weights.get()->*part).empty()) return;
        auto rest = std::make_shared<ModelWeights>(*options.weights);
        rest.get()->*part = TensorStore();
        options.weights = std::move(rest);
    }
    // The adapter's name for metadata: its repository (as discovery recorded it) or its folder name.
    std::string adapterName() const {
        for (const auto& part : models.parts)
            if (part.role == "adapter" && !part.source.empty()) return part.source;
        return models.adapter ? models.adapter->filename().string() : std::string();
    }
    void loadHashes();
};

Engine::Engine(ModelSet models, EngineOptions options) : m_impl(std::make_unique<Impl>()) {
    m_impl->models = std::move(models);
    m_impl->options = std::move(options);
    m_impl->device = parseDevice(m_impl->options.device);
    m_impl->dtype = componentDtype(m_impl->options.precision, m_impl->device, Component::Transformer);
    m_impl->textDevice =
        m_impl->options.textDevice.empty() ? m_impl->device : parseDevice(m_impl->options.textDevice);
    m_impl->textDtype =
        componentDtype(m_impl->options.textPrecision, m_impl->textDevice, Component::TextEncoderT5);
}

Engine::~Engine() = default;

const ModelSet& Engine::models() const {
    return m_impl->models;
}

const EngineOptions& Engine::options() const {
    return m_impl->options;
}

bool Engine::loaded() const {
    return m_impl->transformer && m_impl->vae && m_impl->conditioner;
}

void Engine::Impl::loadAll(GenerationObserver* observer, double* loadMs) {
    Stopwatch clock;
    c10::InferenceMode inference;
    bool loadedSomething = false;
    auto stage = [&](const std::string& what) {
        loadedSomething = true;
        if (observer) observer->onStage(Stage::LoadingModels, what);
    };
    if (!conditioner) {
        stage("text encoders");
        TextEncoderPaths paths;
        paths.clipL = models.clipL;
        paths.clipG = models.clipG;
        paths.t5 = models.t5;
        paths.clipLPrefix = models.clipLPrefix;
        paths.clipGPrefix = models.clipGPrefix;
        paths.t5Prefix = models.t5Prefix;
        paths.clipVocab = models.clipVocab;
        paths.clipMerges = models.clipMerges;
        paths.t5Spiece = models.t5Spiece;
        if (options.weights && !options.weights->clipL.empty()) {
            const bool t5 = options.loadT5 && !options.weights->t5.empty();
            TextEncoderWeights w{options.weights->clipL, options.weights->clipG, options.weights->t5};
            conditioner = std::make_unique<Sd3Conditioner>(paths, w, textDtype, textDevice, t5);
        } else {
            const bool t5 = options.loadT5 && !models.t5.empty();
            conditioner = std::make_unique<Sd3Conditioner>(paths, textDtype, textDevice, t5);
        }
    }
    if (!transformer) {
        stage("transformer");
        TensorStore weights = options.weights && !options.weights->transformer.empty()
                                  ? options.weights->transformer
                                  : TensorStore::open(models.transformer);
        if (!models.transformerPrefix.empty()) weights = weights.withPrefix(models.transformerPrefix);
        transformer = MMDiT::load(weights, dtype, device);
        dropInMemoryStore(&ModelWeights::transformer);
    }
    if (!adapter && (models.adapter || (options.weights && options.weights->adapter))) {
        stage("adapter");
        adapter = options.weights && options.weights->adapter ? options.weights->adapter
                                                              : LoraAdapter::load(*models.adapter);
        // Check it fits now (names of what does not), and leave the base model active.
        transformer->setAdapter(adapter);
        transformer->setAdapter(nullptr);
    }
    if (!vae) {
        stage("VAE");
        TensorStore weights = options.weights && !options.weights->vae.empty()
                                  ? options.weights->vae
                                  : TensorStore::open(models.vae);
        if (!models.vaePrefix.empty()) weights = weights.withPrefix(models.vaePrefix);
        VaeLoadOptions vo;
        vo.withEncoder = false;  // text-to-image needs only the decoder
        vae = Sd3Vae::load(weights, dtype, device, vo);
        dropInMemoryStore(&ModelWeights::vae);
    }
    if (!taesd && !options.taesdPath.empty()) {
        stage("TAESD previews");
        taesd = TaesdDecoder::load(TensorStore::open(options.taesdPath), dtype, device);
    }
    // Loading frees large temporaries (converted and unpacked copies, consumed in-memory stores); give them
    // back now, since the allocator policy keeps freed memory otherwise.
    if (loadedSomething) returnFreedMemory();
    if (loadMs && loadedSomething) *loadMs += clock.elapsedMs();
}

void Engine::Impl::loadHashes() {
    if (options.weights) {  // in-memory weights have no files to hash
        modelHash = "in-memory weights";
        adapterHash = models.adapter ? "in-memory" : "";
        return;
    }
    if (modelHash.empty()) {
        try {
            const TensorStore store = TensorStore::open(models.transformer);
            const auto files = store.files();
            modelHash = files.size() == 1 ? fileSha256(files.front(), options.hashCache) : std::string();
            if (files.size() > 1) {  // sharded: the hash of the shards' hashes in order
                std::string all;
                for (const auto& f : files) all += fileSha256(f, options.hashCache);
                modelHash = fmt::format("shards:{}", all.substr(0, 64));
            }
        } catch (const std::exception&) {
            modelHash = "unavailable";
        }
    }
    if (adapterHash.empty() && models.adapter) {
        try {
            const TensorStore store = TensorStore::open(*models.adapter);
            adapterHash = fileSha256(store.files().front(), options.hashCache);
        } catch (const std::exception&) {
            adapterHash = "unavailable";
        }
    }
}

void Engine::load(GenerationObserver* observer) {
    m_impl->loadAll(observer, nullptr);
}

TransformerShape Engine::transformerShape() const {
    if (!m_impl->transformer) return TransformerShape::forFamily(m_impl->models.family);
    const MMDiTConfig& c = m_impl->transformer->config();
    TransformerShape s;
    s.hidden = c.hidden();
    s.depth = c.numLayers;
    s.dualLayers = static_cast<int>(c.dualAttentionLayers.size());
    s.patch = c.patchSize;
    s.jointDim = c.jointAttentionDim;
    return s;
}

std::vector<double> Engine::estimateStepMs(const Schedule& schedule, int batchSize) const {
    std::vector<double> out;
    for (double f : scheduleStepFlops(transformerShape(), schedule, batchSize))
        out.push_back(m_impl->estimator.predictMs(f));
    return out;
}

int Engine::maxLatentSide() const {
    return m_impl->transformer ? m_impl->transformer->config().maxLatentSide()
                               : ::swd::maxLatentSide(m_impl->models.family);
}

void Engine::releaseTextEncoders() {
    if (!m_impl->conditioner) return;
    m_impl->conditioner->releaseEncoders();
    returnFreedMemory();
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

    // Everything about the request that can be wrong is checked before any work.
    if (request.batchSize < 1) throwBadInput("batch size must be at least 1 (got {})", request.batchSize);
    if (parseDevice(request.device) != d.device)
        throwBadInput(
            "this engine runs on {}, the request asks for {}; change the device in the settings to "
            "reload the models there",
            d.device.str(), request.device);
    {
        ScheduleLimits limits;
        limits.maxLatentSide = d.transformer ? d.transformer->config().maxLatentSide() : 0;
        auto issues = validateSchedule(schedule, limits);
        if (!issues.empty())
            throwBadInput("schedule '{}' cannot run:{}", cutForMessage(schedule.name),
                          formatScheduleIssues(issues));
    }
    const bool hasAdapter = d.models.adapter || (d.options.weights && d.options.weights->adapter);
    if (request.useAdapter && !schedule.adapter.empty() && !hasAdapter)
        throwBadInput(
            "preset '{}' needs the adapter {}, and the model set '{}' has none; add it in the model "
            "settings, or run the full-resolution preset",
            schedule.name, schedule.adapter, d.models.displayName);

    c10::InferenceMode inference;
    d.loadAll(observer, &result.timings.loadMs);
    {
        const int maxSide = d.transformer->config().maxLatentSide();
        if (schedule.finalScale() > maxSide)
            throwBadInput(
                "scale {} exceeds {} latent pixels, the largest this transformer's positional table "
                "covers",
                schedule.finalScale(), maxSide);
    }
    // SwD and full-resolution runs of one model differ only here: the adapter is switched, not reloaded.
    // A schedule whose adapter is "" runs the base model, whatever adapter the model set holds.
    const bool withAdapter = request.useAdapter && !schedule.adapter.empty() && d.adapter != nullptr;
    d.transformer->setAdapter(withAdapter ? d.adapter : nullptr);

    // Provenance, recorded in every image.
    d.loadHashes();
    result.provenance.modelName = d.models.displayName;
    result.provenance.modelIdentity = d.models.identity();
    result.provenance.modelHash = d.modelHash;
    result.provenance.adapterName = withAdapter ? d.adapterName() : "";
    result.provenance.adapterHash = withAdapter ? d.adapterHash : "";
    result.provenance.version =
        fmt::format("swd-studio {} (libtorch {})", SWD_VERSION, compat::torchVersionString());
    result.provenance.deviceUsed = deviceDescription(d.device);
    if (d.textDevice != d.device)
        result.provenance.deviceUsed += ", text encoders on " + deviceDescription(d.textDevice);
    result.provenance.dtypeUsed = dtypeName(d.dtype);
    result.provenance.imageSeed = request.seed;

    if (cancel.requested()) {
        result.cancelled = true;
        return result;
    }

    // Prompt -> conditioning (cached by prompt and T5 length).
    if (observer) observer->onStage(Stage::EncodingPrompt, request.prompt);
    Stopwatch textClock;
    const bool cfg = schedule.guidance > 1.0;
    std::vector<std::string> prompts(static_cast<std::size_t>(request.batchSize), request.prompt);
    const PromptEmbedding positive = d.conditioner->encode(prompts, schedule.t5Length);
    PromptEmbedding negative;
    if (cfg) {
        std::vector<std::string> negatives(static_cast<std::size_t>(request.batchSize),
                                           request.negativePrompt);
        negative = d.conditioner->encode(negatives, schedule.t5Length);
    }
    if (d.options.releaseTextEncoders) {
        d.conditioner->releaseEncoders();
        returnFreedMemory();
    }
    result.timings.textMs = textClock.elapsedMs();

    // Noise on the CPU, one generator per image: one seed, one image, on any device.
    SeededNoise noise(request.seed, request.batchSize);
    result.seeds = noise.imageSeeds();
    const int s0 = schedule.scales.front();
    SamplerInputs in;
    in.schedule = &schedule;
    in.initialNoise =
        noise.draw({request.batchSize, d.transformer->config().inChannels, s0, s0}).to(d.device);
    in.positive = {positive.context.to(d.device), positive.pooled.to(d.device)};
    if (cfg) {
        in.guidance.scale = schedule.guidance;
        in.guidance.negative = {negative.context.to(d.device), negative.pooled.to(d.device)};
        in.guidance.batched = request.cfgBatched;
    }
    in.model = [&](const at::Tensor& x, const at::Tensor& t, const Conditioning& c) {
        return d.transformer->forward(x, t, c.context, c.pooled);
    };
    in.noise = [&](at::IntArrayRef shape) { return noise.draw(shape).to(d.device); };
    in.cancelled = [&] { return cancel.requested(); };

    // Previews of each step's x0.
    std::unique_ptr<LatentPreviewer> previewer;
    if (request.preview != PreviewMode::Off) {
        PreviewMode mode = request.preview;
        if (mode == PreviewMode::Taesd && !d.taesd) mode = PreviewMode::Projection;  // no TAESD weights given
        previewer = std::make_unique<LatentPreviewer>(mode, d.vae, d.taesd);
    }
    const auto stepFlops = scheduleStepFlops(transformerShape(), schedule, request.batchSize);
    if (observer) observer->onStage(Stage::Sampling, schedule.name);
    Stopwatch samplingClock;
    in.observer = [&](const StepRecord& rec) {
        Stopwatch previewClock;
        StepResult step;
        step.index = rec.index;
        step.scale = rec.scale;
        step.sigma = rec.sigma;
        step.sigmaNext = rec.sigmaNext;
        step.timestep = rec.timestep;
        step.modelMs = rec.modelMs;
        if (previewer) step.images = toRgb8Images(previewer->preview(rec.x0));
        step.ms = rec.ms + previewClock.elapsedMs();
        d.estimator.observe(stepFlops[static_cast<std::size_t>(rec.index)], rec.modelMs);
        result.timings.stepMs.push_back(step.ms);
        if (observer) {
            StepEvent ev;
            ev.runLabel = request.label;
            ev.index = rec.index;
            ev.stepCount = rec.stepCount;
            ev.scale = rec.scale;
            ev.sigma = rec.sigma;
            ev.sigmaNext = rec.sigmaNext;
            ev.timestep = rec.timestep;
            ev.x0 = rec.x0;
            ev.previews = step.images;
            ev.ms = step.ms;
            ev.modelMs = rec.modelMs;
            ev.elapsedMs = total.elapsedMs();
            ev.etaMs = estimateRemainingMs(stepFlops, rec.index + 1, d.estimator);
            observer->onStep(ev);
        }
        result.steps.push_back(std::move(step));
    };
    const SamplingResult sampled = runSampler(in);
    result.timings.samplingMs = samplingClock.elapsedMs();
    result.completedSteps = sampled.completedSteps;
    result.cancelled = sampled.cancelled;
    if (sampled.latent.defined()) result.finalLatent = sampled.latent.to(at::kCPU);

    if (!sampled.cancelled && !cancel.requested()) {
        if (observer) observer->onStage(Stage::Decoding, "");
        Stopwatch decodeClock;
        TilingOptions tiling;
        if (d.options.vaeTileSize > 0)
            tiling = TilingOptions::always(d.options.vaeTileSize, d.options.vaeTileSize / 4);
        result.images = toFloatImages(d.vae->decodeToImage(sampled.latent, tiling));
        result.timings.decodeMs = decodeClock.elapsedMs();
    } else {
        result.cancelled = true;
    }
    result.timings.totalMs = total.elapsedMs();
    result.timings.peakRssBytes = peakRssBytes();
    result.timings.peakGpuBytes = gpuPeakBytes(d.device);
    result.provenance.totalMs = result.timings.totalMs;
    if (observer) observer->onStage(Stage::Done, result.cancelled ? "cancelled" : "");
    return result;
}

}  // namespace swd
