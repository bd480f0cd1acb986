// Model discovery: finds the SD3 / SD3.5, SD 1.5 and SDXL weights, SwD adapters and SiD generators a user
// already has, in the Hugging Face hub cache and in the folders they configure, and says what each one is
// (model_identity.h) and why it cannot be used when it cannot (dangling links of an interrupted download,
// a missing shard, the wrong model in a folder). Only safetensors headers and pickle opcodes are read;
// nothing is loaded or cached on disk.
// Recognised: diffusers folders (model_index.json; SD3: transformer/, vae/, text_encoder{,_2,_3}/,
// tokenizer{,_2,_3}/; StableDiffusionPipeline / StableDiffusionXLPipeline: unet/, vae/,
// text_encoder{,_2}/, tokenizer{,_2}/; .fp16 variant files), single-file checkpoints
// (sd3.5_medium.safetensors: transformer + VAE, all-in-one files with text encoders; original SD 1.5 /
// SDXL files are named but not loadable yet), text_encoders/{clip_l,clip_g,t5xxl_*}.safetensors,
// component folders, SiD generators (*.pkl holding an SD 1.5 / SDXL UNet, or a UNet .safetensors named
// *sid*), PEFT adapter folders (adapter_config.json + adapter_model.safetensors) and diffusers LoRA files.
#pragma once

#include "catalog/hf_cache.h"
#include "catalog/model_identity.h"

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace swd {

// The tokenizer files of a model folder (or the ones shipped with the application).
struct TokenizerFiles {
    std::filesystem::path clipVocab, clipMerges;      // CLIP BPE (shared by CLIP-L and CLIP-G)
    std::filesystem::path t5Spiece, t5TokenizerJson;  // T5: sentencepiece model, fast-tokenizer json
    std::string origin;                               // "tokenizer/ of <folder>", "shipped with swd (<dir>)"

    // SD 1.5 / SDXL need only the CLIP files (SDXL's tokenizer_2 differs from tokenizer/ only in its pad
    // token, which the tokenizer variant sets).
    bool complete(bool needT5 = true) const {
        return !clipVocab.empty() && !clipMerges.empty() && (!needT5 || !t5Spiece.empty());
    }
};

// One component of a found model: where its tensors are and what they are.
struct FoundComponent {
    ComponentKind kind = ComponentKind::Transformer;
    std::filesystem::path path;  // what TensorStore::open takes: a file, an index json or a component folder
    std::string prefix;          // prefix of its names in that checkpoint ("model.diffusion_model.")
    ComponentMatch match;
};

struct FoundModel {
    FoundKind kind = FoundKind::Unrecognised;
    std::filesystem::path path;      // the folder or file as found
    std::string origin;              // where it was found: "HF cache", "--folder /models", "argument"
    std::string repoId, revision;    // Hugging Face cache only
    std::filesystem::path snapshot;  // Hugging Face cache only: the snapshot folder
    std::string layout;              // "diffusers", "single file", "PEFT folder", "diffusers LoRA file", ...
    std::vector<FoundComponent> components;
    std::optional<LoraInfo> lora;
    std::filesystem::path loraFile;  // the adapter's safetensors file
    TokenizerFiles tokenizers;       // a diffusers folder's tokenizer/ and tokenizer_3/
    std::uint64_t bytes = 0;         // tensor data of every component
    std::map<StDtype, std::size_t> dtypes;
    std::vector<std::string> problems;  // why it cannot be used, each with what to do
    std::vector<std::string> notes;     // worth knowing, not blocking (no T5 in a diffusers folder)
    bool unreadable = false;  // a file could not be read (corrupt, truncated, dangling link, missing shard)
    bool unrelated = false;   // readable, but not a model swd runs (another model's weights)
    bool generator = false;   // a SiD generator: a whole UNet that replaces its base model's (sid presets)
    std::optional<ModelFamily> ldmFamily;  // an original SD 1.5 / SDXL single file (not loadable yet)

    bool usable() const { return problems.empty() && kind != FoundKind::Unrecognised; }
    const FoundComponent* component(ComponentKind kind) const;
    // The transformer (SD3) or UNet (SD 1.5 / SDXL), nullptr when there is none.
    const FoundComponent* denoiser() const;
    // The denoiser's family, else the family of the base an adapter fits, else ldmFamily.
    std::optional<ModelFamily> family() const;
    // Real dimensions (not a tiny model of the same architecture).
    bool realSize() const;
    // "stabilityai/stable-diffusion-3.5-medium", else the file or folder name.
    std::string name() const;
    // "SD3.5 Medium: transformer, VAE, CLIP-L, CLIP-G, T5-XXL"
    std::string summary() const;
    // The weight files to show tensors of (`swd inspect`): the components' paths, the LoRA file.
    std::vector<std::filesystem::path> weightSources() const;
};

// What a model set of a variant holds: its denoiser, the components it needs besides (VAE, CLIP-L, and
// CLIP-G for SD3 and SDXL), and whether a T5-XXL may be added (SD3). From the variant's real-size manifest.
struct ModelSetParts {
    ComponentKind denoiser = ComponentKind::Transformer;
    std::vector<ComponentKind> required;
    bool t5 = false;
};
ModelSetParts modelSetParts(ModelFamily family);

// One place discovery looked, and what it found there.
struct SearchedPlace {
    std::filesystem::path path;
    std::string why;      // "HF_HUB_CACHE", "--folder", ...
    std::string outcome;  // "3 model repositories", "does not exist"
};

struct DiscoveryResult {
    std::vector<FoundModel> models;
    std::vector<SearchedPlace> searched;

    // "  - <path> (<why>): <outcome>" per place, for messages.
    std::string searchedText() const;
};

struct DiscoveryOptions {
    std::vector<std::filesystem::path> folders;  // the user's model folders, searched recursively
    bool hfCache = true;                         // also the Hugging Face hub cache
    EnvLookup env;                               // for the cache location; empty = the process environment
    int maxDepth = 4;                            // folder levels searched below each folder
};

// Searches the user's folders first (in order), then the hub cache. A missing folder is recorded in
// `searched`, never thrown.
DiscoveryResult discoverModels(const DiscoveryOptions& options);

// What one path holds (a weight file, a model / adapter / component folder, a folder of models, a
// models--org--name folder or a whole hub cache). Throws BadInput when it does not exist.
std::vector<FoundModel> identifyPath(const std::filesystem::path& path, const std::string& origin,
                                     int maxDepth = 4);

// Throws BadInput naming the path when it does not exist (saying so when it is a dangling link).
void requireExistingPath(const std::filesystem::path& path);

}  // namespace swd
