// diffusers' UNet2DConditionModel as SD1.5 and SDXL use it: sinusoidal timestep embedding (+ SDXL's
// text_time added embedding), resnets, Transformer2DModel attention blocks (self-attention,
// cross-attention on the text states, GEGLU), skips, nearest upsampling to the skip's size (odd latent
// sizes work). Semantics: tests/data/golden/README.md, "SD1.5 / SDXL UNet". Activations are channels-last;
// on the CPU the matmuls and attention run through oneDNN (linear.h, attention.h), GroupNorm(+SiLU) and the
// convolutions through the VAE's kernels (vae_ops.h).
#pragma once

#include "io/tensor_store.h"
#include "models/unet_config.h"
#include "util/kinds.h"

#include <ATen/ATen.h>

#include <memory>
#include <optional>
#include <string>

namespace swd {

struct UnetLoadOptions {
    std::optional<MatmulBackend> matmul;  // empty: oneDNN where it runs the dtype, else ATen
    AttentionBackend attention = AttentionBackend::Auto;
};

class SdUnet {
public:
    // Weights in diffusers names (a `unet/` folder's safetensors, any float dtype). Missing, unexpected and
    // misshaped tensors are reported together in one BadInput. dtype: kFloat (golden parity) or kBFloat16.
    static std::unique_ptr<SdUnet> load(const TensorStore& weights, const UnetConfig& config,
                                        at::ScalarType dtype = at::kFloat, at::Device device = at::kCPU,
                                        const UnetLoadOptions& options = {});
    ~SdUnet();
    SdUnet(const SdUnet&) = delete;
    SdUnet& operator=(const SdUnet&) = delete;

    // sample [B, in, H, W] (any H, W >= 1), timestep I64 or float: [B], [1] or 0-d (broadcast to the
    // batch), encoderHiddenStates [B, S, cross_attention_dim]; SDXL also textEmbeds [B, text dim] and
    // timeIds [B, 6]. Returns the model output (epsilon) [B, out, H, W] in fp32 on the device.
    at::Tensor forward(const at::Tensor& sample, const at::Tensor& timestep,
                       const at::Tensor& encoderHiddenStates, const at::Tensor& textEmbeds = {},
                       const at::Tensor& timeIds = {}) const;

    const UnetConfig& config() const { return m_config; }
    at::ScalarType dtype() const { return m_dtype; }
    at::Device device() const { return m_device; }
    MatmulBackend matmulBackend() const { return m_matmul; }
    const std::string& origin() const { return m_origin; }

private:
    struct Weights;
    SdUnet();
    void checkInputs(const at::Tensor& sample, const at::Tensor& timestep, const at::Tensor& context,
                     const at::Tensor& textEmbeds, const at::Tensor& timeIds) const;
    at::Tensor embedding(const at::Tensor& timestep, int64_t batch, const at::Tensor& textEmbeds,
                         const at::Tensor& timeIds) const;

    UnetConfig m_config;
    at::ScalarType m_dtype = at::kFloat;
    at::Device m_device = at::kCPU;
    MatmulBackend m_matmul = MatmulBackend::Aten;
    AttentionBackend m_attention = AttentionBackend::Auto;
    std::string m_origin;
    std::unique_ptr<Weights> m_w;
};

// The sinusoidal embedding diffusers' Timesteps module computes, in float32 whatever the model dtype:
// t [N] -> [N, dim], cos first when flipSinToCos. freqs = exp(-ln(10000)·i / (dim/2 − shift)).
at::Tensor unetTimestepEmbedding(const at::Tensor& t, int64_t dim, bool flipSinToCos, double freqShift);

}  // namespace swd
