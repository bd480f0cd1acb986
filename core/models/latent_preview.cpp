#include "models/latent_preview.h"

#include "util/error.h"

#include <c10/core/InferenceMode.h>

#include <array>

namespace swd {

namespace {

constexpr std::array<const char*, kPreviewModeCount> kPreviewModeNames = {"vae", "taesd", "projection",
                                                                          "off"};
static_assert(static_cast<int>(PreviewMode::Off) + 1 == kPreviewModeCount,
              "kPreviewModeNames needs every mode");

// SD3 latent -> RGB factors, one row per latent channel (R, G, B), and the bias. Source: ComfyUI
// comfy/latent_formats.py, class SD3 (`latent_rgb_factors`, `latent_rgb_factors_bias`); ComfyUI's
// Latent2RGBPreviewer applies them as rgb = F^T·x0 + bias to the diffusion-space x0, then maps [-1, 1] to
// [0, 255].
constexpr float kSd3Factors[16][3] = {
    {-0.0922f, -0.0175f, 0.0749f},  {0.0311f, 0.0633f, 0.0954f},    {0.1994f, 0.0927f, 0.0458f},
    {0.0856f, 0.0339f, 0.0902f},    {0.0587f, 0.0272f, -0.0496f},   {-0.0006f, 0.1104f, 0.0309f},
    {0.0978f, 0.0306f, 0.0427f},    {-0.0042f, 0.1038f, 0.1358f},   {-0.0194f, 0.0020f, 0.0669f},
    {-0.0488f, 0.0130f, -0.0268f},  {0.0922f, 0.0988f, 0.0951f},    {-0.0278f, 0.0524f, -0.0542f},
    {0.0332f, 0.0456f, 0.0895f},    {-0.0069f, -0.0030f, -0.0810f}, {-0.0596f, -0.0465f, -0.0293f},
    {-0.1448f, -0.1463f, -0.1189f},
};
constexpr float kSd3Bias[3] = {0.2394f, 0.2135f, 0.1925f};

// [B, 3, H, W] in [-1, 1] -> [B, H, W, 3] uint8.
at::Tensor signedImageToUint8(const at::Tensor& rgb) {
    return imageToUint8Hwc((rgb.to(at::kFloat) / 2 + 0.5).clamp_(0.0, 1.0));
}

}  // namespace

const char* previewModeName(PreviewMode mode) {
    return kPreviewModeNames[static_cast<std::size_t>(mode)];
}

PreviewMode parsePreviewMode(const std::string& name) {
    for (int i = 0; i < kPreviewModeCount; ++i)
        if (name == kPreviewModeNames[static_cast<std::size_t>(i)]) return static_cast<PreviewMode>(i);
    throwBadInput("unknown preview mode '{}' (expected vae, taesd, projection or off)", name);
}

at::Tensor sd3LatentRgbFactors() {
    return at::from_blob(const_cast<float*>(&kSd3Factors[0][0]), {16, 3}, at::kFloat).clone();
}

at::Tensor sd3LatentRgbBias() {
    return at::from_blob(const_cast<float*>(kSd3Bias), {3}, at::kFloat).clone();
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
