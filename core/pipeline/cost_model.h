// What a step costs, so the schedule editor can show an estimate per step and progress can show an
// honest ETA: a step's cost is the transformer's FLOPs at its token count (linear layers grow with the
// tokens, attention with their square), turned into milliseconds by the throughput measured on this
// machine in earlier steps.
#pragma once

#include "sampling/schedule.h"

#include <string>
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

// FLOPs of one transformer forward for one image at latent side `scale` with `contextTokens` text tokens.
double transformerFlops(const TransformerShape& shape, int scale, int contextTokens);

// FLOPs of each step of a schedule (CFG doubles a step's cost), batch size included.
std::vector<double> scheduleStepFlops(const TransformerShape& shape, const Schedule& schedule,
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
    TransformerShape shape;          // the loaded denoiser's (the family's table before a run)
    double flopsPerSecond = 4.0e11;  // measured on this machine by the last run
    bool calibrated = false;
    int maxLatentSide = 0;  // 0: not known yet
    std::string modelName;
};

// Remaining time of a run after `finishedSteps` steps, by the estimator's throughput.
double estimateRemainingMs(const std::vector<double>& stepFlops, int finishedSteps,
                           const StepTimeEstimator& estimator);

}  // namespace swd
