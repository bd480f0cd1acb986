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

at::Tensor projectLatentToRgb(const at::Tensor& latent) {
    if (!latent.defined() || latent.dim() != 4 || latent.size(1) != 16)
        throwBadInput("latent preview: expected an SD3 latent [batch, 16, height, width], got {}",
                      latent.defined() ? shapeToString(latent.sizes()) : "nothing");
    if (!at::isFloatingType(latent.scalar_type()))
        throwBadInput("latent preview: the latent must be floating point, got {}",
                      c10::toString(latent.scalar_type()));
    c10::InferenceMode guard;
    const at::Tensor x = latent.to(at::kFloat).permute({0, 2, 3, 1});  // [B, h, w, 16]
    const at::Tensor f = sd3LatentRgbFactors().to(x.device());
    const at::Tensor rgb = at::matmul(x, f) + sd3LatentRgbBias().to(x.device());  // [B, h, w, 3]
    return rgb.permute({0, 3, 1, 2}).contiguous();
}

LatentPreviewer::LatentPreviewer(PreviewMode mode, std::shared_ptr<Sd3Vae> vae,
                                 std::shared_ptr<TaesdDecoder> taesd, TilingOptions tiling)
    : m_mode(mode), m_vae(std::move(vae)), m_taesd(std::move(taesd)), m_tiling(tiling) {
    if (mode == PreviewMode::FullVae && !m_vae)
        throwBadInput("preview mode 'vae' needs the loaded VAE; choose 'projection' or 'off' otherwise");
    if (mode == PreviewMode::Taesd) {
        if (!m_taesd)
            throwBadInput(
                "preview mode 'taesd' needs TAESD weights (taesd3_decoder.safetensors or the "
                "madebyollin/taesd3 folder); choose 'projection' without them");
        if (m_taesd->latentChannels() != 16)
            throwBadInput("{}: this TAESD decodes {}-channel latents; SD3 needs taesd3 (16 channels)",
                          m_taesd->origin(), m_taesd->latentChannels());
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
            return signedImageToUint8(projectLatentToRgb(diffusionLatent));
        case PreviewMode::Off:
            return {};
    }
    return {};
}

}  // namespace swd
