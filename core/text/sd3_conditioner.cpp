#include "text/sd3_conditioner.h"

#include "text/encoder_weights.h"
#include "util/error.h"
#include "util/stopwatch.h"

#include <c10/core/InferenceMode.h>

#include <set>

namespace swd {

namespace fs = std::filesystem;

namespace {

const char* const kClipProbe = "text_model.embeddings.token_embedding.weight";
const char* const kClipLAllInOne = "text_encoders.clip_l.transformer.";
const char* const kClipGAllInOne = "text_encoders.clip_g.transformer.";
const char* const kT5AllInOne = "text_encoders.t5xxl.transformer.";
constexpr int kMaxT5Length = 512;

void requirePath(const fs::path& path, const char* what) {
    if (path.empty()) throwBadInput("text encoders: no {} path given", what);
}

// The store of one encoder: the given in-memory store, or the file / folder under `prefix`. An all-in-one
// file passed without a prefix is recognised by its names. `usedPrefix` tells whether config.json applies.
TensorStore openEncoder(const fs::path& path, const std::string& prefix, const TensorStore* memory,
                        const std::string& probe, const char* allInOnePrefix, bool& fromFolder) {
    fromFolder = false;
    if (memory) return *memory;
    TensorStore store = openTextEncoderWeights(path, prefix);
    if (prefix.empty() && !store.has(probe) && store.has(allInOnePrefix + probe))
        return store.withPrefix(allInOnePrefix);
    std::error_code ec;
    fromFolder = prefix.empty() && fs::is_directory(path, ec);
    return store;
}

std::unique_ptr<ClipTextModel> loadClip(const fs::path& path, const std::string& prefix,
                                        const TensorStore* memory, const char* allInOnePrefix,
                                        ClipTextConfig::Activation activation,
                                        const std::optional<ClipTextConfig>& override, at::ScalarType dtype,
                                        at::Device device) {
    bool fromFolder = false;
    const TensorStore store = openEncoder(path, prefix, memory, kClipProbe, allInOnePrefix, fromFolder);
    ClipTextModel::checkNames(store);  // first: config.json of a wrong model would give a vaguer message
    ClipTextConfig config;
    if (override)
        config = *override;
    else if (auto json = fromFolder ? readEncoderConfigJson(path) : std::nullopt)
        config = ClipTextConfig::fromJson(*json, (path / "config.json").string());
    else
        config = ClipTextConfig::infer(store, activation);
    return std::make_unique<ClipTextModel>(ClipTextModel::load(store, config, dtype, device));
}

T5EncoderConfig t5ConfigOf(const TensorStore& store, const fs::path& path, bool fromFolder,
                           const std::optional<T5EncoderConfig>& override) {
    T5Encoder::checkNames(store);
    if (override) return *override;
    if (auto json = fromFolder ? readEncoderConfigJson(path) : std::nullopt)
        return T5EncoderConfig::fromJson(*json, (path / "config.json").string());
    return T5EncoderConfig::infer(store);
}

}  // namespace

TextEncoderPaths TextEncoderPaths::fromDiffusersFolder(const fs::path& folder) {
    TextEncoderPaths p;
    p.clipL = folder / "text_encoder";
    p.clipG = folder / "text_encoder_2";
    p.t5 = folder / "text_encoder_3";
    p.clipVocab = folder / "tokenizer" / "vocab.json";
    p.clipMerges = folder / "tokenizer" / "merges.txt";
    p.t5Spiece = folder / "tokenizer_3" / "spiece.model";
    return p;
}

TextEncoderPaths TextEncoderPaths::fromAllInOne(const fs::path& checkpoint, const fs::path& clipVocab,
                                                const fs::path& clipMerges, const fs::path& t5Spiece) {
    TextEncoderPaths p;
    p.clipL = p.clipG = p.t5 = checkpoint;
    p.clipLPrefix = kClipLAllInOne;
    p.clipGPrefix = kClipGAllInOne;
    p.t5Prefix = kT5AllInOne;
    p.clipVocab = clipVocab;
    p.clipMerges = clipMerges;
    p.t5Spiece = t5Spiece;
    return p;
}

Sd3Conditioner::Sd3Conditioner(TextEncoderPaths paths, at::ScalarType dtype, at::Device device, bool loadT5)
    : m_paths(std::move(paths)), m_dtype(dtype), m_device(device), m_loadT5(loadT5) {
    init();
}

Sd3Conditioner::Sd3Conditioner(TextEncoderPaths paths, TextEncoderWeights weights, at::ScalarType dtype,
                               at::Device device, bool loadT5)
    : m_paths(std::move(paths))
    , m_weights(std::move(weights))
    , m_dtype(dtype)
    , m_device(device)
    , m_loadT5(loadT5) {
    init();
}

Sd3Conditioner::~Sd3Conditioner() = default;
Sd3Conditioner::Sd3Conditioner(Sd3Conditioner&&) noexcept = default;
Sd3Conditioner& Sd3Conditioner::operator=(Sd3Conditioner&&) noexcept = default;

void Sd3Conditioner::init() {
    checkComputeDtype(m_dtype, m_device, "text encoders");
    requirePath(m_paths.clipVocab, "CLIP vocabulary (tokenizer/vocab.json)");
    requirePath(m_paths.clipMerges, "CLIP merges (tokenizer/merges.txt)");
    m_clipLTokenizer =
        ClipTokenizer::load(m_paths.clipVocab, m_paths.clipMerges, ClipTokenizer::Variant::ClipL);
    m_clipGTokenizer = m_clipLTokenizer.withVariant(ClipTokenizer::Variant::ClipG);
    if (!m_weights) {
        requirePath(m_paths.clipL, "CLIP-L weights (text_encoder/ or clip_l.safetensors)");
        requirePath(m_paths.clipG, "CLIP-G weights (text_encoder_2/ or clip_g.safetensors)");
    }
    if (m_loadT5) {
        requirePath(m_paths.t5Spiece, "T5 tokenizer (tokenizer_3/spiece.model)");
        if (!m_weights)
            requirePath(m_paths.t5,
                        "T5 weights (text_encoder_3/ or t5xxl_fp16.safetensors); to run without T5 "
                        "pass loadT5 = false");
        else if (m_weights->t5.empty())
            throwBadInput("text encoders: no T5 weights given; to run without T5 pass loadT5 = false");
        m_t5Tokenizer = std::make_unique<T5Tokenizer>(T5Tokenizer::load(m_paths.t5Spiece));
    } else if ((m_weights && !m_weights->t5.empty()) || (!m_weights && !m_paths.t5.empty())) {
        // T5 is left out, but its width still decides the context width: read it from the shapes only.
        bool fromFolder = false;
        const TensorStore store =
            openEncoder(m_paths.t5, m_paths.t5Prefix, m_weights ? &m_weights->t5 : nullptr, "shared.weight",
                        kT5AllInOne, fromFolder);
        m_contextWidth = t5ConfigOf(store, m_paths.t5, fromFolder, m_paths.t5Config).dModel;
    }
    loadEncoders();
}

void Sd3Conditioner::loadEncoders() {
    c10::InferenceMode guard;
    if (!m_clipL)
        m_clipL = loadClip(m_paths.clipL, m_paths.clipLPrefix, m_weights ? &m_weights->clipL : nullptr,
                           kClipLAllInOne, ClipTextConfig::Activation::QuickGelu, m_paths.clipLConfig,
                           m_dtype, m_device);
    if (!m_clipG)
        m_clipG = loadClip(m_paths.clipG, m_paths.clipGPrefix, m_weights ? &m_weights->clipG : nullptr,
                           kClipGAllInOne, ClipTextConfig::Activation::Gelu, m_paths.clipGConfig, m_dtype,
                           m_device);
    if (m_loadT5 && !m_t5) {
        bool fromFolder = false;
        TensorStore store = openEncoder(m_paths.t5, m_paths.t5Prefix, m_weights ? &m_weights->t5 : nullptr,
                                        "shared.weight", kT5AllInOne, fromFolder);
        if (!m_weights && m_paths.t5Prefix.empty() && !store.has("shared.weight") &&
            store.has(std::string(kT5AllInOne) + "encoder.embed_tokens.weight"))
            store = store.withPrefix(kT5AllInOne);
        const T5EncoderConfig config = t5ConfigOf(store, m_paths.t5, fromFolder, m_paths.t5Config);
        const at::ScalarType t5Dtype = m_dtype == at::kHalf ? at::kBFloat16 : m_dtype;  // never fp16
        m_t5 = std::make_unique<T5Encoder>(T5Encoder::load(store, config, t5Dtype, m_device));
        m_contextWidth = config.dModel;
        if (m_t5Tokenizer && m_t5Tokenizer->vocabularySize() > config.vocabSize)
            throwBadInput(
                "{}: the T5 tokenizer has {} pieces but the encoder's embedding only {} rows (tokenizer and "
                "weights of different models)",
                m_paths.t5Spiece.string(), m_t5Tokenizer->vocabularySize(), config.vocabSize);
    }
    m_pooledWidth = m_clipL->projectionDim() + m_clipG->projectionDim();
    const std::int64_t clipWidth = m_clipL->config().hidden + m_clipG->config().hidden;
    if (clipWidth > m_contextWidth)
        throwBadInput(
            "text encoders: CLIP-L ({}) + CLIP-G ({}) = {} channels do not fit the T5 width {}; the three "
            "encoders are not from one SD3 model",
            m_clipL->config().hidden, m_clipG->config().hidden, clipWidth, m_contextWidth);
    ++m_loads;
}

void Sd3Conditioner::releaseEncoders() {
    m_clipL.reset();
    m_clipG.reset();
    m_t5.reset();
}

bool Sd3Conditioner::encodersLoaded() const {
    return m_clipL && m_clipG && (!m_loadT5 || m_t5);
}

std::int64_t Sd3Conditioner::pooledWidth() const {
    return m_pooledWidth;
}

std::uint64_t Sd3Conditioner::parameterBytes() const {
    std::uint64_t total = 0;
    if (m_clipL) total += m_clipL->parameterBytes();
    if (m_clipG) total += m_clipG->parameterBytes();
    if (m_t5) total += m_t5->parameterBytes();
    return total;
}

void Sd3Conditioner::setCacheCapacity(std::size_t prompts) {
    m_cacheCapacity = prompts;
    while (m_cache.size() > m_cacheCapacity) {
        m_cache.erase(m_lru.back());
        m_lru.pop_back();
    }
}

void Sd3Conditioner::clearCache() {
    m_cache.clear();
    m_lru.clear();
}

PromptEmbedding Sd3Conditioner::encodeUncached(const std::vector<std::string>& prompts, int t5Length) {
    if (!encodersLoaded()) loadEncoders();
    c10::InferenceMode guard;
    const std::int64_t B = static_cast<std::int64_t>(prompts.size());
    Stopwatch sw;
    const at::Tensor clipLIds = m_clipLTokenizer.encodeBatch(prompts);
    const at::Tensor clipGIds = m_clipGTokenizer.encodeBatch(prompts);
    const at::Tensor t5Ids =
        m_loadT5 ? m_t5Tokenizer->encodeBatch(prompts, t5Length, m_t5Mode) : at::Tensor();
    m_timings.tokenizeMs = sw.elapsedMs();
    sw.restart();
    const ClipTextOutput l = m_clipL->forward(clipLIds);
    m_timings.clipLMs = sw.elapsedMs();
    sw.restart();
    const ClipTextOutput g = m_clipG->forward(clipGIds);
    m_timings.clipGMs = sw.elapsedMs();
    sw.restart();
    const at::Tensor clip = at::cat({l.penultimate, g.penultimate}, -1);
    const at::Tensor clipPadded = at::constant_pad_nd(clip, {0, m_contextWidth - clip.size(-1)});
    at::Tensor t5;
    if (m_loadT5)
        t5 = m_t5->forward(t5Ids).lastHiddenState;
    else
        t5 = at::zeros({B, t5Length, m_contextWidth}, clip.options());
    m_timings.t5Ms = sw.elapsedMs();
    ++m_encoderBatches;
    return PromptEmbedding{at::cat({clipPadded, t5}, 1), at::cat({l.pooled, g.pooled}, -1)};
}

PromptEmbedding Sd3Conditioner::encode(const std::vector<std::string>& prompts, int t5Length) {
    if (prompts.empty()) throwBadInput("text encoders: no prompt to encode");
    if (t5Length < 1 || t5Length > kMaxT5Length)
        throwBadInput("text encoders: T5 length {} is outside 1..{} (the SD3 pipeline uses 256, SwD 512)",
                      t5Length, kMaxT5Length);
    std::vector<std::string> missing;
    std::set<std::string> missingSet;
    std::map<std::string, CacheEntry> found;
    for (const auto& p : prompts) {
        if (found.count(p) || missingSet.count(p)) continue;
        const auto it = m_cache.find({p, t5Length});
        if (it != m_cache.end()) {
            ++m_cacheHits;
            m_lru.splice(m_lru.begin(), m_lru, it->second.second);
            found.emplace(p, it->second.first);
        } else {
            missing.push_back(p);
            missingSet.insert(p);
        }
    }
    if (!missing.empty()) {
        const PromptEmbedding fresh = encodeUncached(missing, t5Length);
        for (std::size_t i = 0; i < missing.size(); ++i) {
            const auto row = static_cast<std::int64_t>(i);
            CacheEntry entry{fresh.context.slice(0, row, row + 1).clone(),
                             fresh.pooled.slice(0, row, row + 1).clone()};
            found.emplace(missing[i], entry);
            if (m_cacheCapacity == 0) continue;
            const CacheKey key{missing[i], t5Length};
            m_lru.push_front(key);
            m_cache[key] = {entry, m_lru.begin()};
            while (m_cache.size() > m_cacheCapacity) {
                m_cache.erase(m_lru.back());
                m_lru.pop_back();
            }
        }
    }
    std::vector<at::Tensor> contexts, pooled;
    for (const auto& p : prompts) {
        const CacheEntry& e = found.at(p);
        contexts.push_back(e.context);
        pooled.push_back(e.pooled);
    }
    return PromptEmbedding{at::cat(contexts, 0), at::cat(pooled, 0)};
}

}  // namespace swd
