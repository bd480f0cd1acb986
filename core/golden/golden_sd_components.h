// The tiny SD1.5 / SDXL models of the golden SiD and SDXL-pipeline cases (the case's "components": unet,
// vae, text_encoder, text_encoder_2 folders of components_sd) loaded in fp32, and the checks every such
// case makes of its prompt: token ids exactly, embeddings within the case's tolerance.
#pragma once

#include "families/sd/sd_conditioner.h"
#include "golden/golden_case.h"
#include "models/unet.h"
#include "models/vae.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace swd {

struct GoldenSdComponents {
    std::optional<SdConditioner> text;
    std::unique_ptr<SdUnet> unet;
    std::unique_ptr<AutoencoderKl> vae;
};

GoldenSdComponents loadGoldenSdComponents(const GoldenCase& c);

// Tokenizes and encodes `prompts`, comparing `<idsPrefix>.text_encoder{,_2}.input_ids` of inputs.safetensors
// exactly when stored.
SdPromptEmbeds encodeGoldenPrompts(const GoldenCase& c, GoldenReport& report, const SdConditioner& text,
                                   const std::vector<std::string>& prompts, const std::string& idsPrefix);

}  // namespace swd
