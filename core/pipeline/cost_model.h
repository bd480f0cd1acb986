// What a step costs, so the schedule editor can show an estimate per step and progress can show an
// honest ETA: a step's cost is the denoiser's FLOPs at its latent size (an MMDiT's linear layers grow with
// the tokens, attention with their square; a UNet's convolutions with the pixels of each level, its
// attention with their square), turned into milliseconds by the throughput measured on this machine in
// earlier steps.
#pragma once

#include "models/unet_config.h"
#include "sampling/schedule.h"

#include <string>
#include <variant>
#include <vector>

namespace swd {

// The transformer dimensions the cost depends on.
struct TransformerShape {
    int hidden = 1536;    // SD3.5 Medium; Large 2432
    int depth = 24;       // Large 38
    int dualLayers = 13;  // MMDiT-X image self-attention layers (Large 0)
    int patch = 2;
    int jointDim = 4096;  // context width before the context embedder

    static TransformerShape sd35Medium() { return {}; }
    static TransformerShape sd35Large() { return {2432, 38, 0, 2, 4096}; }
};

// A UNet's cost depends on its whole configuration: channels and block types per level, attention
// layers, the cross-attention width.
struct UnetShape {
    UnetConfig config;

    static UnetShape sd15() { return {UnetConfig::sd15()}; }
    static UnetShape sdxl() { return {UnetConfig::sdxl()}; }
};

// The denoiser one step runs: an MMDiT or a UNet. One type, so that the step costs, the ETA and the
// schedule editor take either through the same functions. Converts implicitly from either shape.
class DenoiserShape {
public:
    DenoiserShape() = default;                                                    // SD3.5 Medium
    DenoiserShape(const TransformerShape& transformer) : m_shape(transformer) {}  // NOLINT: implicit
    DenoiserShape(const UnetShape& unet) : m_shape(unet) {}                       // NOLINT: implicit

    const TransformerShape* transformer() const { return std::get_if<TransformerShape>(&m_shape); }
    const UnetShape* unet() const { return std::get_if<UnetShape>(&m_shape); }
    // Latent pixels per token side (the MMDiT's patch; 1 for a UNet, whose first level attends per pixel).
    int patch() const { return transformer() ? transformer()->patch : 1; }
    // Text tokens the denoiser attends to under `schedule` (CLIP + T5 for an MMDiT, CLIP's 77 for a UNet).
    int contextTokens(const Schedule& schedule) const;
    // FLOPs of one forward for one image at latent side `scale` with `contextTokens` text tokens.
    double forwardFlops(int scale, int contextTokens) const;

private:
    std::variant<TransformerShape, UnetShape> m_shape;
};

// FLOPs of one transformer forward for one image at latent side `scale` with `contextTokens` text tokens.
double transformerFlops(const TransformerShape& shape, int scale, int contextTokens);

// FLOPs of one UNet forward for one image at latent side `scale` (odd sides allowed: each level is the
// previous one halved, rounded up) with `contextTokens` text tokens: convolutions, resnets (+ their
// time projections), the attention blocks' projections, self-attention (tokens squared), cross-attention
// and GEGLU feed-forward, the time / added-time embeddings. Norms and element-wise ops are not counted.
double unetFlops(const UnetConfig& config, int scale, int contextTokens = 77);

// FLOPs of each step of a schedule (CFG doubles a step's cost), batch size included.
std::vector<double> scheduleStepFlops(const DenoiserShape& shape, const Schedule& schedule,
                                      int batchSize = 1);

// Learns the machine's throughput from finished steps and predicts the time of the others.
class StepTimeEstimator {
public:
    // `flopsPerSecond`: the prior before any step was measured (default: ~400 GFLOP/s, this CPU in bf16).
    explicit StepTimeEstimator(double flopsPerSecond = 4.0e11) : m_flopsPerSecond(flopsPerSecond) {}

    void observe(double flops, double ms);
    double predictMs(double flops) const;
    double flopsPerSecond() const { return m_flopsPerSecond; }
    bool calibrated() const { return m_samples > 0; }

private:
    double m_flopsPerSecond;
    int m_samples = 0;
};

// What the schedule editor and the progress need of the cost model.
struct CostInfo {
    DenoiserShape shape;             // the loaded denoiser's (the family's table before a run)
    double flopsPerSecond = 4.0e11;  // measured on this machine by the last run
    bool calibrated = false;
    int maxLatentSide = 0;  // 0: not known yet
    std::string modelName;
};

// Remaining time of a run after `finishedSteps` steps, by the estimator's throughput.
double estimateRemainingMs(const std::vector<double>& stepFlops, int finishedSteps,
                           const StepTimeEstimator& estimator);

}  // namespace swd
