// Model manifests: every tensor name and shape of the real SD3 / SD3.5 models, per weight layout
// (diffusers / transformers names, the original single-file names) and of the real SwD adapters.
// The compact text files in resources/manifests/ (written by tools/make_manifests.py from the golden
// manifests) are compiled into the program; model_identity.h matches checkpoints against them.
#pragma once

#include "util/kinds.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace swd {

struct ManifestTensor {
    std::string name;
    std::vector<std::int64_t> shape;
    bool optional = false;  // may be absent (CLIP-L text_projection in single files, T5's tied embed_tokens)
};

struct Manifest {
    std::string id;      // "sd35_medium.diffusers"
    std::string model;   // "sd35_medium", "sd3_vae", "clip_l", "swd_lora"...
    std::string name;    // "SD3.5 Medium transformer (MMDiT-X)"
    std::string prefix;  // the names' prefix inside a single-file / all-in-one checkpoint ("" = none)
    ComponentKind kind = ComponentKind::Transformer;
    WeightLayout layout = WeightLayout::Diffusers;
    std::uint64_t params = 0;
    int rank = 0;                         // LoRA manifests: the rank their shapes are written at
    std::vector<ManifestTensor> tensors;  // expanded (one entry per tensor), in file order

    const ManifestTensor* find(const std::string& name) const;
    std::size_t requiredCount() const;

private:
    friend Manifest parseManifest(const std::string& text, const std::string& label);
    std::map<std::string, std::size_t> m_index;
};

// Parses one manifest text (format: see tools/make_manifests.py). Throws Internal naming `label` and
// the line, since the texts are part of the program.
Manifest parseManifest(const std::string& text, const std::string& label);

// Every built-in manifest, parsed once (thread-safe).
const std::vector<Manifest>& builtinManifests();
// By id ("sd35_medium.diffusers"); nullptr when unknown.
const Manifest* findManifest(const std::string& id);

// Raw text of the built-in manifests as (file name, content); generated at build time by
// cmake/EmbedManifests.cmake.
const std::vector<std::pair<std::string, std::string>>& builtinManifestSources();

// A name with every all-digit component replaced by '#': the structure of a checkpoint without its
// block counts ("transformer_blocks.#.attn.to_q.weight"). Models of one architecture at other sizes
// share these templates.
std::string structureTemplate(const std::string& name);

}  // namespace swd
