#include "pipeline/cost_model.h"

#include <algorithm>

namespace swd {

double transformerFlops(const TransformerShape& s, int scale, int contextTokens) {
    const double h = s.hidden;
    const double n = static_cast<double>(scale / s.patch) * (scale / s.patch);  // image tokens
    const double l = contextTokens;
    const double t = n + l;
    // Per block: each stream has qkv (3H²), output projection (H²) and a 4x MLP (8H²): 12H² per token;
    // the last block's context stream only projects qkv (3H²). Multiply-adds count 2 FLOPs.
    double flops = 0;
    flops += 2.0 * s.depth * 12.0 * h * h * n;
    flops += 2.0 * ((s.depth - 1) * 12.0 + 3.0) * h * h * l;
    // Joint attention: QKᵀ and PV over all tokens.
    flops += 4.0 * s.depth * t * t * h;
    // MMDiT-X: a second, image-only attention with its own qkv and projection.
    flops += s.dualLayers * (2.0 * 4.0 * h * h * n + 4.0 * n * n * h);
    // Context embedder (joint dim -> hidden) once per forward.
    flops += 2.0 * l * s.jointDim * h;
    return flops;
}

std::vector<double> scheduleStepFlops(const TransformerShape& shape, const Schedule& schedule,
                                      int batchSize) {
    const int context = 77 + schedule.t5Length;
    const double passes = (schedule.guidance > 1.0 ? 2.0 : 1.0) * std::max(1, batchSize);
    std::vector<double> out;
    for (int scale : schedule.scales) out.push_back(passes * transformerFlops(shape, scale, context));
    return out;
}

void StepTimeEstimator::observe(double flops, double ms) {
    if (flops <= 0 || ms <= 0) return;
    const double measured = flops / (ms / 1000.0);
    // The first measurement replaces the prior; later ones are averaged with more weight on the recent
    // (the first steps also pay one-off costs such as warming caches).
    m_flopsPerSecond = m_samples == 0 ? measured : 0.6 * measured + 0.4 * m_flopsPerSecond;
    ++m_samples;
}

double StepTimeEstimator::predictMs(double flops) const {
    return flops / m_flopsPerSecond * 1000.0;
}

double estimateRemainingMs(const std::vector<double>& stepFlops, int finishedSteps,
                           const StepTimeEstimator& estimator) {
    double ms = 0;
    for (std::size_t i = static_cast<std::size_t>(std::max(0, finishedSteps)); i < stepFlops.size(); ++i)
        ms += estimator.predictMs(stepFlops[i]);
    return ms;
}

}  // namespace swd
