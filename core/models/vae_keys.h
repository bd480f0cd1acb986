// Tensor names of the VAE in its two published layouts (spec/sd35-architecture.md §4.6):
// diffusers (`vae/diffusion_pytorch_model.safetensors`) and LDM (single-file checkpoints, under
// `first_stage_model.`). LDM numbers the decoder's up levels in reverse, calls the shortcut conv
// `nin_shortcut`, and stores the mid-block attention projections as [C, C, 1, 1] convolutions where
// diffusers has [C, C] Linear weights.
#pragma once

#include "io/tensor_store.h"

#include <string>
#include <utility>
#include <vector>

namespace swd {

struct VaeConfig;

enum class VaeLayout { Diffusers, Ldm };

const char* vaeLayoutName(VaeLayout layout);

// Which layout the names under `weights` use; throws BadInput when neither decoder.conv_in nor the
// layout's markers are there.
VaeLayout detectVaeLayout(const TensorStore& weights);

// The view of a checkpoint that holds the VAE: `weights` itself when it has decoder tensors, else its
// "first_stage_model." or "vae." sub-view (single-file checkpoints). Throws BadInput naming what was
// looked for when none has them.
TensorStore vaeWeightsView(const TensorStore& weights);

// Every parameter of the model described by `config`, in diffusers names, with its shape (quant_conv only
// with the encoder).
std::vector<std::pair<std::string, std::vector<int64_t>>> vaeParameterShapes(const VaeConfig& config,
                                                                             bool withEncoder = true);

// The LDM name of a diffusers parameter name (`levels` = number of resolution levels). quant_conv and
// post_quant_conv keep their names (first_stage_model.quant_conv.* in a single file).
std::string vaeLdmName(const std::string& diffusersName, int levels);

// True for the mid-block attention projection weights (Linear in diffusers, 1x1 conv in LDM).
bool isVaeAttentionMatrix(const std::string& diffusersName);

}  // namespace swd
