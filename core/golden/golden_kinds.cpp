#include "golden/golden_kinds.h"

namespace swd {

const std::vector<GoldenKind>& goldenKinds() {
    static const std::vector<GoldenKind> kinds = {
        {"scheduler", "flow-matching sigma grids and the Euler step", &checkSchedulerCase},
        {"vae", "SD3 VAE (AutoencoderKL) decode and encode", &checkVaeCase},
        {"tokenizers", "CLIP-L, CLIP-G and T5 token ids (fast and sentencepiece)", &checkTokenizersCase},
        {"text_encoders", "CLIP text models and the T5 encoder, every hidden state", &checkTextEncodersCase},
        {"sd3_transformer", "SD3 / SD3.5 MMDiT forward (fp32), every run", &checkSd3TransformerCase},
        {"sd3_transformer_lora", "PEFT / diffusers LoRA on the MMDiT: run-time, switched off, merged",
         &checkSd3TransformerLoraCase},
        {"sd3_pipeline", "diffusers' SD3 pipeline: prompt to uint8 image, flow Euler with CFG",
         &checkSd3PipelineCase},
        {"swd_sampling", "SwD's scale-wise sampling: prompt to image, every step", &checkSwdSamplingCase},
        {"sd_unet", "SD1.5 / SDXL UNet2DConditionModel forward (fp32), every run", &checkSdUnetCase},
        {"vae_sd", "SD1.5 / SDXL VAE (4 channels, quant convs) decode and encode", &checkVaeSdCase},
        {"sdxl_text_encoders", "SD1.5 and SDXL prompt encoding (CLIP-L, bigG, pooled, negatives)",
         &checkSdxlTextEncodersCase},
        {"sid_pickle", "SiD generator pickles read without executing them", &checkSidPickleCase},
        {"sid_sampling", "SiD few-step sampling (SiD-LSG's sampler): prompt to image, every step",
         &checkSidSamplingCase},
        {"sdxl_pipeline", "diffusers' SDXL pipeline: Euler discrete with CFG, prompt to image",
         &checkSdxlPipelineCase},
    };
    return kinds;
}

}  // namespace swd
