// diffusers' AutoencoderKL, the VAE of SD3 / SD3.5 (16 latent channels, no quant convs) and of SD1.5 / SDXL
// (4 latent channels, quant_conv / post_quant_conv 1x1 convs around the latent), with a mid-block attention
// (spec/sd35-architecture.md §4, tests/data/golden/README.md "SD1.5 / SDXL VAE"). Decoder for every final
// image and full-VAE preview, encoder for img2img, tiled decoding for large images. Weights come from a
// diffusers `vae/` folder or from the `first_stage_model.*` tensors of a single-file checkpoint (LDM names,
// see vae_keys.h).
#pragma once

#include "io/tensor_store.h"
#include "models/vae_config.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace swd {

struct NormStatsSession;

// How a decode is split into tiles, so that memory is bounded by the tile size. Overlapping tiles are
// blended with linear ramps over the whole overlap. Each tile is decoded on its own, as diffusers'
// tiled_decode does: its GroupNorms use the tile's statistics and its mid-block attention sees the tile.
// Where a tile's content differs from the whole image's (a smooth sky), its GroupNorm statistics differ and
// its tone shifts against the neighbours. statsPasses >= 1 decodes every tile that many times first only to
// sum up the GroupNorm statistics of the pixels each tile owns; the final pass then normalises every tile
// with these whole-image statistics, so the tiles agree. On small random decoders whose GroupNorm groups
// are well conditioned (channels with distinct offsets, as in trained models) one pass brought the tiled
// decode 1.3-4.6x closer to the untiled one (max error, 5 models), two passes further; on degenerate
// random decoders (no spread within a group) it can make things worse. Each pass costs one more tiled
// decode. Default 1; 0 is the reference's (diffusers') behaviour.
struct TilingOptions {
    enum class Mode { Auto, Always, Never };
    Mode mode = Mode::Auto;
    int tileLatent = 64;     // largest tile side in latent pixels (64 = 512 px at 8 px per latent pixel)
    int overlapLatent = 16;  // smallest overlap between neighbouring tiles, latent pixels
    int statsPasses = 1;     // passes that gather whole-image GroupNorm statistics first (see above)
    // Auto tiles only latents with more than this many pixels (default: above 1024x1024 px).
    int64_t autoAboveLatentPixels = 128 * 128;

    static TilingOptions never() { return {Mode::Never}; }
    static TilingOptions always(int tile = 64, int overlap = 16, int statsPasses = 1) {
        return {Mode::Always, tile, overlap, statsPasses};
    }
};

// One tile span along an axis: [start, start + size) in latent pixels.
struct TileSpan {
    int64_t start = 0;
    int64_t size = 0;
};
// Splits `length` into the fewest tiles of at most `tile` pixels that overlap by at least `overlap`,
// all of one size and evenly spaced; one span when length <= tile.
std::vector<TileSpan> planTiles(int64_t length, int tile, int overlap);

struct VaeLoadOptions {
    std::optional<VaeConfig> config;  // empty: config.json beside the weights, else fromWeights()
    bool withEncoder = true;          // false: skip (and allow absent) encoder tensors; txt2img needs none
    bool channelsLast = true;         // NHWC activations (faster oneDNN convolutions)
    bool fusedUpsample = true;        // nearest x2 + 3x3 conv computed as one 2x2 conv on the small input
    // What diffusers' SDXL pipeline does with an fp16 VAE whose config has force_upcast (the SDXL VAE
    // overflows in fp16): run it in fp32 instead. We upcast rather than refuse, so an fp16 SDXL run still
    // works; dtype() then says kFloat. Off by default because the SD3 and SD1.5 pipelines ignore the flag
    // (their configs carry it too) and decode in fp16.
    bool honourForceUpcast = false;
};

class AutoencoderKl {
public:
    // Loads from diffusers names, LDM names, or a whole single-file checkpoint (the "first_stage_model."
    // or "vae." prefix is found). Missing, unexpected or misshaped tensors are one error listing them.
    // dtype: kFloat (golden parity) or kBFloat16 (fast CPU path); fp16 only on CUDA (or upcast, see
    // VaeLoadOptions::honourForceUpcast).
    static std::unique_ptr<AutoencoderKl> load(const TensorStore& weights, at::ScalarType dtype = at::kFloat,
                                               at::Device device = at::kCPU,
                                               const VaeLoadOptions& options = {});
    ~AutoencoderKl();
    AutoencoderKl(const AutoencoderKl&) = delete;
    AutoencoderKl& operator=(const AutoencoderKl&) = delete;

    // Raw decoder (post_quant_conv first when the config has it): VAE latent [B, C, h, w] -> image
    // [B, 3, 8h, 8w] in about [-1, 1], fp32 on the device.
    at::Tensor decode(const at::Tensor& vaeLatent);
    // Same, tile by tile when `tiling` says so (see TilingOptions).
    at::Tensor decodeTiled(const at::Tensor& vaeLatent, const TilingOptions& tiling);
    // Encoder (then quant_conv when the config has it): image [B, 3, H, W] in [-1, 1] (H, W multiples of 8)
    // -> (mean, logvar) [B, C, H/8, W/8] in fp32; logvar clamped to [-30, 20] like diffusers'
    // DiagonalGaussianDistribution.
    std::pair<at::Tensor, at::Tensor> encode(const at::Tensor& image);
    // What the pipeline does after sampling: decode(z / scaling + shift) with the config's scaling and shift
    // (SD3 1.5305 / 0.0609, SD1.5 0.18215 / 0, SDXL 0.13025 / 0), then clamp(x / 2 + 0.5, 0, 1).
    // Input is the diffusion-space latent; output [B, 3, 8h, 8w] fp32 in [0, 1].
    at::Tensor decodeToImage(const at::Tensor& diffusionLatent, const TilingOptions& tiling = {});

    // Diffusion space -> VAE space with this config's scaling and shift.
    at::Tensor toVaeLatent(const at::Tensor& diffusionLatent) const;

    const VaeConfig& config() const { return m_config; }
    at::ScalarType dtype() const { return m_dtype; }
    at::Device device() const { return m_device; }
    bool hasEncoder() const;
    // Where the weights came from, for messages.
    const std::string& origin() const { return m_origin; }

private:
    struct Weights;
    AutoencoderKl();
    void checkLatent(const at::Tensor& latent, const char* what) const;
    at::Tensor decodeWith(const at::Tensor& vaeLatent, NormStatsSession* session);

    VaeConfig m_config;
    at::ScalarType m_dtype = at::kFloat;
    at::Device m_device = at::kCPU;
    VaeLoadOptions m_options;
    std::string m_origin;
    std::unique_ptr<Weights> m_w;
};

// [B, 3, H, W] in [0, 1] -> [B, H, W, 3] uint8 on the CPU, round(255 x) (diffusers' numpy_to_pil).
at::Tensor imageToUint8Hwc(const at::Tensor& image01);

}  // namespace swd
