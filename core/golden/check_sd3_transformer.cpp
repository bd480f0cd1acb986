// Golden kind "sd3_transformer": diffusers' SD3Transformer2DModel (SD3, SD3.5 Large, SD3.5 Medium / MMDiT-X
// variants) on tiny random weights, every run (non-square and batch 2 included). Each run is checked with
// the default matmul backend (oneDNN on the CPU when built with it) and with plain ATen.
#include "golden/golden_kinds.h"

#include "kernels/dnnl_backend.h"
#include "models/mmdit.h"

namespace swd {

void checkSd3TransformerCase(const GoldenCase& c, GoldenReport& report) {
    const Tolerance tol = c.tolerance();
    const at::Device device(c.options().device);
    const TensorStore weights = TensorStore::openFolder(c.pathField("weights"));
    const TensorStore inputs = c.file("inputs.safetensors");
    const TensorStore outputs = c.file("outputs.safetensors");

    std::vector<std::pair<std::string, std::unique_ptr<MMDiT>>> models;
    models.emplace_back("", MMDiT::load(weights, at::kFloat, device));
    if (models.front().second->matmulBackend() != MatmulBackend::Aten) {
        MMDiTLoadOptions aten;
        aten.matmul = MatmulBackend::Aten;
        aten.attention = AttentionBackend::Naive;
        models.emplace_back(" [aten]", MMDiT::load(weights, at::kFloat, device, aten));
    }
    for (const auto& run : c.json().at("runs")) {
        const std::string name = run.at("name").get<std::string>();
        for (auto& [label, model] : models) {
            const at::Tensor out = model->forward(
                inputs.get(name + ".hidden_states"), inputs.get(name + ".timestep"),
                inputs.get(name + ".encoder_hidden_states"), inputs.get(name + ".pooled_projections"));
            report.check(name + ".sample" + label, out.cpu(), outputs.get(name + ".sample"), tol);
        }
    }
}

}  // namespace swd
