// Golden kind "scheduler": diffusers' FlowMatchEulerDiscreteScheduler sigma grids and the Euler step.
#include "golden/golden_kinds.h"

#include "sampling/flow_match.h"

namespace swd {

void checkSchedulerCase(const GoldenCase& c, GoldenReport& report) {
    const Tolerance tol = c.tolerance();
    const TensorStore schedules = c.file("schedules.safetensors");
    for (const auto& combo : c.json().at("combos")) {
        const std::string name = combo.at("name").get<std::string>();
        const int steps = combo.at("num_inference_steps").get<int>();
        const double shift = combo.at("shift").get<double>();
        const auto sigmas = flowMatchSigmas(steps, shift);
        const auto sigmaTensor = at::tensor(sigmas, at::kDouble).to(at::kFloat);
        report.check(name + ".sigmas", sigmaTensor, schedules.get(name + ".sigmas"), tol);
        // timesteps = 1000·σ of the float32 sigmas, without the final 0
        const auto timesteps = sigmaTensor.slice(0, 0, steps) * 1000.0f;
        report.check(name + ".timesteps", timesteps, schedules.get(name + ".timesteps"), tol);
    }
    if (schedules.has("euler_example.sample")) {
        const auto sigmas = flowMatchSigmas(4, 3.0);
        at::Tensor x = schedules.get("euler_example.sample");
        const at::Tensor v = schedules.get("euler_example.model_output");
        for (int i = 0; i < 4; ++i) {
            x = flowEulerStep(x, v, sigmas[static_cast<std::size_t>(i)],
                              sigmas[static_cast<std::size_t>(i) + 1]);
            const std::string key = "euler_example.after_step" + std::to_string(i);
            report.check(key, x, schedules.get(key), tol);
        }
    }
}

}  // namespace swd
