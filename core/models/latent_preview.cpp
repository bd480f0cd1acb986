#include "models/latent_preview.h"

#include "util/error.h"

#include <c10/core/InferenceMode.h>

#include <array>

namespace swd {

namespace {

// [B, 3, H, W] in [-1, 1] -> [B, H, W, 3] uint8.
at::Tensor signedImageToUint8(const at::Tensor& rgb) {
    return imageToUint8Hwc((rgb.to(at::kFloat) / 2 + 0.5).clamp_(0.0, 1.0));
}

}  // namespace

at::Tensor sd3LatentRgbFactors() {
    return at::from_blob(const_cast<float*>(&kSd3LatentRgbFactors[0][0]), {16, 3}, at::kFloat).clone();
}

at::Tensor sd3LatentRgbBias() {
    return at::from_blob(const_cast<float*>(kSd3LatentRgbBias), {3}, at::kFloat).clone();
}

namespace {

static_assert(sizeof(std::array<float, 3>) == 3 * sizeof(float), "factor rows must be packed");

template <std::size_t C>
LatentRgbProjection projectionOf(const char* model, const char* taesdName, const float (&factors)[C][3],
                                 const float (&bias)[3]) {
    LatentRgbProjection p;
    p.model = model;
    p.taesdName = taesdName;
    for (const auto& row : factors) p.factors.push_back({row[0], row[1], row[2]});
    p.bias = {bias[0], bias[1], bias[2]};
    return p;
}

}  // namespace

LatentRgbProjection LatentRgbProjection::sd3() {
    return projectionOf("SD3", "taesd3", kSd3LatentRgbFactors, kSd3LatentRgbBias);
}

LatentRgbProjection LatentRgbProjection::sd15() {
    return projectionOf("SD1.5", "taesd", kSd15LatentRgbFactors, kSd15LatentRgbBias);
}

LatentRgbProjection LatentRgbProjection::sdxl() {
    return projectionOf("SDXL", "taesdxl", kSdxlLatentRgbFactors, kSdxlLatentRgbBias);
}

at::Tensor projectLatentToRgb(const at::Tensor& latent, const LatentRgbProjection& projection) {
    const int channels = projection.channels();
    if (channels < 1) throwInternal("latent preview: the {} projection has no factors", projection.model);
    if (!latent.defined() || latent.dim() != 4 || latent.size(1) != channels)
        throwBadInput("latent preview: expected an {} latent [batch, {}, height, width], got {}",
                      projection.model, channels,
                      latent.defined() ? shapeToString(latent.sizes()) : "nothing");
    if (!at::isFloatingType(latent.scalar_type()))
        throwBadInput("latent preview: the latent must be floating point, got {}",
                      c10::toString(latent.scalar_type()));
    c10::InferenceMode guard;
    const at::Tensor x = latent.to(at::kFloat).permute({0, 2, 3, 1});  // [B, h, w, C]
    // Copies of the projection's numbers (from_blob alone would alias them).
    auto* rows = const_cast<float*>(projection.factors.front().data());
    const at::Tensor f = at::from_blob(rows, {channels, 3}, at::kFloat).clone().to(x.device());
    auto* bias = const_cast<float*>(projection.bias.data());
    const at::Tensor b = at::from_blob(bias, {3}, at::kFloat).clone().to(x.device());
    const at::Tensor rgb = at::matmul(x, f) + b;  // [B, h, w, 3]
    return rgb.permute({0, 3, 1, 2}).contiguous();
}

LatentPreviewer::LatentPreviewer(PreviewMode mode, std::shared_ptr<AutoencoderKl> vae,
                                 std::shared_ptr<TaesdDecoder> taesd, TilingOptions tiling,
                                 LatentRgbProjection projection)
    : m_mode(mode)
    , m_vae(std::move(vae))
    , m_taesd(std::move(taesd))
    , m_tiling(tiling)
    , m_projection(std::move(projection)) {
    if (mode == PreviewMode::FullVae && !m_vae)
        throwBadInput("preview mode 'vae' needs the loaded VAE; choose 'projection' or 'off' otherwise");
    if (mode == PreviewMode::Taesd) {
        if (!m_taesd)
            throwBadInput(
                "preview mode 'taesd' needs TAESD weights ({}_decoder.safetensors or the madebyollin/{} "
                "folder); choose 'projection' without them",
                m_projection.taesdName, m_projection.taesdName);
        if (m_taesd->latentChannels() != m_projection.channels())
            throwBadInput("{}: this TAESD decodes {}-channel latents; {} needs {} ({} channels)",
                          m_taesd->origin(), m_taesd->latentChannels(), m_projection.model,
                          m_projection.taesdName, m_projection.channels());
    }
}

int LatentPreviewer::pixelsPerLatent() const {
    switch (m_mode) {
        case PreviewMode::FullVae:
            return m_vae->config().downsampleFactor();
        case PreviewMode::Taesd:
            return 8;
        case PreviewMode::Projection:
            return 1;
        case PreviewMode::Off:
            return 0;
    }
    return 0;
}

at::Tensor LatentPreviewer::preview(const at::Tensor& diffusionLatent) {
    switch (m_mode) {
        case PreviewMode::FullVae:
            return imageToUint8Hwc(m_vae->decodeToImage(diffusionLatent, m_tiling));
        case PreviewMode::Taesd:
            return imageToUint8Hwc(m_taesd->decodeToImage(diffusionLatent));
        case PreviewMode::Projection:
            return signedImageToUint8(projectLatentToRgb(diffusionLatent, m_projection));
        case PreviewMode::Off:
            return {};
    }
    return {};
}

}  // namespace swd
