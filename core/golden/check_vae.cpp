// Golden kind "vae": diffusers' AutoencoderKL decode and encode (mean, logvar, std) on tiny models.
#include "golden/golden_kinds.h"

#include "models/vae.h"

#include <ATen/ATen.h>

namespace swd {

void checkVaeCase(const GoldenCase& c, GoldenReport& report) {
    const Tolerance tol = c.tolerance();
    const auto vae = AutoencoderKl::load(TensorStore::open(c.pathField("weights")), at::kFloat,
                                         at::Device(c.options().device));
    const TensorStore inputs = c.file("inputs.safetensors");
    const TensorStore outputs = c.file("outputs.safetensors");
    for (const auto& name : inputs.names()) {
        const auto dot = name.rfind('.');
        const std::string run = name.substr(0, dot), what = name.substr(dot + 1);
        if (what == "latent") {
            report.check(run + ".sample", vae->decode(inputs.get(name)).cpu(), outputs.get(run + ".sample"),
                         tol);
        } else if (what == "image") {
            const auto [mean, logvar] = vae->encode(inputs.get(name));
            report.check(run + ".mean", mean.cpu(), outputs.get(run + ".mean"), tol);
            report.check(run + ".logvar", logvar.cpu(), outputs.get(run + ".logvar"), tol);
            report.check(run + ".std", at::exp(0.5 * logvar).cpu(), outputs.get(run + ".std"), tol);
        }
    }
}

}  // namespace swd
