// LoRA adapters for the MMDiT in the two on-disk formats SwD meets: PEFT folders (what
// PeftModel.save_pretrained writes, the format of the released SwD weights: adapter_config.json +
// adapter_model.safetensors with base_model.model.<module>.lora_A/B.weight) and diffusers LoRA files
// (transformer.<module>.lora_A/B.weight, the LoraConfig in __metadata__["lora_adapter_metadata"]).
// Module names are diffusers module paths. Per adapted nn.Linear: y = x·Wᵀ + b + scale·(x·Aᵀ)·Bᵀ.
#pragma once

#include "io/tensor_store.h"
#include "models/mmdit_config.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

namespace swd {

class LoraAdapter {
public:
    struct Module {
        at::Tensor down;  // lora_A [r, in], as stored (fp32 in PEFT files)
        at::Tensor up;    // lora_B [out, r]
        int rank = 0;
        double alpha = 0.0;
        double scale = 1.0;  // alpha / rank (alpha / sqrt(rank) with use_rslora)
    };

    // A PEFT folder, PEFT's adapter_model.safetensors (adapter_config.json beside it), or a diffusers LoRA
    // .safetensors file. Throws BadInput naming the file and what is wrong (unknown key format, missing
    // config, A/B shapes that do not pair, DoRA / LoRA biases / modules_to_save, which are not supported).
    static std::shared_ptr<LoraAdapter> load(const std::filesystem::path& path);
    // From tensors named <module>.lora_A.weight / <module>.lora_B.weight (no prefix) and one lora_alpha
    // (rank from the shapes); for tests and converted adapters.
    static std::shared_ptr<LoraAdapter> fromTensors(const std::map<std::string, at::Tensor>& tensors,
                                                    double loraAlpha, const std::string& origin);

    const std::string& origin() const { return m_origin; }
    const std::string& format() const { return m_format; }  // "peft", "diffusers" or "memory"
    int rank() const { return m_rank; }                     // the configured r
    double alpha() const { return m_alpha; }                // the configured lora_alpha
    double scale() const { return m_alpha / m_rank; }       // lora_alpha / r (per-module: Module::scale)
    const std::map<std::string, Module>& modules() const { return m_modules; }

    // Throws BadInput unless every module is a Linear layer of a transformer with this config and its
    // factors fit that layer's shape; the message lists the unknown modules and the mismatched shapes
    // (e.g. an SD3.5 Large adapter on SD3.5 Medium).
    void validateAgainst(const MMDiTConfig& config) const;

    // W + scale·B@A computed in fp32, returned in W's dtype: the merged weight of one module (for export
    // and checks; the model itself applies adapters unmerged).
    at::Tensor mergedWeight(const std::string& module, const at::Tensor& baseWeight) const;

private:
    static std::shared_ptr<LoraAdapter> build(const TensorStore& store, const std::string& keyPrefix,
                                              const nlohmann::json& config, const std::string& format,
                                              const std::string& origin);

    std::string m_origin;
    std::string m_format;
    int m_rank = 0;
    double m_alpha = 0.0;
    std::map<std::string, Module> m_modules;
};

}  // namespace swd
