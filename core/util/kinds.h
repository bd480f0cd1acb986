// The project's small enums and their names, in one torch-free header: the UI, the CLI and the core
// exchange these values, never their strings. Each enum has one constexpr table (value, id that files and
// options use, name shown to people, accepted aliases); a static_assert checks that the table lists every
// value in order, so kindEntry() is an index and a new value cannot be forgotten.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace swd {

enum class Precision { Auto, BF16, FP16, FP32 };
enum class PreviewMode { FullVae, Taesd, Projection, Off };
// A model a preset is written for (the size variant: positional table, adapter). Any: whichever is loaded.
enum class ModelFamily { Any, SD35Medium, SD35Large, SD3Medium, SD15, SDXL };
enum class SamplerKind { ScaleWise, FlowEuler, Sid, EulerDiscrete };
// What a SiD step k >= 1 re-noises its x0 with (spec/sid-fewstep.md §1.6): a fresh draw (SiD-LSG's only
// mode), the initial noise again, or the model's own noise estimate of the previous step (DDIM-like).
enum class SidNoise { Fresh, Fixed, Ddim };
enum class Stage { LoadingModels, EncodingPrompt, Sampling, Decoding, Done };
enum class FoundKind { Pipeline, Checkpoint, Component, Adapter, Unrecognised };
enum class MatchQuality { Exact, OtherSize, Near, None };
// What a checkpoint component is.
enum class ComponentKind { Transformer, Unet, Vae, ClipL, ClipG, T5, Lora };
// How a component's tensors are named.
enum class WeightLayout {
    Diffusers,     // diffusers module names (transformer/, vae/ folders)
    SingleFile,    // the original Stability names (sd3.5_medium.safetensors: joint_blocks.*, LDM VAE names)
    Transformers,  // Hugging Face transformers names (text encoders; single files add a prefix)
    Peft,          // LoRA: <module>.lora_A.weight / lora_B.weight
};
enum class AttentionBackend {
    Auto,      // the fastest one available for the inputs (see defaultAttentionBackend)
    Naive,     // softmax(q·kᵀ·scale + bias)·v on whole tensors: the reference formula (tests)
    Tiled,     // ATen, heads batched, query tiles, score buffers reused across tiles (any device / dtype)
    OneDnn,    // oneDNN on the CPU (fp32 / bf16), fp32 scores and softmax, query tiles, reused buffers
    TorchSdpa  // at::scaled_dot_product_attention (libtorch >= 2 only)
};
// Where a model's matmuls run: ATen (any device and dtype; the reference formula op by op) or oneDNN
// directly (CPU fp32 / bf16: fused post-ops, fp32 outputs from bf16 inputs).
enum class MatmulBackend { Aten, OneDnn };

template <typename E>
struct KindEntry {
    E value;
    const char* id;       // in files, options and JSON
    const char* name;     // for people
    const char* aliases;  // other ids accepted on input, space-separated ("" for none)
};

template <typename E>
struct KindTable;  // specialised below: static constexpr entries

template <>
struct KindTable<Precision> {
    static constexpr std::array<KindEntry<Precision>, 4> entries = {{
        {Precision::Auto, "auto", "automatic", ""},
        {Precision::BF16, "bf16", "bfloat16", "bfloat16"},
        {Precision::FP16, "fp16", "float16", "float16 half"},
        {Precision::FP32, "fp32", "float32", "float32 float"},
    }};
};

template <>
struct KindTable<PreviewMode> {
    static constexpr std::array<KindEntry<PreviewMode>, 4> entries = {{
        {PreviewMode::FullVae, "vae", "VAE decode", ""},
        {PreviewMode::Taesd, "taesd", "TAESD", ""},
        {PreviewMode::Projection, "projection", "latent projection", ""},
        {PreviewMode::Off, "off", "off", ""},
    }};
};

template <>
struct KindTable<ModelFamily> {
    static constexpr std::array<KindEntry<ModelFamily>, 6> entries = {{
        {ModelFamily::Any, "any", "any model", ""},
        {ModelFamily::SD35Medium, "sd3.5-medium", "SD3.5 Medium", ""},
        {ModelFamily::SD35Large, "sd3.5-large", "SD3.5 Large", ""},
        {ModelFamily::SD3Medium, "sd3-medium", "SD3 Medium", ""},
        {ModelFamily::SD15, "sd1.5", "SD 1.5", "sd15 sd-1.5 sd-v1-5"},
        {ModelFamily::SDXL, "sdxl", "SDXL", "sdxl-base sd-xl"},
    }};
};

template <>
struct KindTable<SamplerKind> {
    static constexpr std::array<KindEntry<SamplerKind>, 4> entries = {{
        {SamplerKind::ScaleWise, "scale-wise", "Scale-wise", "scalewise swd"},
        {SamplerKind::FlowEuler, "flow-euler", "Flow Euler", "euler"},
        {SamplerKind::Sid, "sid", "SiD few-step", "sid-lsg"},
        {SamplerKind::EulerDiscrete, "euler-discrete", "Euler discrete (DDPM)", "euler-ddpm"},
    }};
};

template <>
struct KindTable<SidNoise> {
    static constexpr std::array<KindEntry<SidNoise>, 3> entries = {{
        {SidNoise::Fresh, "fresh", "fresh noise each step", ""},
        {SidNoise::Fixed, "fixed", "the initial noise again", ""},
        {SidNoise::Ddim, "ddim", "the model's noise estimate", ""},
    }};
};

template <>
struct KindTable<Stage> {
    static constexpr std::array<KindEntry<Stage>, 5> entries = {{
        {Stage::LoadingModels, "loading", "loading models", ""},
        {Stage::EncodingPrompt, "encoding", "encoding the prompt", ""},
        {Stage::Sampling, "sampling", "sampling", ""},
        {Stage::Decoding, "decoding", "decoding", ""},
        {Stage::Done, "done", "done", ""},
    }};
};

template <>
struct KindTable<FoundKind> {
    static constexpr std::array<KindEntry<FoundKind>, 5> entries = {{
        {FoundKind::Pipeline, "pipeline", "diffusers", ""},
        {FoundKind::Checkpoint, "checkpoint", "single file", ""},
        {FoundKind::Component, "component", "component", ""},
        {FoundKind::Adapter, "adapter", "adapter", ""},
        {FoundKind::Unrecognised, "other", "other", ""},
    }};
};

template <>
struct KindTable<MatchQuality> {
    static constexpr std::array<KindEntry<MatchQuality>, 4> entries = {{
        {MatchQuality::Exact, "exact", "exact match", ""},
        {MatchQuality::OtherSize, "other-size", "same architecture, other size", ""},
        {MatchQuality::Near, "near", "near match", ""},
        {MatchQuality::None, "none", "not recognised", ""},
    }};
};

template <>
struct KindTable<ComponentKind> {
    static constexpr std::array<KindEntry<ComponentKind>, 7> entries = {{
        {ComponentKind::Transformer, "transformer", "transformer", ""},
        {ComponentKind::Unet, "unet", "UNet", ""},
        {ComponentKind::Vae, "vae", "VAE", ""},
        {ComponentKind::ClipL, "clip_l", "CLIP-L", ""},
        {ComponentKind::ClipG, "clip_g", "CLIP-G", ""},
        {ComponentKind::T5, "t5", "T5-XXL", ""},
        {ComponentKind::Lora, "lora", "LoRA", ""},
    }};
};

template <>
struct KindTable<WeightLayout> {
    static constexpr std::array<KindEntry<WeightLayout>, 4> entries = {{
        {WeightLayout::Diffusers, "diffusers", "diffusers", ""},
        {WeightLayout::SingleFile, "single_file", "original single-file", ""},
        {WeightLayout::Transformers, "transformers", "transformers", ""},
        {WeightLayout::Peft, "peft", "PEFT LoRA", ""},
    }};
};

template <>
struct KindTable<AttentionBackend> {
    static constexpr std::array<KindEntry<AttentionBackend>, 5> entries = {{
        {AttentionBackend::Auto, "auto", "auto", ""},
        {AttentionBackend::Naive, "naive", "naive", ""},
        {AttentionBackend::Tiled, "tiled", "tiled", ""},
        {AttentionBackend::OneDnn, "onednn", "onednn", ""},
        {AttentionBackend::TorchSdpa, "torch-sdpa", "torch-sdpa", ""},
    }};
};

template <>
struct KindTable<MatmulBackend> {
    static constexpr std::array<KindEntry<MatmulBackend>, 2> entries = {{
        {MatmulBackend::Aten, "aten", "aten", ""},
        {MatmulBackend::OneDnn, "onednn", "onednn", ""},
    }};
};

namespace detail {
template <typename E>
constexpr bool tableInOrder() {
    const auto& t = KindTable<E>::entries;
    for (std::size_t i = 0; i < t.size(); ++i)
        if (static_cast<std::size_t>(t[i].value) != i) return false;
    return true;
}

inline bool aliasListHas(std::string_view aliases, std::string_view id) {
    while (!aliases.empty()) {
        const std::size_t space = aliases.find(' ');
        if (aliases.substr(0, space) == id) return true;
        if (space == std::string_view::npos) break;
        aliases.remove_prefix(space + 1);
    }
    return false;
}
}  // namespace detail

// Every table lists every value, in declaration order (the last value's index + 1 is the size).
static_assert(detail::tableInOrder<Precision>() &&
              KindTable<Precision>::entries.size() == static_cast<std::size_t>(Precision::FP32) + 1);
static_assert(detail::tableInOrder<PreviewMode>() &&
              KindTable<PreviewMode>::entries.size() == static_cast<std::size_t>(PreviewMode::Off) + 1);
static_assert(detail::tableInOrder<ModelFamily>() &&
              KindTable<ModelFamily>::entries.size() == static_cast<std::size_t>(ModelFamily::SDXL) + 1);
static_assert(detail::tableInOrder<SamplerKind>() &&
              KindTable<SamplerKind>::entries.size() == static_cast<std::size_t>(SamplerKind::EulerDiscrete) + 1);
static_assert(detail::tableInOrder<SidNoise>() &&
              KindTable<SidNoise>::entries.size() == static_cast<std::size_t>(SidNoise::Ddim) + 1);
static_assert(detail::tableInOrder<Stage>() &&
              KindTable<Stage>::entries.size() == static_cast<std::size_t>(Stage::Done) + 1);
static_assert(detail::tableInOrder<FoundKind>() &&
              KindTable<FoundKind>::entries.size() == static_cast<std::size_t>(FoundKind::Unrecognised) + 1);
static_assert(detail::tableInOrder<MatchQuality>() &&
              KindTable<MatchQuality>::entries.size() == static_cast<std::size_t>(MatchQuality::None) + 1);
static_assert(detail::tableInOrder<ComponentKind>() &&
              KindTable<ComponentKind>::entries.size() == static_cast<std::size_t>(ComponentKind::Lora) + 1);
static_assert(detail::tableInOrder<WeightLayout>() &&
              KindTable<WeightLayout>::entries.size() == static_cast<std::size_t>(WeightLayout::Peft) + 1);
static_assert(detail::tableInOrder<AttentionBackend>() &&
              KindTable<AttentionBackend>::entries.size() ==
                  static_cast<std::size_t>(AttentionBackend::TorchSdpa) + 1);
static_assert(detail::tableInOrder<MatmulBackend>() &&
              KindTable<MatmulBackend>::entries.size() ==
                  static_cast<std::size_t>(MatmulBackend::OneDnn) + 1);

template <typename E>
constexpr const KindEntry<E>& kindEntry(E value) {
    return KindTable<E>::entries[static_cast<std::size_t>(value)];
}
template <typename E>
constexpr const char* kindId(E value) {
    return kindEntry(value).id;
}
template <typename E>
constexpr const char* kindName(E value) {
    return kindEntry(value).name;
}
template <typename E>
constexpr std::size_t kindCount() {
    return KindTable<E>::entries.size();
}

// The value whose id or alias is `id`.
template <typename E>
std::optional<E> kindFromId(std::string_view id) {
    for (const auto& e : KindTable<E>::entries)
        if (id == e.id || detail::aliasListHas(e.aliases, id)) return e.value;
    return std::nullopt;
}

// "auto, bf16, fp16 or fp32": the ids for a message that says what is accepted.
template <typename E>
std::string kindIdList(std::string_view lastSeparator = " or ") {
    std::string out;
    const auto& t = KindTable<E>::entries;
    for (std::size_t i = 0; i < t.size(); ++i) {
        if (i > 0) out += i + 1 == t.size() ? std::string(lastSeparator) : std::string(", ");
        out += t[i].id;
    }
    return out;
}

// The names the rest of the code has always used.
inline const char* precisionName(Precision p) {
    return kindId(p);
}
inline std::optional<Precision> precisionFromName(std::string_view name) {
    return kindFromId<Precision>(name);
}
inline const char* previewModeName(PreviewMode mode) {
    return kindId(mode);
}
inline constexpr int kPreviewModeCount = static_cast<int>(kindCount<PreviewMode>());
inline const char* modelFamilyId(ModelFamily family) {
    return kindId(family);
}
inline const char* modelFamilyName(ModelFamily family) {
    return kindName(family);
}
inline std::optional<ModelFamily> modelFamilyFromId(std::string_view id) {
    return kindFromId<ModelFamily>(id);
}
inline const char* samplerId(SamplerKind sampler) {
    return kindId(sampler);
}
inline std::optional<SamplerKind> samplerFromId(std::string_view id) {
    return kindFromId<SamplerKind>(id);
}
inline const char* stageName(Stage stage) {
    return kindName(stage);
}
inline const char* foundKindName(FoundKind kind) {
    return kindName(kind);
}
inline const char* matchQualityName(MatchQuality quality) {
    return kindName(quality);
}
inline const char* componentKindId(ComponentKind kind) {
    return kindId(kind);
}
inline const char* componentKindName(ComponentKind kind) {
    return kindName(kind);
}
inline std::optional<ComponentKind> componentKindFromId(std::string_view id) {
    return kindFromId<ComponentKind>(id);
}
inline const char* weightLayoutId(WeightLayout layout) {
    return kindId(layout);
}
inline const char* weightLayoutName(WeightLayout layout) {
    return kindName(layout);
}
inline std::optional<WeightLayout> weightLayoutFromId(std::string_view id) {
    return kindFromId<WeightLayout>(id);
}
inline const char* attentionBackendName(AttentionBackend backend) {
    return kindId(backend);
}
inline const char* matmulBackendName(MatmulBackend backend) {
    return kindId(backend);
}

}  // namespace swd
