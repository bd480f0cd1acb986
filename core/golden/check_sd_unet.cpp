// Golden kind "sd_unet": diffusers' UNet2DConditionModel in the SD1.5 and SDXL layouts on tiny random
// weights, every run (odd latent sizes, batch 2, float timesteps included). Each run is checked with the
// default matmul backend (oneDNN on the CPU when built with it) and with plain ATen.
#include "golden/golden_kinds.h"

#include "models/unet.h"

namespace swd {

void checkSdUnetCase(const GoldenCase& c, GoldenReport& report) {
    const Tolerance tol = c.tolerance();
    const at::Device device(c.options().device);
    const std::filesystem::path folder = c.pathField("weights");
    const TensorStore weights = TensorStore::openFolder(folder);
    const UnetConfig config = UnetConfig::fromJson(folder / "config.json");
    const TensorStore inputs = c.file("inputs.safetensors");
    const TensorStore outputs = c.file("outputs.safetensors");

    std::vector<std::pair<std::string, std::unique_ptr<SdUnet>>> models;
    models.emplace_back("", SdUnet::load(weights, config, at::kFloat, device));
    if (models.front().second->matmulBackend() != MatmulBackend::Aten) {
        UnetLoadOptions aten;
        aten.matmul = MatmulBackend::Aten;
        aten.attention = AttentionBackend::Naive;
        models.emplace_back(" [aten]", SdUnet::load(weights, config, at::kFloat, device, aten));
    }
    for (const auto& run : c.json().at("runs")) {
        const std::string name = run.at("name").get<std::string>();
        const auto optional = [&](const std::string& key) {
            return inputs.has(name + key) ? inputs.get(name + key) : at::Tensor();
        };
        for (auto& [label, model] : models) {
            const at::Tensor out = model->forward(
                inputs.get(name + ".sample"), inputs.get(name + ".timestep"),
                inputs.get(name + ".encoder_hidden_states"), optional(".text_embeds"), optional(".time_ids"));
            report.check(name + ".out" + label, out.cpu(), outputs.get(name + ".out"), tol);
        }
    }
}

}  // namespace swd
