#include "pipeline/cost_model.h"

#include <algorithm>

namespace swd {

namespace {

// Helper for std::visit over the denoiser kinds.
template <class... F>
struct Overloaded : F... {
    using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

// Multiply-adds count 2 FLOPs throughout.
double convFlops(double pixels, double cin, double cout, double kernel) {
    return 2.0 * pixels * kernel * kernel * cin * cout;
}

// The UNet's counting, one method per building block; `L` text tokens of width `crossDim`.
struct UnetCounter {
    const UnetConfig& c;
    double L;
    double temb = 4.0 * c.blockOutChannels.at(0);

    // Two 3x3 convolutions, the 1x1 shortcut when the width changes, the time-embedding projection.
    double resnet(double pixels, double cin, double cout) const {
        double f = convFlops(pixels, cin, cout, 3) + convFlops(pixels, cout, cout, 3);
        if (cin != cout) f += convFlops(pixels, cin, cout, 1);
        return f + 2.0 * temb * cout;
    }

    // Transformer2DModel: proj_in / proj_out (1x1 conv or linear: the same count) and `layers` blocks
    // of self-attention (q, k, v, out; QKᵀ and PV over N² pairs), cross-attention (q and out on the
    // pixels, k and v on the text; QKᵀ and PV over N·L pairs) and GEGLU (c -> 2·4c, then 4c -> c).
    double transformer(double n, double ch, int layers) const {
        const double d = c.crossAttentionDim;
        double block = 2.0 * n * 4.0 * ch * ch + 4.0 * n * n * ch;                     // self-attention
        block += 2.0 * n * 2.0 * ch * ch + 2.0 * L * 2.0 * d * ch + 4.0 * n * L * ch;  // cross-attention
        block += 2.0 * n * (8.0 + 4.0) * ch * ch;                                      // GEGLU
        return 2.0 * 2.0 * n * ch * ch + layers * block;
    }
};

}  // namespace

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

// Walks the blocks as UnetConfig::parameterShapes lists them, each at its level's resolution.
double unetFlops(const UnetConfig& c, int scale, int contextTokens) {
    const int levels = c.numLevels();
    const auto& ch = c.blockOutChannels;
    const UnetCounter k{c, static_cast<double>(contextTokens)};
    std::vector<double> px(static_cast<std::size_t>(levels));  // pixels per level; stride 2 rounds up
    for (int i = 0, side = std::max(scale, 1); i < levels; ++i, side = (side + 1) / 2)
        px[static_cast<std::size_t>(i)] = static_cast<double>(side) * side;
    const auto at = [&](const auto& v, int i) { return static_cast<double>(v[static_cast<std::size_t>(i)]); };
    const auto layersAt = [&](int i) { return c.transformerLayers[static_cast<std::size_t>(i)]; };

    double f = convFlops(px[0], c.inChannels, ch[0], 3) + convFlops(px[0], ch[0], c.outChannels, 3);
    f += 2.0 * (ch[0] * k.temb + k.temb * k.temb);  // timestep MLP
    if (c.textTimeEmbedding) f += 2.0 * (c.projectionClassEmbeddingsInputDim * k.temb + k.temb * k.temb);
    double prev = ch[0];
    for (int i = 0; i < levels; ++i) {
        const double out = at(ch, i);
        const bool attn = c.downBlockTypes[static_cast<std::size_t>(i)] == UnetConfig::DownType::CrossAttn;
        for (int j = 0; j < c.layersPerBlock; ++j) {
            f += k.resnet(at(px, i), j == 0 ? prev : out, out);
            if (attn) f += k.transformer(at(px, i), out, layersAt(i));
        }
        if (i + 1 < levels) f += convFlops(at(px, i + 1), out, out, 3);  // stride-2 downsampler
        prev = out;
    }
    const double top = ch.back();
    f += 2.0 * k.resnet(px.back(), top, top) + k.transformer(px.back(), top, layersAt(levels - 1));
    double outCh = top;
    for (int i = 0; i < levels; ++i) {
        const int level = levels - 1 - i;
        const double prevOut = outCh, input = at(ch, std::max(level - 1, 0));
        outCh = at(ch, level);
        const bool attn = c.upBlockTypes[static_cast<std::size_t>(i)] == UnetConfig::UpType::CrossAttn;
        const int n = c.layersPerBlock + 1;
        for (int j = 0; j < n; ++j) {
            const double skip = j == n - 1 ? input : outCh;
            f += k.resnet(at(px, level), (j == 0 ? prevOut : outCh) + skip, outCh);
            if (attn) f += k.transformer(at(px, level), outCh, layersAt(level));
        }
        if (level > 0) f += convFlops(at(px, level - 1), outCh, outCh, 3);  // upsampler: conv after x2
    }
    return f;
}

int DenoiserShape::contextTokens(const Schedule& schedule) const {
    return unet() ? 77 : 77 + schedule.t5Length;
}

double DenoiserShape::forwardFlops(int scale, int contextTokens) const {
    return std::visit(
        Overloaded{[&](const TransformerShape& t) { return transformerFlops(t, scale, contextTokens); },
                   [&](const UnetShape& u) { return unetFlops(u.config, scale, contextTokens); }},
        m_shape);
}

std::vector<double> scheduleStepFlops(const DenoiserShape& shape, const Schedule& schedule, int batchSize) {
    const int context = shape.contextTokens(schedule);
    const double passes = (schedule.guidance > 1.0 ? 2.0 : 1.0) * std::max(1, batchSize);
    std::vector<double> out;
    for (int scale : schedule.scales) out.push_back(passes * shape.forwardFlops(scale, context));
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
