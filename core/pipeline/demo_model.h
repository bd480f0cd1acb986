// The built-in demo model: a tiny random-weight model set of the real SD3.5 Medium family (MMDiT-X
// transformer with dual attention and qk RMSNorm, 16-channel 4-level VAE, CLIP-L / CLIP-G / T5 encoders
// with the real tokenizers, and an SwD-style PEFT adapter), generated from a fixed seed by the project
// itself, so the app and the CLI work out of the box. Its images are noise-like: it has random weights,
// and says so wherever it appears.
#pragma once

#include "io/model_set.h"

#include <cstdint>
#include <filesystem>
#include <optional>

namespace swd {

inline constexpr std::uint64_t kDemoModelSeed = 20250323;
inline constexpr const char* kDemoModelName = "Demo model (tiny, random weights)";
inline constexpr const char* kDemoAdapterName = "demo SwD adapter (random weights)";

// Writes the demo model set to `dir` in the diffusers layout (model_index.json, transformer/, vae/,
// text_encoder{,_2,_3}/, tokenizer{,_2,_3}/) plus `swd_adapter/` (PEFT). The same seed writes the same
// bytes. Tokenizer files are copied from `tokenizers` (clip/vocab.json, clip/merges.txt,
// t5/spiece.model), by default the ones shipped with the application.
// `dir` must be new, empty, or a demo model written before (recognised by its swd_demo_model.json);
// anything else is refused (BadInput) and left untouched. In a demo model written before only the
// files the demo consists of are replaced; nothing else there is removed.
void writeDemoModel(const std::filesystem::path& dir, std::uint64_t seed = kDemoModelSeed,
                    const std::filesystem::path& tokenizers = {});

// True when `dir` holds a complete demo model written by this version.
bool isDemoModel(const std::filesystem::path& dir);

// The demo model set in `dir`, ready for the engine (adapter included).
ModelSet demoModelSet(const std::filesystem::path& dir);

// Finds the demo model (next to the executable, installed, in the build tree) or writes it to
// `fallbackDir` (e.g. the user's cache folder) and returns its folder.
std::filesystem::path ensureDemoModel(const std::filesystem::path& fallbackDir);

// The demo model shipped with the program (beside the executable, the build tree's demo-model folder,
// or <prefix>/share/swd-studio/demo-model), if there is one.
std::optional<std::filesystem::path> findShippedDemoModel();

}  // namespace swd
