// Golden kind "vae_sd": diffusers' AutoencoderKL in the SD1.5 / SDXL layout (4 latent channels,
// quant_conv / post_quant_conv): decode(latent) = decoder(post_quant_conv(latent)) and encode(image) =
// quant_conv(encoder(image)) split into mean, logvar, std, on a tiny model in fp32.
#include "golden/golden_kinds.h"

#include "models/vae.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

namespace swd {

void checkVaeSdCase(const GoldenCase& c, GoldenReport& report) {
    const auto vae = AutoencoderKl::load(TensorStore::open(c.pathField("weights")), at::kFloat,
                                         at::Device(c.options().device));
    const VaeConfig& config = vae->config();
    report.checkCondition("config has quant_conv and post_quant_conv",
                          config.useQuantConv && config.usePostQuantConv && config.latentChannels == 4,
                          fmt::format("latent_channels {}, quant_conv {}, post_quant_conv {}",
                                      config.latentChannels, config.useQuantConv, config.usePostQuantConv));
    // The runs themselves are the SD3 VAE kind's: decode and encode of every stored input.
    checkVaeCase(c, report);
}

}  // namespace swd
