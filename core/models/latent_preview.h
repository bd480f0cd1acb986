// Per-step preview images from a latent: the full VAE (exact, slowest), the TAESD tiny decoder (fast,
// close), or a linear latent -> RGB projection (instant, blurry colours at latent resolution). The engine
// picks one per run; the UI receives RGB8 buffers.
#pragma once

#include "models/vae.h"
#include "models/vae_tiny.h"

#include <ATen/ATen.h>

#include <memory>
#include <string>

namespace swd {

enum class PreviewMode { FullVae, Taesd, Projection, Off };
inline constexpr int kPreviewModeCount = 4;

// "vae", "taesd", "projection", "off" (the names the CLI and settings use).
const char* previewModeName(PreviewMode mode);
// The inverse of previewModeName; throws BadInput listing the names for anything else.
PreviewMode parsePreviewMode(const std::string& name);

// SD3's linear latent -> RGB approximation: rgb = latent · F + bias per pixel, F [16, 3], bias [3], giving
// values in about [-1, 1]. Numbers from ComfyUI, comfy/latent_formats.py, class SD3
// (latent_rgb_factors, latent_rgb_factors_bias), applied there to the diffusion-space x0 of each step.
at::Tensor sd3LatentRgbFactors();  // [16, 3] fp32
at::Tensor sd3LatentRgbBias();     // [3] fp32
// Diffusion-space latent [B, 16, h, w] -> [B, 3, h, w] fp32 in about [-1, 1] (not clamped).
at::Tensor projectLatentToRgb(const at::Tensor& diffusionLatent);

class LatentPreviewer {
public:
    // The models the mode needs must be given (FullVae: vae; Taesd: taesd), else BadInput.
    explicit LatentPreviewer(PreviewMode mode, std::shared_ptr<Sd3Vae> vae = nullptr,
                             std::shared_ptr<TaesdDecoder> taesd = nullptr, TilingOptions tiling = {});

    PreviewMode mode() const { return m_mode; }
    // Image pixels per latent pixel: 1 for Projection, the VAE factor (8) for FullVae and Taesd, 0 for Off.
    int pixelsPerLatent() const;

    // Diffusion-space latent [B, 16, h, w] (before /scaling + shift) -> RGB [B, H, W, 3] uint8 on the CPU,
    // contiguous (row-major RGB8 per image). Off returns an undefined tensor.
    at::Tensor preview(const at::Tensor& diffusionLatent);

private:
    PreviewMode m_mode;
    std::shared_ptr<Sd3Vae> m_vae;
    std::shared_ptr<TaesdDecoder> m_taesd;
    TilingOptions m_tiling;
};

}  // namespace swd
