// Golden kind "vae_sd": diffusers' AutoencoderKL in the SD1.5 / SDXL layout (4 latent channels,
// quant_conv / post_quant_conv): decode(latent) = decoder(post_quant_conv(latent)) and encode(image) =
// quant_conv(encoder(image)) split into mean, logvar, std, on a tiny model in fp32.
#include "golden/golden_kinds.h"

#include "models/vae.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

namespace swd {

void checkVaeSdCase(const GoldenCase& c, GoldenReport& report) {
    const Tolerance tol = c.tolerance();
    const auto vae = AutoencoderKl::load(TensorStore::open(c.pathField("weights")), at::kFloat,
                                         at::Device(c.options().device));
    const VaeConfig& config = vae->config();
    report.checkCondition("config has quant_conv and post_quant_conv",
                          config.useQuantConv && config.usePostQuantConv && config.latentChannels == 4,
                          fmt::format("latent_channels {}, quant_conv {}, post_quant_conv {}",
                                      config.latentChannels, config.useQuantConv, config.usePostQuantConv));
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
