// The SD3 prompt embedding: prompt -> (context [B, 77 + T, D], pooled [B, 2048]) exactly as diffusers'
// StableDiffusion3Pipeline.encode_prompt builds it: CLIP-L and bigG penultimate hidden states concatenated
// on channels and zero-padded to the T5 width D, then T5's last hidden state (T tokens: 256 in the
// diffusers pipeline, 512 in SwD); pooled = [CLIP-L text_embeds, bigG text_embeds]. An empty prompt (the
// negative / unconditional one) is encoded like any other, from "". T5 can be left out: its part is zeros.
// Embeddings are cached by (prompt, T); the encoders can be released between runs and are reloaded on
// demand. Not thread-safe: the engine's worker thread owns it.
#pragma once

#include "io/tensor_store.h"
#include "text/clip_text_model.h"
#include "text/clip_tokenizer.h"
#include "text/t5_encoder.h"
#include "text/t5_tokenizer.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace swd {

struct TextEncoderPaths {
    // Each a transformers folder (config.json + model.safetensors or a sharded index), a single .safetensors
    // file (SD3's text_encoders/clip_l.safetensors, clip_g.safetensors, t5xxl_fp16.safetensors,
    // t5xxl_fp8_e4m3fn.safetensors), or an all-in-one checkpoint.
    std::filesystem::path clipL, clipG, t5;
    // "" or the all-in-one prefix, e.g. "text_encoders.clip_l.transformer.". With "" an all-in-one file is
    // still recognised by its names.
    std::string clipLPrefix, clipGPrefix, t5Prefix;
    std::filesystem::path clipVocab, clipMerges,
        t5Spiece;  // tokenizer/vocab.json, merges.txt, tokenizer_3/spiece.model
    // Configs for weights whose shapes do not identify them and that have no config.json (tiny test models).
    std::optional<ClipTextConfig> clipLConfig, clipGConfig;
    std::optional<T5EncoderConfig> t5Config;

    // A diffusers SD3 / SD3.5 folder: text_encoder{,_2,_3}/ and tokenizer{,_3}/.
    static TextEncoderPaths fromDiffusersFolder(const std::filesystem::path& folder);
    // An all-in-one checkpoint bundling the three encoders
    // (text_encoders.{clip_l,clip_g,t5xxl}.transformer.), with tokenizer files from elsewhere.
    static TextEncoderPaths fromAllInOne(const std::filesystem::path& checkpoint,
                                         const std::filesystem::path& clipVocab,
                                         const std::filesystem::path& clipMerges,
                                         const std::filesystem::path& t5Spiece);
};

// Already opened weights (random-weight benchmarks, converted checkpoints): used instead of the paths.
struct TextEncoderWeights {
    TensorStore clipL, clipG, t5;
};

struct PromptEmbedding {
    at::Tensor context;  // [B, 77 + T, D] fp32
    at::Tensor pooled;   // [B, 2048] fp32 (CLIP-L + bigG projection widths)
};

class Sd3Conditioner {
public:
    // Loads the tokenizers and the encoders (errors surface here, naming the file). `dtype`: bf16 (the fast
    // CPU path) or fp32 (golden parity); T5 never runs in fp16 (an fp16 request runs T5 in bf16, CUDA only).
    // `loadT5` false leaves T5 out: its part of the context is zeros (saves ~9.5 GB for T5-XXL in bf16).
    Sd3Conditioner(TextEncoderPaths paths, at::ScalarType dtype, at::Device device = at::kCPU,
                   bool loadT5 = true);
    // Same, with the encoder weights given as stores (paths supply the tokenizers and optional configs).
    Sd3Conditioner(TextEncoderPaths paths, TextEncoderWeights weights, at::ScalarType dtype,
                   at::Device device = at::kCPU, bool loadT5 = true);
    ~Sd3Conditioner();
    Sd3Conditioner(Sd3Conditioner&&) noexcept;
    Sd3Conditioner& operator=(Sd3Conditioner&&) noexcept;

    // The embeddings of `prompts` with T5 length `t5Length` (1..512; the pipeline uses 256, SwD 512).
    // Cached by (prompt, T): a cached prompt runs no encoder. Reloads released encoders when needed.
    PromptEmbedding encode(const std::vector<std::string>& prompts, int t5Length);

    // Frees the encoder weights (the tokenizers and the cache stay); encode() reloads them on demand.
    void releaseEncoders();
    bool encodersLoaded() const;
    bool t5Enabled() const { return m_loadT5; }

    // Context width D (T5's d_model; 4096 for T5-XXL) and pooled width.
    std::int64_t contextWidth() const { return m_contextWidth; }
    std::int64_t pooledWidth() const;

    void setCacheCapacity(std::size_t prompts);  // default 64 (prompt, T) entries
    void clearCache();

    // Where the time of the last encoder run went.
    struct Timings {
        double tokenizeMs = 0, clipLMs = 0, clipGMs = 0, t5Ms = 0;
    };
    const Timings& lastTimings() const { return m_timings; }

    // Statistics for tests and logs.
    std::size_t cacheSize() const { return m_cache.size(); }
    std::uint64_t cacheHits() const { return m_cacheHits; }
    std::uint64_t encoderBatches() const { return m_encoderBatches; }  // forward passes of the encoder trio
    std::uint64_t loads() const { return m_loads; }                    // times the encoders were (re)loaded
    std::uint64_t parameterBytes() const;                              // of the loaded encoders

    const ClipTokenizer& clipLTokenizer() const { return m_clipLTokenizer; }
    const ClipTokenizer& clipGTokenizer() const { return m_clipGTokenizer; }
    const T5Tokenizer* t5Tokenizer() const { return m_t5Tokenizer.get(); }

private:
    struct CacheEntry {
        at::Tensor context;  // [1, 77 + T, D]
        at::Tensor pooled;   // [1, P]
    };
    using CacheKey = std::pair<std::string, int>;

    void init();
    void loadEncoders();
    PromptEmbedding encodeUncached(const std::vector<std::string>& prompts, int t5Length);

    TextEncoderPaths m_paths;
    std::optional<TextEncoderWeights> m_weights;
    at::ScalarType m_dtype;
    at::Device m_device;
    bool m_loadT5;
    T5Tokenizer::Mode m_t5Mode = T5Tokenizer::Mode::Fast;

    ClipTokenizer m_clipLTokenizer, m_clipGTokenizer;
    std::unique_ptr<T5Tokenizer> m_t5Tokenizer;
    std::unique_ptr<ClipTextModel> m_clipL, m_clipG;
    std::unique_ptr<T5Encoder> m_t5;
    std::int64_t m_contextWidth = 4096;
    std::int64_t m_pooledWidth = 0;

    std::map<CacheKey, std::pair<CacheEntry, std::list<CacheKey>::iterator>> m_cache;
    std::list<CacheKey> m_lru;  // most recent first
    std::size_t m_cacheCapacity = 64;
    std::uint64_t m_cacheHits = 0, m_encoderBatches = 0, m_loads = 0;
    Timings m_timings;
};

}  // namespace swd
