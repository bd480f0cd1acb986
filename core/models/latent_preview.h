// Per-step preview images from a latent: the full VAE (exact, slowest), the TAESD tiny decoder (fast,
// close), or a linear latent -> RGB projection (instant, blurry colours at latent resolution). The engine
// picks one per run; the UI receives RGB8 buffers.
#pragma once

#include "models/vae.h"
#include "models/vae_tiny.h"
#include "util/kinds.h"

#include <ATen/ATen.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

namespace swd {

// SD3 latent -> RGB factors, one row per latent channel (R, G, B), and the bias. Source: ComfyUI
// comfy/latent_formats.py, class SD3 (`latent_rgb_factors`, `latent_rgb_factors_bias`); ComfyUI's
// Latent2RGBPreviewer applies them as rgb = F^T·x0 + bias to the diffusion-space x0, then maps [-1, 1] to
// [0, 255].
inline constexpr float kSd3LatentRgbFactors[16][3] = {
    {-0.0922f, -0.0175f, 0.0749f},  {0.0311f, 0.0633f, 0.0954f},    {0.1994f, 0.0927f, 0.0458f},
    {0.0856f, 0.0339f, 0.0902f},    {0.0587f, 0.0272f, -0.0496f},   {-0.0006f, 0.1104f, 0.0309f},
    {0.0978f, 0.0306f, 0.0427f},    {-0.0042f, 0.1038f, 0.1358f},   {-0.0194f, 0.0020f, 0.0669f},
    {-0.0488f, 0.0130f, -0.0268f},  {0.0922f, 0.0988f, 0.0951f},    {-0.0278f, 0.0524f, -0.0542f},
    {0.0332f, 0.0456f, 0.0895f},    {-0.0069f, -0.0030f, -0.0810f}, {-0.0596f, -0.0465f, -0.0293f},
    {-0.1448f, -0.1463f, -0.1189f},
};
inline constexpr float kSd3LatentRgbBias[3] = {0.2394f, 0.2135f, 0.1925f};

// SD1.5 and SDXL (4 latent channels) latent -> RGB factors and biases, with the same convention as SD3's
// (rows R, G, B per channel, applied to the diffusion-space latent). Source: ComfyUI
// comfy/latent_formats.py, classes SD15 (`latent_rgb_factors`, no bias) and SDXL (`latent_rgb_factors`,
// `latent_rgb_factors_bias`), the numbers most previewers publish for these models.
inline constexpr float kSd15LatentRgbFactors[4][3] = {
    {0.3512f, 0.2297f, 0.3227f},
    {0.3250f, 0.4974f, 0.2350f},
    {-0.2829f, 0.1762f, 0.2721f},
    {-0.2120f, -0.2616f, -0.7177f},
};
inline constexpr float kSd15LatentRgbBias[3] = {0.0f, 0.0f, 0.0f};
inline constexpr float kSdxlLatentRgbFactors[4][3] = {
    {0.3651f, 0.4232f, 0.4341f},
    {-0.2533f, -0.0042f, 0.1068f},
    {0.1076f, 0.1111f, -0.0362f},
    {-0.3165f, -0.2492f, -0.2188f},
};
inline constexpr float kSdxlLatentRgbBias[3] = {0.1084f, -0.0175f, -0.0011f};

// A linear latent -> RGB approximation: rgb = latent · F + bias per pixel, F [C, 3], giving values in about
// [-1, 1], for the latents of one model family.
struct LatentRgbProjection {
    const char* model = "SD3";                  // for messages
    const char* taesdName = "taesd3";           // the TAESD decoder of these latents, for messages
    std::vector<std::array<float, 3>> factors;  // one row per latent channel
    std::array<float, 3> bias{};

    int channels() const { return static_cast<int>(factors.size()); }
    static LatentRgbProjection sd3();
    static LatentRgbProjection sd15();
    static LatentRgbProjection sdxl();
};

// SD3's factors and bias as tensors (numbers from ComfyUI, class SD3, see above).
at::Tensor sd3LatentRgbFactors();  // [16, 3] fp32
at::Tensor sd3LatentRgbBias();     // [3] fp32
// Diffusion-space latent [B, C, h, w] -> [B, 3, h, w] fp32 in about [-1, 1] (not clamped); C must be the
// projection's channel count.
at::Tensor projectLatentToRgb(const at::Tensor& diffusionLatent,
                              const LatentRgbProjection& projection = LatentRgbProjection::sd3());

class LatentPreviewer {
public:
    // The models the mode needs must be given (FullVae: vae; Taesd: taesd, for `projection`'s channel
    // count), else BadInput. `projection` says the model family's latent format (SD3 by default).
    explicit LatentPreviewer(PreviewMode mode, std::shared_ptr<AutoencoderKl> vae = nullptr,
                             std::shared_ptr<TaesdDecoder> taesd = nullptr, TilingOptions tiling = {},
                             LatentRgbProjection projection = LatentRgbProjection::sd3());

    PreviewMode mode() const { return m_mode; }
    // Image pixels per latent pixel: 1 for Projection, the VAE factor (8) for FullVae and Taesd, 0 for Off.
    int pixelsPerLatent() const;

    // Diffusion-space latent [B, C, h, w] (before /scaling + shift) -> RGB [B, H, W, 3] uint8 on the CPU,
    // contiguous (row-major RGB8 per image). Off returns an undefined tensor.
    at::Tensor preview(const at::Tensor& diffusionLatent);

private:
    PreviewMode m_mode;
    std::shared_ptr<AutoencoderKl> m_vae;
    std::shared_ptr<TaesdDecoder> m_taesd;
    TilingOptions m_tiling;
    LatentRgbProjection m_projection;
};

}  // namespace swd
