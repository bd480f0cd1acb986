// TAESD decoder (madebyollin/taesd, "Tiny AutoEncoder for Stable Diffusion"; taesd3 for SD3's 16-channel
// latents, taesd / taesdxl for SD1.5's / SDXL's 4-channel ones: one architecture, the latent width read from
// the first conv): a ~1.2M-parameter distilled decoder for fast per-step previews. Own implementation from
// the published architecture:
//   tanh(x / 3)·3 → conv3x3(C_lat, 64) → ReLU → 3 Blocks → up x2 → conv3x3 (no bias) → 3 Blocks → up x2 →
//   conv (no bias) → 3 Blocks → up x2 → conv (no bias) → 1 Block → conv3x3(64, 3)   → RGB in about [0, 1]
// Block(x) = ReLU(conv(ReLU(conv(ReLU(conv(x))))) + x), convs 3x3 with bias; "up" is nearest-neighbour.
// Input: the diffusion-space latent (what the transformer / UNet produces; the AutoencoderTiny configs have
// scaling_factor 1, and ComfyUI feeds its TAESD previewer the sampler's x0 directly).
// Files: `taesd3_decoder.safetensors` (nn.Sequential names "1.weight", "3.conv.0.weight", ...) or the
// diffusers AutoencoderTiny `diffusion_pytorch_model.safetensors` ("decoder.layers.0.weight", ..., the
// same modules numbered from 0; its encoder.* tensors are not used).
// No reference outputs exist for it here: tests cover shapes, determinism, both file layouts and load errors.
#pragma once

#include "io/tensor_store.h"

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace swd {

enum class TaesdLayout { TaesdFile, Diffusers };

// The decoder's parameters in the taesd file names ("1.weight", ...), for `latentChannels` inputs.
std::vector<std::pair<std::string, std::vector<int64_t>>> taesdParameterShapes(int latentChannels,
                                                                               int channels = 64);
// "3.conv.0.weight" -> "decoder.layers.2.conv.0.weight".
std::string taesdDiffusersName(const std::string& taesdName);

class TaesdDecoder {
public:
    // From a taesd decoder file, an AutoencoderTiny file (or folder), or a "taesd_decoder." sub-view.
    // Missing, unexpected or misshaped tensors are one error listing them.
    static std::unique_ptr<TaesdDecoder> load(const TensorStore& weights, at::ScalarType dtype = at::kFloat,
                                              at::Device device = at::kCPU);
    ~TaesdDecoder();

    // Diffusion-space latent [B, C_lat, h, w] -> image [B, 3, 8h, 8w] in [0, 1] (clamped), fp32.
    at::Tensor decodeToImage(const at::Tensor& diffusionLatent);

    int latentChannels() const { return m_latentChannels; }
    TaesdLayout layout() const { return m_layout; }
    const std::string& origin() const { return m_origin; }

private:
    struct Weights;
    TaesdDecoder();

    int m_latentChannels = 16;
    TaesdLayout m_layout = TaesdLayout::TaesdFile;
    at::ScalarType m_dtype = at::kFloat;
    at::Device m_device = at::kCPU;
    std::string m_origin;
    std::unique_ptr<Weights> m_w;
};

}  // namespace swd
