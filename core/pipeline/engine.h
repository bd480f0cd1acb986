// The engine: a model set loaded once and kept, and generate(request, observer, cancel), which runs
// either sampler step by step, reports every step (with its decoded x0 when asked) and returns the
// images, every step's image and the timings. SwD and full-resolution runs of one model differ only in
// their request (schedule, sampler, guidance, adapter on or off): one engine serves both.
#pragma once

#include "catalog/model_set.h"
#include "family/family_models.h"
#include "image/image.h"
#include "pipeline/cost_model.h"
#include "pipeline/generation_request.h"
#include "util/kinds.h"

#include <ATen/ATen.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace swd {

// One finished step of a run, as the result keeps it.
struct StepResult {
    int index = 0;
    int scale = 0;
    double sigma = 0, sigmaNext = 0, timestep = 0;
    double ms = 0;                  // this step, preview included
    double modelMs = 0;             // of which in the denoiser
    std::vector<RgbImage8> images;  // the step's decoded x0 per batch image (empty when previews are off)
};

// The same step as the observer sees it while the run goes on.
struct StepEvent : StepResult {
    std::string runLabel;
    int stepCount = 0;
    at::Tensor x0;         // the clean estimate, fp32 latent [B, C, scale, scale]
    double elapsedMs = 0;  // since generate() started
    double etaMs = 0;      // remaining, by the cost model calibrated on this run's steps
};

class GenerationObserver {
public:
    virtual ~GenerationObserver() = default;
    virtual void onStage(Stage /*stage*/, const std::string& /*detail*/) {}
    virtual void onStep(const StepEvent& /*event*/) {}
};

// Set from any thread; the engine checks it between steps, between CFG passes and before decoding.
class CancelToken {
public:
    void request() { m_cancelled.store(true); }
    void reset() { m_cancelled.store(false); }
    bool requested() const { return m_cancelled.load(); }

private:
    std::atomic<bool> m_cancelled{false};
};

struct GenerationResult {
    GenerationRequest request;
    std::vector<RgbImageF> images;     // final images; empty when cancelled before decoding
    std::vector<std::uint64_t> seeds;  // per image: request.seed + i
    std::vector<StepResult> steps;     // every finished step
    std::vector<double> stepFlops;     // the cost model's FLOPs of each scheduled step (batch included)
    RunTimings timings;
    bool cancelled = false;
    int completedSteps = 0;
    RunProvenance provenance;  // shared by the batch (imageSeed is filled per image below)
    at::Tensor finalLatent;    // fp32 [B, C, s, s] (the last finished x0 when cancelled)

    // Per image of the batch: the A1111 text and the JSON record stored in the file.
    RunProvenance provenanceFor(int imageIndex) const;
    std::string parametersText(int imageIndex) const;
    std::string recordJson(int imageIndex) const;
};

struct EngineOptions {
    std::string device = "cpu";  // transformer and VAE
    std::string textDevice;      // text encoders ("" = device); e.g. cpu while the rest runs on cuda
    Precision precision = Precision::Auto;      // transformer and VAE
    Precision textPrecision = Precision::Auto;  // text encoders (T5 never fp16)
    bool releaseTextEncoders = false;           // free the encoders after each prompt (memory over speed)
    bool loadT5 = true;                         // without T5 its part of the context is zeros (saves ~9.5 GB)
    std::filesystem::path taesdPath;            // TAESD3 decoder weights for fast previews (optional)
    std::filesystem::path hashCache;            // where file hashes are remembered (optional)
    int vaeTileSize = 0;                        // latent pixels per tile (0: automatic by size)
    WeightSource weights;                       // the files, or stores held in memory (benchmarks)
};

class Engine {
public:
    explicit Engine(ModelSet models, EngineOptions options = {});
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    const ModelSet& models() const;
    const EngineOptions& options() const;

    // Loads every component not loaded yet (generate() does it on demand). Throws BadInput naming the
    // file for unusable weights.
    void load(GenerationObserver* observer = nullptr);
    bool loaded() const;

    // Runs one request. Throws BadInput for requests the model cannot run (scale beyond its positional
    // table, CUDA on a CPU build, ...). A cancelled run returns what it finished.
    GenerationResult generate(const GenerationRequest& request, GenerationObserver* observer,
                              const CancelToken& cancel);

    // The denoiser's dimensions for the cost model (the model family's table until it is loaded), and
    // the largest latent side it takes.
    DenoiserShape costShape() const;
    int maxLatentSide() const;
    // Throughput learnt from the steps run so far (prior ~400 GFLOP/s before any).
    const StepTimeEstimator& estimator() const;

    // Frees the text encoders (they reload on the next prompt not in the cache).
    void releaseTextEncoders();

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

}  // namespace swd
