// The SD3 / SD3.5 denoiser (MMDiT; MMDiT-X for SD3.5 Medium), one config-driven implementation of
// diffusers' SD3Transformer2DModel: patch + cropped pos-embed, timestep + pooled conditioning, joint
// attention blocks (optional qk RMSNorm, optional image-only second attention, context_pre_only last
// block), AdaLN final layer, unpatchify. Loads both weight layouts; LoRA adapters run unmerged and switch
// without reloading (see setAdapter).
//
// Numerics: the residual streams are fp32 whatever the weights are; matmul inputs are in the weight
// dtype (fp32 for golden parity, bf16 for speed on the CPU); timestep embedding, LayerNorm and RMSNorm
// statistics are fp32. One forward at a time (the engine's worker thread).
#pragma once

#include "io/tensor_store.h"
#include "models/attention.h"
#include "models/linear.h"
#include "models/lora.h"
#include "models/mmdit_config.h"

#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace swd {

struct MMDiTLoadOptions {
    // The config; default: config.json beside the weights (diffusers folder), else inferred from them.
    std::optional<MMDiTConfig> config;
    // Matmul backend; default: oneDNN for CPU fp32 / bf16 when the build has it, ATen otherwise.
    std::optional<MatmulBackend> matmul;
    AttentionBackend attention = AttentionBackend::Auto;
    // oneDNN backend: reorder the matmul weights once into oneDNN's blocked layout (~9% faster matmuls)
    // and hold only that copy. Weights mapped from a checkpoint file have their file pages released
    // after packing (madvise), so resident memory stays about one copy of the weights during the load.
    bool packWeights = true;
};

struct MMDiTForwardOptions {
    std::vector<int> skipLayers;  // blocks passed through unchanged (skip-layer guidance)
};

class MMDiT {
public:
    // `weights`: diffusers names, or the original single-file names (with or without the
    // "model.diffusion_model." prefix; a whole single-file checkpoint with VAE / text encoders is fine).
    // The layout is detected. Missing or unexpected transformer tensors are an error that lists them;
    // a wrong shape names the tensor. Weights already in `dtype` on `device` are used without a copy.
    static std::unique_ptr<MMDiT> load(const TensorStore& weights, at::ScalarType dtype, at::Device device,
                                       const MMDiTLoadOptions& options = {});

    // x [B, in_channels, H, W] (any float dtype), timestep [B] = 1000·sigma, context [B, L, joint_dim],
    // pooled [B, pooled_dim] -> fp32 velocity [B, out_channels, H, W]. H and W must be multiples of the
    // patch size and at most maxLatentSide().
    at::Tensor forward(const at::Tensor& x, const at::Tensor& timestep, const at::Tensor& context,
                       const at::Tensor& pooled, const MMDiTForwardOptions& options = {});

    // Computes the AdaLN modulations of every block for all combinations of these timesteps [S] and
    // pooled rows [P, pooled_dim] in one pass over the AdaLN weights, and keeps them for forward() calls
    // whose (timestep, pooled) rows match exactly. Every forward otherwise reads all AdaLN weights for
    // one or two rows (1.5 GB for SD3.5 Medium, 5.4 GB for Large: memory-bound), so a sampler that knows
    // its timesteps saves that per step. Replaces the previous cache; results equal the uncached ones up
    // to float rounding.
    void prepareConditioning(const at::Tensor& timesteps, const at::Tensor& pooled);
    void clearConditioning() { m_conditioning.reset(); }
    bool hasPreparedConditioning() const { return m_conditioning != nullptr; }

    // Switches a LoRA on (applied at run time, unmerged: the base weights stay as loaded) or off
    // (nullptr). Throws BadInput listing what does not fit; the model is unchanged then. Switching back
    // to the last adapter reuses its converted factors.
    void setAdapter(std::shared_ptr<const LoraAdapter> adapter);
    const std::shared_ptr<const LoraAdapter>& adapter() const { return m_adapter; }

    const MMDiTConfig& config() const { return m_config; }
    MMDiTLayout sourceLayout() const { return m_layout; }
    at::ScalarType dtype() const { return m_dtype; }
    at::Device device() const { return m_device; }
    MatmulBackend matmulBackend() const { return m_matmul; }
    AttentionBackend attentionBackend() const { return m_attention; }

    // Every parameter in diffusers naming and convention (q/k/v separate, norm_out as (scale, shift)),
    // whatever layout it was loaded from.
    std::vector<std::pair<std::string, at::Tensor>> namedParameters() const;
    std::uint64_t parameterBytes() const;
    // The buffers the forward reads its matmul weights from (packed or plain), e.g. to check that
    // switching adapters neither reloads nor copies the base weights.
    std::vector<const void*> weightStorage() const;

    // Names and shapes of every tensor a checkpoint of this config holds in `layout`.
    static ParameterList expectedParameters(const MMDiTConfig& config, MMDiTLayout layout);

private:
    struct Block {
        Linear norm1, norm1Context;
        Linear toQ, toK, toV, addQ, addK, addV, toOut, toAddOut;
        at::Tensor normQ, normK, normAddedQ, normAddedK;  // fp32 [head_dim], undefined without qk norm
        bool dual = false;
        bool contextPreOnly = false;
        Linear attn2Q, attn2K, attn2V, attn2Out;
        at::Tensor attn2NormQ, attn2NormK;
        Linear ff1, ff2, ffContext1, ffContext2;
    };

    // The AdaLN modulation vectors of one forward (rows = batch), fp32.
    struct Modulation {
        std::vector<at::Tensor> x, context;  // per block: [rows, 6 or 9 hidden], [rows, 6 or 2 hidden]
        at::Tensor final;                    // [rows, 2 hidden] (scale, shift)
    };
    struct ConditioningCache {
        at::Tensor timesteps;  // [R] fp32, CPU
        at::Tensor pooled;     // [R, pooled_dim] fp32, CPU
        Modulation modulation;
    };

    MMDiT() = default;
    at::Tensor conditioning(const at::Tensor& timesteps, const at::Tensor& pooled) const;  // silu(temb)
    Modulation modulation(const at::Tensor& siluTemb) const;
    std::optional<Modulation> cachedModulation(const at::Tensor& timesteps, const at::Tensor& pooled) const;
    void build(const TensorStore& weights);
    void indexLinears();
    void packLinears(const TensorStore& weights);
    void runBlock(const Block& blk, at::Tensor& x, at::Tensor& ctx, const at::Tensor& mods,
                  const at::Tensor& cmods);
    at::Tensor lnModulate(const at::Tensor& x, const at::Tensor& shift, const at::Tensor& scale,
                          const at::Tensor& shift2 = {}, const at::Tensor& scale2 = {},
                          at::Tensor* out2 = nullptr) const;
    void rmsHeads(const at::Tensor& rows, const at::Tensor& weight) const;
    at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) const;

    MMDiTConfig m_config;
    MMDiTLayout m_layout = MMDiTLayout::Diffusers;
    at::ScalarType m_dtype = at::kFloat;
    at::Device m_device = at::kCPU;
    MatmulBackend m_matmul = MatmulBackend::Aten;
    AttentionBackend m_attention = AttentionBackend::Auto;
    bool m_fastKernels = false;  // fused CPU kernels for LayerNorm+modulate and qk RMSNorm

    at::Tensor m_posEmbed;  // [P, P, hidden] in the compute dtype
    Linear m_patch;         // the patch conv as a Linear over [c][ph][pw]
    Linear m_timeLinear1, m_timeLinear2, m_textLinear1, m_textLinear2, m_contextEmbedder;
    std::vector<Block> m_blocks;
    Linear m_normOut, m_projOut;
    std::map<std::string, Linear*> m_linears;  // by diffusers module path (LoRA targets)

    std::shared_ptr<const LoraAdapter> m_adapter;
    std::shared_ptr<const LoraAdapter> m_cachedAdapter;  // the last adapter's converted factors
    std::map<std::string, std::shared_ptr<const LoraLayer>> m_cachedLayers;
    std::unique_ptr<ConditioningCache> m_conditioning;
};

}  // namespace swd
