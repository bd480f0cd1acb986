// Golden kind "sd3_transformer_lora": an SwD-style PEFT LoRA on a tiny SD3.5-Medium-like transformer. The
// adapter is loaded from both formats (PEFT folder, diffusers file) and applied at run time; the base
// output is checked between adapter switches (no reload); the merged weights W + scale·B@A and a model
// loaded with them are checked against merge_and_unload's results.
#include "golden/golden_kinds.h"

#include "models/mmdit.h"

#include <map>

namespace swd {

void checkSd3TransformerLoraCase(const GoldenCase& c, GoldenReport& report) {
    const Tolerance tol = c.tolerance();
    const Tolerance tolMerged = c.tolerance("tolerance_merged_weights");
    const at::Device device(c.options().device);
    const TensorStore weights = TensorStore::openFolder(c.pathField("weights"));
    const TensorStore inputs = c.file("inputs.safetensors");
    const TensorStore outputs = c.file("outputs.safetensors");
    const auto peft = LoraAdapter::load(c.dir() / "adapter");
    const auto diffusers = LoraAdapter::load(c.dir() / "diffusers_lora" / "pytorch_lora_weights.safetensors");

    // Merged weights, and a model built from them.
    const TensorStore mergedExpected = c.file("merged_weights.safetensors");
    std::map<std::string, at::Tensor> mergedStore;
    for (const auto& name : weights.names()) mergedStore[name] = weights.get(name);
    for (const auto& name : mergedExpected.names()) {
        const std::string module = name.substr(0, name.size() - std::string(".weight").size());
        const at::Tensor merged = peft->mergedWeight(module, weights.get(name));
        report.check("merged_weights." + name, merged, mergedExpected.get(name), tolMerged);
        mergedStore[name] = merged;
    }
    MMDiTLoadOptions withConfig;
    withConfig.config = MMDiTConfig::fromJsonFile(c.pathField("weights") / "config.json");
    const auto mergedModel =
        MMDiT::load(TensorStore::fromTensors(mergedStore, "merged weights"), at::kFloat, device, withConfig);

    const auto model = MMDiT::load(weights, at::kFloat, device);
    for (const auto& run : c.json().at("runs")) {
        const std::string name = run.at("name").get<std::string>();
        const at::Tensor x = inputs.get(name + ".hidden_states"), t = inputs.get(name + ".timestep"),
                         ctx = inputs.get(name + ".encoder_hidden_states"),
                         pooled = inputs.get(name + ".pooled_projections");
        auto forward = [&](MMDiT& m) { return m.forward(x, t, ctx, pooled).cpu(); };
        model->setAdapter(nullptr);
        report.check(name + ".sample_base", forward(*model), outputs.get(name + ".sample_base"), tol);
        model->setAdapter(peft);
        report.check(name + ".sample_lora (peft)", forward(*model), outputs.get(name + ".sample_lora"), tol);
        model->setAdapter(nullptr);
        report.check(name + ".sample_base (adapter off again)", forward(*model),
                     outputs.get(name + ".sample_base"), tol);
        model->setAdapter(diffusers);
        report.check(name + ".sample_lora (diffusers file)", forward(*model),
                     outputs.get(name + ".sample_lora"), tol);
        report.check(name + ".sample_merged", forward(*mergedModel), outputs.get(name + ".sample_merged"),
                     tol);
    }
    model->setAdapter(nullptr);
}

}  // namespace swd
