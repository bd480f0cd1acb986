// Model identification: what a checkpoint holds, read from its safetensors headers only (names,
// shapes, dtypes; no tensor data is touched). Each group of names (a single-file prefix such as
// "model.diffusion_model." or "text_encoders.clip_g.transformer.", or the unprefixed rest) is matched
// against the built-in manifests of the real models (manifest.h):
//   exact      every name and shape of one manifest (dtype is whatever the file holds);
//   other size the same architecture (the same names once block indices are ignored) at other
//              dimensions: the tiny random-weight models of the tests and the demo are recognised so;
//   near       most of one manifest's structure, with names missing, unexpected or of the wrong shape;
//   none       not a component swd knows.
// Known: the SD3 / SD3.5 MMDiT transformers, the SD 1.5 / SDXL UNets (diffusers names, which SiD
// generators share), the SD3 VAE and the SD 1.5 / SDXL VAE (told apart by quant_conv / post_quant_conv and
// the latent channels), CLIP-L, CLIP-G (OpenCLIP bigG: SD3's clip_g and SDXL's text_encoder_2 are one
// architecture) and T5-XXL. Original SD 1.5 / SDXL single files (LDM names) are recognised by their UNet
// names, not matched (CheckpointIdentity::ldmFamily).
// LoRA adapters (PEFT and diffusers files) are described by rank, alpha, scale and the base they fit.
#pragma once

#include "catalog/manifest.h"
#include "io/tensor_store.h"
#include "util/kinds.h"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace swd {

// The ModelFamily of a manifest's model id ("sd35_medium" -> SD35Medium); nullopt for non-transformers.
std::optional<ModelFamily> familyOfModel(const std::string& manifestModel);

// "4.94 GB", "301 MB", "12.0 kB", "512 B" (decimal units, as the Hugging Face hub shows sizes).
std::string formatByteSize(std::uint64_t bytes);
// "BF16", "F16+F32" (most frequent first) from a tensor count per dtype.
std::string formatDtypes(const std::map<StDtype, std::size_t>& dtypes);
// "0-12", "0-2,5"
std::string formatIndexRanges(const std::vector<int>& sorted);

// The dimensions that say how big a component is: what "same architecture, other size" reports.
struct ComponentDims {
    std::int64_t width = 0;  // transformer hidden size, CLIP / T5 width, UNet / VAE first-level channels
    int blocks = 0;          // transformer / encoder blocks, UNet / VAE levels
    std::vector<int> attn2Blocks;  // MMDiT-X blocks with the second (dual) attention, sorted

    bool operator==(const ComponentDims& o) const {
        return width == o.width && blocks == o.blocks && attn2Blocks == o.attn2Blocks;
    }
    bool operator!=(const ComponentDims& o) const { return !(*this == o); }
    // "hidden 1536, 24 blocks, dual attention in blocks 0-12"
    std::string describe(ComponentKind kind) const;
};

// The first few names of a list, and how many there are in all.
struct NameList {
    static constexpr std::size_t kShown = 5;
    std::size_t count = 0;
    std::vector<std::string> shown;

    void add(const std::string& name) {
        if (shown.size() < kShown) shown.push_back(name);
        ++count;
    }
    bool empty() const { return count == 0; }
    // "a, b, c (+12 more)"
    std::string describe() const;
};

// One component of a checkpoint and how well it matches the best manifest.
struct ComponentMatch {
    ComponentKind kind = ComponentKind::Transformer;
    const Manifest* manifest = nullptr;  // best candidate (null when nothing came close)
    const Manifest* alsoFits = nullptr;  // another manifest of the same architecture (CLIP-L vs CLIP-G tiny)
    std::string prefix;                  // prefix of the component's names in the checkpoint
    MatchQuality quality = MatchQuality::None;
    std::size_t tensors = 0;  // the component's tensors in the checkpoint
    std::size_t matched = 0;  // of them, same name and shape as in the manifest
    NameList missing, unexpected, wrongShape;
    NameList optionalAbsent;  // optional manifest tensors the file lacks (CLIP-L text_projection)
    ComponentDims dims, manifestDims;
    std::uint64_t bytes = 0, params = 0;
    std::map<StDtype, std::size_t> dtypes;

    std::optional<ModelFamily> family() const;
    bool realSize() const { return quality == MatchQuality::Exact; }
    // Exact or other size: the engine can build the model from it.
    bool usable() const { return quality == MatchQuality::Exact || quality == MatchQuality::OtherSize; }
    // "SD3.5 Medium transformer (MMDiT-X), diffusers layout: exact match (909 tensors)"
    std::string headline() const;
    // Further lines: the dimensions of an other-size match; missing / unexpected / wrong-shape names.
    std::vector<std::string> details() const;
};

// A LoRA adapter: format, rank, alpha, scale and the base transformer it fits.
struct LoraInfo {
    std::string format;  // "PEFT" (base_model.model.<module>) or "diffusers" (transformer.<module>)
    std::string prefix;
    int rank = 0, minRank = 0;    // rank of the modules (they differ only with a rank_pattern)
    double alpha = 0, scale = 1;  // scale = alpha / rank (alpha / sqrt(rank) for rsLoRA)
    std::string alphaSource;      // "adapter_config.json", "lora_adapter_metadata", "not stored: alpha = r"
    std::size_t modules = 0, tensors = 0;
    std::uint64_t params = 0, bytes = 0;
    std::map<StDtype, std::size_t> dtypes;
    ComponentDims dims;                   // of the transformer it fits: hidden size, blocks, attn2 blocks
    std::optional<ModelFamily> family;    // the base architecture (nullopt: ambiguous)
    bool realSize = false;                // dims are those of the real model of `family`
    const Manifest* swdLayout = nullptr;  // the SwD adapter manifest of that family
    NameList swdMissing, swdExtra;        // modules SwD adapts that it lacks / modules SwD leaves alone
    NameList problems;                    // unpaired factors, rank mismatches, unknown names, DoRA
    std::string baseModel;                // adapter_config.json base_model_name_or_path, if any

    bool usable() const { return problems.empty() && modules > 0; }
    // "PEFT LoRA, rank 64, alpha 64 (scale 1), 242 modules, F32: fits SD3.5 Medium ..."
    std::string headline() const;
    std::vector<std::string> details() const;
    // Why it cannot be applied to a transformer of these dimensions ("" when it fits).
    std::string fitProblem(const ComponentDims& base, const std::string& baseName) const;
};

struct CheckpointIdentity {
    std::vector<ComponentMatch> components;  // in the order of their prefixes in the file
    std::optional<LoraInfo> lora;
    NameList unassigned;  // tensors that belong to no recognised component
    // An original SD 1.5 / SDXL single-file checkpoint (model.diffusion_model.input_blocks.*): its UNet
    // and text encoders are not matched (no manifest of those names); its VAE is.
    std::optional<ModelFamily> ldmFamily;
    std::size_t tensors = 0;
    std::uint64_t bytes = 0;

    const ComponentMatch* find(ComponentKind kind) const;
    bool empty() const { return components.empty() && !lora; }
};

// Identifies every component of `store`. `role` is the kind its place implies (transformer/,
// text_encoder_2/, ...): it breaks the tie between CLIP-L and CLIP-G at other sizes, it never overrides
// what the names say. `adapterConfig` is a PEFT folder's adapter_config.json (rank, alpha).
CheckpointIdentity identifyCheckpoint(const TensorStore& store, std::optional<ComponentKind> role = {},
                                      const nlohmann::json* adapterConfig = nullptr);

// The same for tensors listed some other way (a pickled SiD generator: io/pickle_reader.h).
CheckpointIdentity identifyTensors(const std::vector<const TensorInfo*>& tensors,
                                   const std::map<std::string, std::string>& metadata,
                                   std::optional<ComponentKind> role = {},
                                   const nlohmann::json* adapterConfig = nullptr);

// The dimensions of a component whose names are in the layout of `manifest` (e.g. the hidden size from
// pos_embed.proj.weight). `shapeOf` returns nullptr for an absent name.
ComponentDims componentDims(
    const Manifest& manifest, const std::vector<std::string>& names,
    const std::function<const std::vector<std::int64_t>*(const std::string&)>& shapeOf);

}  // namespace swd
