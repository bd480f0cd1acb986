// One nn.Linear of a model (y = x·Wᵀ + b) with the fused variants the transformer blocks need (bias +
// GELU, gate + residual add) and an optional LoRA applied at run time, y += scale·(x·Aᵀ)·Bᵀ, so that an
// adapter can be switched on and off without touching the base weights.
#pragma once

#include "util/kinds.h"

#include <ATen/ATen.h>

#include <memory>
#include <string>

namespace swd {

// The LoRA factors of one layer in the layer's compute dtype and device: y += scale·(x·downᵀ)·upᵀ.
struct LoraLayer {
    at::Tensor down;  // lora_A [r, in]
    at::Tensor up;    // lora_B [out, r]
    double scale = 1.0;
};

class Linear {
public:
    Linear() = default;
    // weight [out, in] and bias [out] (may be undefined) in the compute dtype; `name` is the module path
    // (diffusers naming) that LoRA adapters refer to.
    Linear(std::string name, at::Tensor weight, at::Tensor bias, MatmulBackend backend);

    const std::string& name() const { return m_name; }
    bool defined() const { return m_in > 0; }
    int64_t inFeatures() const { return m_in; }
    int64_t outFeatures() const { return m_out; }
    at::ScalarType dtype() const { return m_dtype; }
    // The weight [out, in] as the model holds it, or a plain copy of the packed one.
    at::Tensor weight() const;
    const at::Tensor& bias() const { return m_bias; }
    MatmulBackend backend() const { return m_backend; }

    // oneDNN only: reorders the weight once into the blocked layout oneDNN's matmul reads fastest (~9%
    // faster here than the plain [out, in] rows it would otherwise re-block on every call) and drops the
    // plain weight, so the model holds one copy. Returns false (and changes nothing) where packing does
    // not apply. The layout does not depend on the number of rows, so one copy serves every call.
    bool pack();
    bool packed() const { return m_packed != nullptr; }
    // The tensor the matmul reads (packed buffer or plain weight), to check that nothing was reloaded.
    const void* weightStorage() const;

    // Sets or clears (nullptr) the run-time LoRA of this layer; the base weights never change.
    void setLora(std::shared_ptr<const LoraLayer> lora) { m_lora = std::move(lora); }

    // x [..., in] -> x·Wᵀ + b (+ LoRA) [..., out], in the weight's dtype.
    at::Tensor forward(const at::Tensor& x) const;
    // gelu_tanh(x·Wᵀ + b (+ LoRA)).
    at::Tensor forwardGelu(const at::Tensor& x) const;
    // x [M, in] -> out [M, out] (a preallocated 2-D view in the weight's dtype, any row stride).
    void forwardInto(const at::Tensor& x, const at::Tensor& out) const;
    // residual += gate ⊙ (x·Wᵀ + b (+ LoRA)), x [M, in], gate [out] fp32, residual [M, out] fp32 (in place).
    void addGatedTo(const at::Tensor& x, const at::Tensor& gate, const at::Tensor& residual) const;

private:
    enum class Epilogue { None, Gelu, GatedResidual };
    at::Tensor atenForward(const at::Tensor& x) const;
    void onednnRun(const at::Tensor& x2d, const at::Tensor& dst, Epilogue epilogue,
                   const at::Tensor& gate) const;

    struct Packed;  // oneDNN's blocked weight and its memory descriptor (linear.cpp)

    std::string m_name;
    int64_t m_in = 0, m_out = 0;
    at::ScalarType m_dtype = at::kFloat;
    at::Tensor m_weight;  // [out, in], contiguous; undefined once packed
    std::shared_ptr<const Packed> m_packed;
    at::Tensor m_bias;  // [out] in the compute dtype (ATen) or fp32 (oneDNN)
    MatmulBackend m_backend = MatmulBackend::Aten;
    std::shared_ptr<const LoraLayer> m_lora;
};

}  // namespace swd
