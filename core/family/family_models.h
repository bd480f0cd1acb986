// The loaded components of one model set, as the engine drives them: a family's models behind one small
// interface (family/family.h says what a family is). The engine owns sampling, noise, cancellation,
// previews of x0 and timing; the family owns encoding, one denoiser call, adapters and decoding.
#pragma once

#include "family/weight_source.h"
#include "pipeline/cost_model.h"
#include "sampling/samplers.h"
#include "util/kinds.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace swd {

class LoraAdapter;

struct FamilyLoadOptions {
    at::Device device{at::kCPU};      // denoiser and VAE
    at::Device textDevice{at::kCPU};  // text encoders
    at::ScalarType dtype = at::kBFloat16;
    at::ScalarType textDtype = at::kBFloat16;
    bool loadT5 = true;               // SD3: without T5 its part of the context is zeros
    std::filesystem::path taesdPath;  // fast-preview decoder weights (optional)
    std::filesystem::path hashCache;  // where file hashes are remembered (optional)
    int vaeTileSize = 0;              // latent pixels per tile (0: automatic by size)
    WeightSource weights;             // the files, or stores held in memory (benchmarks)
};

class FamilyModels {
public:
    virtual ~FamilyModels() = default;

    // Loads every component not loaded yet, reporting each by name; true when something was loaded.
    virtual bool load(const std::function<void(const std::string& component)>& loading) = 0;
    virtual bool loaded() const = 0;

    // Prompts -> conditioning on the denoiser's device (cached by the family where it pays).
    virtual Conditioning encode(const std::vector<std::string>& prompts, const Schedule& schedule) = 0;
    // The negative prompts under CFG; a family whose pipeline treats "no negative prompt" specially
    // (SDXL: zeros) says so here.
    virtual Conditioning encodeNegative(const std::vector<std::string>& prompts, const Schedule& schedule) {
        return encode(prompts, schedule);
    }
    virtual void releaseTextEncoders() = 0;

    // The denoiser the samplers call: its raw output for x at `timestep` under `cond`.
    virtual at::Tensor denoise(const at::Tensor& x, const at::Tensor& timestep, const Conditioning& cond) = 0;
    virtual bool hasAdapter() const = 0;
    // Switches the set's adapter on or off (never reloaded).
    virtual void useAdapter(bool on) = 0;

    virtual int latentChannels() const = 0;
    virtual int maxLatentSide() const = 0;
    virtual DenoiserShape costShape() const = 0;

    // Clean latent -> image [B, 3, H, W] fp32 in [0, 1].
    virtual at::Tensor decode(const at::Tensor& latent) = 0;
    // A step's x0 as RGB [B, H, W, 3] uint8 on the CPU (a mode the set cannot do falls back to
    // projection; Off gives an undefined tensor).
    virtual at::Tensor preview(const at::Tensor& x0, PreviewMode mode) = 0;

    // For the run's metadata.
    virtual std::string modelHash() = 0;    // SHA-256 of the denoiser's weights ("in-memory weights")
    virtual std::string adapterHash() = 0;  // "" without an adapter
    virtual std::string adapterName() const = 0;
};

}  // namespace swd
