// core/io model identification, discovery and pairing, and the `swd inspect` / `swd models` commands.
// Fake models are built here: real-size checkpoints are headers in the real layouts whose data is a
// sparse hole (identification never reads tensor data), tiny ones hold random tensors under the real
// names; the Hugging Face cache is a tree of blobs, symlinks and refs/main like huggingface_hub writes.
#include "catalog/hf_cache.h"
#include "catalog/manifest.h"
#include "catalog/model_discovery.h"
#include "catalog/model_identity.h"
#include "catalog/model_set.h"
#include "core/test_util.h"
#include "family/family.h"
#include "io/safetensors.h"
#include "sampling/preset_library.h"
#include "util/error.h"

#include <QProcess>
#include <QtTest>

#include <sys/stat.h>

#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

using namespace swd;
using swd::test::ScratchDir;
namespace fs = std::filesystem;

namespace {

struct FakeTensor {
    std::string name;
    std::vector<std::int64_t> shape;
};

std::string le64(std::uint64_t v) {
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xFF);
    return s;
}

// A safetensors file with this header whose data section is a hole of the right size.
void writeHeaderOnly(const fs::path& path, const std::vector<FakeTensor>& tensors,
                     const std::string& dtype = "BF16",
                     const std::map<std::string, std::string>& metadata = {}) {
    const std::uint64_t elem = dtype == "F32" ? 4 : dtype == "F8_E4M3" ? 1 : 2;
    nlohmann::json header = nlohmann::json::object();
    std::uint64_t offset = 0;
    for (const auto& t : tensors) {
        std::uint64_t n = elem;
        for (auto d : t.shape) n *= static_cast<std::uint64_t>(d);
        header[t.name] = {{"dtype", dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + n}}};
        offset += n;
    }
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');
    fs::create_directories(path.parent_path());
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << le64(text.size()) << text;
    }
    fs::resize_file(path, 8 + text.size() + offset);
    // The fakes of real models are gigabytes long: they must stay holes, never fill the disk.
    struct stat st {};
    if (offset > (1u << 30) && (::stat(path.c_str(), &st) != 0 || st.st_blocks * 512 > (64 << 20)))
        qFatal(
            "%s: the temporary folder's file system does not keep sparse files; set TMPDIR to one that does",
            path.c_str());
}

// The tensors of a built-in manifest, under `prefix`.
std::vector<FakeTensor> manifestTensors(const std::string& id, const std::string& prefix = "",
                                        bool withOptional = true) {
    const Manifest* m = findManifest(id);
    if (!m) qFatal("no manifest %s", id.c_str());
    std::vector<FakeTensor> out;
    for (const auto& t : m->tensors)
        if (withOptional || !t.optional) out.push_back({prefix + t.name, t.shape});
    return out;
}

// The block index of a name (its first all-digit component), or -1.
int blockIndex(const std::string& name) {
    std::size_t start = 0;
    while (start < name.size()) {
        auto dot = name.find('.', start);
        if (dot == std::string::npos) dot = name.size();
        const std::string part = name.substr(start, dot - start);
        if (!part.empty() && std::all_of(part.begin(), part.end(), ::isdigit)) return std::stoi(part);
        start = dot + 1;
    }
    return -1;
}

// A tiny random-weight model with the real names of `id` for blocks below `blocks`: every dimension
// cut to at most 4 (same names, other sizes).
void writeTiny(const fs::path& path, const std::vector<std::string>& ids,
               const std::vector<std::string>& prefixes, int blocks) {
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        for (const auto& t : manifestTensors(ids[i], prefixes[i], false)) {
            if (blockIndex(t.name.substr(prefixes[i].size())) >= blocks) continue;
            std::vector<std::int64_t> shape;
            for (auto d : t.shape) shape.push_back(std::min<std::int64_t>(d, 4));
            tensors.emplace_back(t.name, at::randn(shape));
        }
    }
    fs::create_directories(path.parent_path());
    saveSafetensors(path, tensors);
}

void writeText(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    swd::test::writeBytes(path, text);
}

std::string adapterConfig(int r, int alpha) {
    return nlohmann::json{{"peft_type", "LORA"},
                          {"r", r},
                          {"lora_alpha", alpha},
                          {"target_modules", {"to_k", "to_q", "to_v", "to_out.0", "net.0.proj", "net.2"}},
                          {"use_dora", false},
                          {"use_rslora", false},
                          {"rank_pattern", nlohmann::json::object()},
                          {"alpha_pattern", nlohmann::json::object()}}
        .dump();
}

// A real-size diffusers SD3.5 folder (headers only): every component, T5 sharded in two, tokenizers.
using Writer = std::function<void(const std::string& rel, const std::function<void(const fs::path&)>& write)>;
void fillPipeline(const Writer& put, const std::string& transformerManifest = "sd35_medium.diffusers") {
    auto text = [&put](const std::string& rel, const std::string& content) {
        put(rel, [&content](const fs::path& p) { writeText(p, content); });
    };
    text("model_index.json", R"({"_class_name": "StableDiffusion3Pipeline", "transformer": ["diffusers",
        "SD3Transformer2DModel"], "vae": ["diffusers", "AutoencoderKL"], "text_encoder": ["transformers",
        "CLIPTextModelWithProjection"], "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
        "text_encoder_3": ["transformers", "T5EncoderModel"]})");
    for (const char* c : {"transformer", "vae", "text_encoder", "text_encoder_2", "text_encoder_3"})
        text(std::string(c) + "/config.json", "{}");
    put("transformer/diffusion_pytorch_model.safetensors",
        [&](const fs::path& p) { writeHeaderOnly(p, manifestTensors(transformerManifest)); });
    put("vae/diffusion_pytorch_model.safetensors",
        [](const fs::path& p) { writeHeaderOnly(p, manifestTensors("sd3_vae.diffusers"), "F16"); });
    put("text_encoder/model.safetensors",
        [](const fs::path& p) { writeHeaderOnly(p, manifestTensors("clip_l.transformers")); });
    put("text_encoder_2/model.safetensors",
        [](const fs::path& p) { writeHeaderOnly(p, manifestTensors("clip_g.transformers")); });
    auto t5 = manifestTensors("t5xxl.transformers", "", false);
    const std::vector<FakeTensor> first(t5.begin(), t5.begin() + 100), second(t5.begin() + 100, t5.end());
    nlohmann::json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", nlohmann::json::object()}};
    for (const auto& t : first) index["weight_map"][t.name] = "model-00001-of-00002.safetensors";
    for (const auto& t : second) index["weight_map"][t.name] = "model-00002-of-00002.safetensors";
    text("text_encoder_3/model.safetensors.index.json", index.dump());
    put("text_encoder_3/model-00001-of-00002.safetensors",
        [&](const fs::path& p) { writeHeaderOnly(p, first); });
    put("text_encoder_3/model-00002-of-00002.safetensors",
        [&](const fs::path& p) { writeHeaderOnly(p, second); });
    text("tokenizer/vocab.json", "{}");
    text("tokenizer/merges.txt", "#version: 0.2\n");
    text("tokenizer_3/spiece.model", "spm");
}

// A model repository in a fake Hugging Face cache: files are blobs, the snapshot links to them.
class FakeHfRepo {
public:
    FakeHfRepo(const fs::path& cache, const std::string& repoId, const std::string& revision)
        : m_revision(revision) {
        std::string folder = "models--" + repoId;
        folder.replace(folder.find('/'), 1, "--");
        m_dir = cache / folder;
        fs::create_directories(m_dir / "blobs");
        fs::create_directories(m_dir / "snapshots" / revision);
        writeText(m_dir / "refs" / "main", revision);
    }
    const fs::path& dir() const { return m_dir; }
    fs::path snapshot() const { return m_dir / "snapshots" / m_revision; }

    // Adds `rel` to the snapshot: `write` fills the blob, the snapshot gets a relative link to it.
    void put(const std::string& rel, const std::function<void(const fs::path&)>& write) {
        const std::string blob = fmt::format("{:040x}", std::hash<std::string>{}(m_revision + rel));
        if (write) write(m_dir / "blobs" / blob);
        link(rel, blob);
    }
    // A snapshot link to a blob (which may not exist: an interrupted download).
    void link(const std::string& rel, const std::string& blob) {
        const fs::path target = snapshot() / rel;
        fs::create_directories(target.parent_path());
        std::string up = "../../";
        for (char c : rel)
            if (c == '/') up += "../";
        fs::create_symlink(up + "blobs/" + blob, target);
    }
    Writer writer() {
        return [this](const std::string& rel, const std::function<void(const fs::path&)>& write) {
            put(rel, write);
        };
    }

private:
    fs::path m_dir;
    std::string m_revision;
};

Writer plainWriter(const fs::path& root) {
    return [root](const std::string& rel, const std::function<void(const fs::path&)>& write) {
        write(root / rel);
    };
}

const std::string kRevMedium = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
const std::string kRevAdapter = "0f1e2d3c4b5a69788796a5b4c3d2e1f000112233";

// A cache with SD3.5 Medium (diffusers, plus an older snapshot), the SwD Medium 6-step adapter, a
// "4-step" repository that actually holds a Large adapter, and an interrupted Large adapter download.
fs::path makeFakeCache(const fs::path& root) {
    const fs::path cache = root / "hub";
    FakeHfRepo medium(cache, "stabilityai/stable-diffusion-3.5-medium", kRevMedium);
    fillPipeline(medium.writer());
    fs::create_directories(medium.dir() / "snapshots" / "00000000000000000000000000000000000000aa");

    FakeHfRepo six(cache, "yresearch/swd-medium-6-steps", kRevAdapter);
    six.put("adapter_config.json", [](const fs::path& p) { writeText(p, adapterConfig(64, 64)); });
    six.put("adapter_model.safetensors", [](const fs::path& p) {
        writeHeaderOnly(p, manifestTensors("swd_lora_sd35_medium.peft", "base_model.model."), "F32",
                        {{"format", "pt"}});
    });

    FakeHfRepo four(cache, "yresearch/swd-medium-4-steps", kRevAdapter);
    four.put("adapter_config.json", [](const fs::path& p) { writeText(p, adapterConfig(64, 64)); });
    four.put("adapter_model.safetensors", [](const fs::path& p) {
        writeHeaderOnly(p, manifestTensors("swd_lora_sd35_large.peft", "base_model.model."), "F32");
    });

    FakeHfRepo large(cache, "yresearch/swd-large-4-steps", kRevAdapter);
    large.put("adapter_config.json", [](const fs::path& p) { writeText(p, adapterConfig(64, 64)); });
    large.link("adapter_model.safetensors", "deadbeefdeadbeefdeadbeefdeadbeefdeadbeef");
    writeText(large.dir() / "blobs" / "deadbeefdeadbeefdeadbeefdeadbeefdeadbeef.incomplete",
              std::string(4096, 'x'));
    return cache;
}

EnvLookup envWith(std::map<std::string, std::string> vars) {
    return [vars](const std::string& name) -> std::optional<std::string> {
        const auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

DiscoveryResult discoverIn(const std::vector<fs::path>& folders, const fs::path& cache = "/nonexistent/hub") {
    DiscoveryOptions options;
    options.folders = folders;
    options.env = envWith({{"HF_HUB_CACHE", cache.string()}});
    return discoverModels(options);
}

const FoundModel* findModel(const DiscoveryResult& r, const std::function<bool(const FoundModel&)>& pred) {
    for (const auto& m : r.models)
        if (pred(m)) return &m;
    return nullptr;
}

bool contains(const std::string& text, const std::string& fragment) {
    return text.find(fragment) != std::string::npos;
}

std::string joined(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += x + "\n";
    return s;
}

const Schedule& preset(const std::string& id) {
    static const PresetLibrary library = PresetLibrary::builtin();
    return library.get(id);
}

struct CliResult {
    int code = -1;
    QString out, err;
};

CliResult runSwd(const QStringList& args, const fs::path& hfCache = "/nonexistent/hub") {
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert("HF_HUB_CACHE", QString::fromStdString(hfCache.string()));
    p.setProcessEnvironment(env);
    p.start(QStringLiteral(SWD_CLI_PATH), args);
    if (!p.waitForFinished(600000)) qFatal("swd did not finish");
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1,
            QString::fromUtf8(p.readAllStandardOutput()), QString::fromUtf8(p.readAllStandardError())};
}

QString q(const fs::path& p) {
    return QString::fromStdString(p.string());
}

// --- SD 1.5 / SDXL ---------------------------------------------------------------------------------

const std::string kRevSdxl = "5d2e3c4b5a69788796a5b4c3d2e1f00011223344";
const std::string kRevSd15 = "6e3f4d5c6b7a8998a7b6c5d4e3f2a1b011223344";

void copyInto(const fs::path& from, const fs::path& to) {
    fs::create_directories(to.parent_path());
    fs::copy_file(from, to, fs::copy_options::overwrite_existing);
}

std::string sdModelIndex(bool xl) {
    nlohmann::json index = {{"_class_name", xl ? "StableDiffusionXLPipeline" : "StableDiffusionPipeline"},
                            {"unet", {"diffusers", "UNet2DConditionModel"}},
                            {"vae", {"diffusers", "AutoencoderKL"}},
                            {"text_encoder", {"transformers", "CLIPTextModel"}},
                            {"tokenizer", {"transformers", "CLIPTokenizer"}}};
    if (xl) {
        index["text_encoder_2"] = {"transformers", "CLIPTextModelWithProjection"};
        index["tokenizer_2"] = {"transformers", "CLIPTokenizer"};
    }
    return index.dump();
}

// The tokenizer folders of an SD pipeline: the CLIP files shipped in tests/data/tokenizers/clip.
void putSdTokenizers(const Writer& put, bool xl) {
    const fs::path clip = swd::test::dataDir() / "tokenizers" / "clip";
    for (const char* folder : {"tokenizer", "tokenizer_2"}) {
        if (!xl && std::string(folder) == "tokenizer_2") continue;
        for (const char* f : {"vocab.json", "merges.txt"})
            put(std::string(folder) + "/" + f, [&](const fs::path& p) { copyInto(clip / f, p); });
    }
}

// A tiny SD 1.5 / SDXL diffusers pipeline from the golden components (tests/data/golden/components_sd).
void fillTinySdPipeline(const Writer& put, bool xl, bool withTextEncoder2 = true) {
    const fs::path src = swd::test::goldenDir("components_sd");
    put("model_index.json", [xl](const fs::path& p) { writeText(p, sdModelIndex(xl)); });
    std::vector<std::pair<std::string, std::string>> folders = {
        {"unet", xl ? "unet_sdxl" : "unet_sd15"},
        {"vae", xl ? "vae_sdxl" : "vae_sd15"},
        {"text_encoder", "text_encoder"},
        {"scheduler", xl ? "scheduler_sdxl" : "scheduler_sd15"}};
    if (xl && withTextEncoder2) folders.emplace_back("text_encoder_2", "text_encoder_2");
    for (const auto& [to, from] : folders)
        for (const auto& e : fs::directory_iterator(src / from))
            put(to + "/" + e.path().filename().string(), [&e](const fs::path& p) { copyInto(e.path(), p); });
    putSdTokenizers(put, xl);
}

// A real-size SD 1.5 / SDXL diffusers pipeline (headers only), the UNet as .fp16 variant files as
// `from_pretrained(variant="fp16")` downloads them.
void fillSdPipeline(const Writer& put, bool xl, bool withTextEncoder2 = true) {
    put("model_index.json", [xl](const fs::path& p) { writeText(p, sdModelIndex(xl)); });
    for (const char* c : {"unet", "vae", "text_encoder"})
        put(std::string(c) + "/config.json", [](const fs::path& p) { writeText(p, "{}"); });
    put("unet/diffusion_pytorch_model.fp16.safetensors", [xl](const fs::path& p) {
        writeHeaderOnly(p, manifestTensors(xl ? "sdxl_unet.diffusers" : "sd15_unet.diffusers"), "F16");
    });
    put("vae/diffusion_pytorch_model.safetensors",
        [](const fs::path& p) { writeHeaderOnly(p, manifestTensors("sd_vae.diffusers"), "F32"); });
    // CLIPTextModel: no text_projection (optional in the CLIP-L manifest).
    put("text_encoder/model.safetensors",
        [](const fs::path& p) { writeHeaderOnly(p, manifestTensors("clip_l.transformers", "", false)); });
    if (xl && withTextEncoder2) {
        put("text_encoder_2/config.json", [](const fs::path& p) { writeText(p, "{}"); });
        put("text_encoder_2/model.safetensors",
            [](const fs::path& p) { writeHeaderOnly(p, manifestTensors("clip_g.transformers")); });
    }
    putSdTokenizers(put, xl);
}

std::vector<ComponentKind> kindsOf(const FoundModel& m) {
    std::vector<ComponentKind> out;
    for (const auto& c : m.components) out.push_back(c.kind);
    return out;
}

}  // namespace

class TestDiscovery : public QObject {
    Q_OBJECT

private Q_SLOTS:
    // The embedded compact manifests hold exactly the golden JSON manifests' names and shapes.
    void manifestsMatchGoldenJson() {
        struct Case {
            const char* json;
            const char* model;
            const char* listKey;
        };
        for (const Case c :
             {Case{"transformer_sd35_large.json", "sd35_large", "diffusers"},
              Case{"transformer_sd35_medium.json", "sd35_medium", "diffusers"},
              Case{"transformer_sd3_medium.json", "sd3_medium", "diffusers"},
              Case{"vae_sd3.json", "sd3_vae", "diffusers"}, Case{"clip_l.json", "clip_l", "transformers"},
              Case{"clip_g.json", "clip_g", "transformers"}, Case{"t5xxl.json", "t5xxl", "transformers"}}) {
            std::ifstream in(swd::test::goldenDir("manifests") / c.json);
            const auto golden = nlohmann::json::parse(in);
            const std::string listKey = c.listKey;
            const Manifest* m = findManifest(std::string(c.model) + "." + listKey);
            QVERIFY2(m, c.json);
            QCOMPARE(m->tensors.size(), golden[listKey].size());
            QCOMPARE(m->params, golden["total_params"].get<std::uint64_t>());
            for (const auto& t : golden[listKey]) {
                const ManifestTensor* mt = m->find(t["name"]);
                QVERIFY2(mt, t["name"].get<std::string>().c_str());
                QCOMPARE(mt->shape, t["shape"].get<std::vector<std::int64_t>>());
            }
            // Single-file names: the original names without the component prefix (or, for the text
            // encoders, the same names under it).
            const auto& sf = golden["single_file"];
            if (listKey == "diffusers") {
                const Manifest* s = findManifest(std::string(c.model) + ".single_file");
                QVERIFY(s);
                QCOMPARE(s->tensors.size(), sf["entries"].size());
                for (const auto& e : sf["entries"]) {
                    std::string name = e["original"];
                    if (name.rfind(s->prefix, 0) == 0) name = name.substr(s->prefix.size());
                    const ManifestTensor* mt = s->find(name);
                    QVERIFY2(mt, name.c_str());
                    QCOMPARE(mt->shape, e["shape"].get<std::vector<std::int64_t>>());
                }
            } else {
                for (const auto& e : sf["entries"])
                    QVERIFY(e["original"].get<std::string>().rfind(m->prefix, 0) == 0);
                QCOMPARE(m->requiredCount(), sf["entries"].size());
            }
        }
        // Optional tensors: CLIP-L's projection (absent in single files), T5's tied embed_tokens.
        QVERIFY(findManifest("clip_l.transformers")->find("text_projection.weight")->optional);
        QVERIFY(findManifest("t5xxl.transformers")->find("encoder.embed_tokens.weight")->optional);
        QVERIFY(!findManifest("clip_g.transformers")->find("text_projection.weight")->optional);
        // The real SwD adapters (derived from SwD's training code): 484 / 604 tensors at r = 64.
        std::ifstream in(swd::test::goldenDir("lora_sd35_medium_like") / "real_swd_adapters.json");
        const auto real = nlohmann::json::parse(in);
        for (const auto& [model, id] :
             {std::pair<std::string, std::string>{"sd35_medium", "swd_lora_sd35_medium.peft"},
              {"sd35_large", "swd_lora_sd35_large.peft"}}) {
            const Manifest* m = findManifest(id);
            QVERIFY(m);
            QCOMPARE(m->tensors.size(), real["models"][model]["keys"].size());
            for (const auto& [name, shape] : real["models"][model]["keys"].items()) {
                const ManifestTensor* mt = m->find(name.substr(std::string("base_model.model.").size()));
                QVERIFY2(mt, name.c_str());
                QCOMPARE(mt->shape, shape.get<std::vector<std::int64_t>>());
            }
        }
    }

    void structureTemplateIgnoresBlockIndices() {
        QCOMPARE(structureTemplate("transformer_blocks.12.ff.net.0.proj.weight"),
                 std::string("transformer_blocks.#.ff.net.#.proj.weight"));
        QCOMPARE(structureTemplate("pos_embed"), std::string("pos_embed"));
        SWD_EXPECT_ERROR(
            parseManifest("@id x\n@kind transformer\n@layout diffusers\na.{3-1}.b 4\n", "bad.txt"),
            "bad.txt:4", "empty range");
        SWD_EXPECT_ERROR(parseManifest("@id x\n@kind robot\n", "k.txt"), "unknown kind 'robot'");
    }

    // The golden tiny models (real names, tiny random weights, fewer blocks) are recognised as their
    // architecture at another size, with their dimensions.
    void goldenTinyModelsAreSameArchitectureOtherSize() {
        struct Case {
            const char* folder;
            ModelFamily family;
            ComponentDims dims;
        };
        for (const Case& c :
             {Case{"transformer_sd35_medium_like/transformer", ModelFamily::SD35Medium, {32, 3, {0, 1}}},
              Case{"transformer_sd35_large_like/transformer", ModelFamily::SD35Large, {32, 3, {}}},
              Case{"transformer_sd3_like/transformer", ModelFamily::SD3Medium, {32, 3, {}}}}) {
            const auto models = identifyPath(swd::test::goldenDir(c.folder), "test");
            QCOMPARE(models.size(), std::size_t(1));
            const FoundModel& m = models.front();
            QVERIFY2(m.usable(), joined(m.problems).c_str());
            QCOMPARE(m.kind, FoundKind::Component);
            const auto* t = m.component(ComponentKind::Transformer);
            QVERIFY(t);
            QCOMPARE(t->match.quality, MatchQuality::OtherSize);
            QVERIFY(m.family() == c.family);
            QVERIFY(!m.realSize());
            QVERIFY(t->match.dims == c.dims);
        }
        const auto vae = identifyPath(swd::test::goldenDir("vae_2level") / "vae", "test");
        QCOMPARE(vae.front().component(ComponentKind::Vae)->match.quality, MatchQuality::OtherSize);
        QVERIFY((vae.front().component(ComponentKind::Vae)->match.dims == ComponentDims{8, 2, {}}));

        // The components folder is a diffusers pipeline without model_index.json: five components, each
        // in its folder's role (the tiny CLIPs fit both CLIP-L and CLIP-G; the folder decides).
        const auto pipe = identifyPath(swd::test::goldenDir("components"), "test");
        QCOMPARE(pipe.size(), std::size_t(1));
        const FoundModel& p = pipe.front();
        QCOMPARE(p.kind, FoundKind::Pipeline);
        QVERIFY2(p.usable(), joined(p.problems).c_str());
        QCOMPARE(p.components.size(), std::size_t(5));
        QVERIFY(p.family() == ModelFamily::SD35Medium);
        QCOMPARE(p.component(ComponentKind::ClipL)->path.filename().string(), std::string("text_encoder"));
        QCOMPARE(p.component(ComponentKind::ClipG)->path.filename().string(), std::string("text_encoder_2"));
        QCOMPARE(p.component(ComponentKind::T5)->match.dims.width, std::int64_t(32));
        QVERIFY(contains(p.summary(), "SD3.5 Medium (other size)"));
    }

    // Real names with tiny tensors in the original single-file layout (transformer + VAE under their
    // prefixes): the same architecture at another size.
    void tinySingleFileIsRecognised() {
        ScratchDir dir;
        const fs::path file = dir.file("tiny_sd35m.safetensors");
        writeTiny(file, {"sd35_medium.single_file", "sd3_vae.single_file"},
                  {"model.diffusion_model.", "first_stage_model."}, 3);
        const auto models = identifyPath(file, "test");
        const FoundModel& m = models.front();
        QVERIFY2(m.usable(), joined(m.problems).c_str());
        QCOMPARE(m.kind, FoundKind::Checkpoint);
        const auto* t = m.component(ComponentKind::Transformer);
        QVERIFY(t);
        QCOMPARE(t->prefix, std::string("model.diffusion_model."));
        QCOMPARE(t->match.manifest->id, std::string("sd35_medium.single_file"));
        QCOMPARE(t->match.quality, MatchQuality::OtherSize);
        QVERIFY((t->match.dims == ComponentDims{4, 3, {0, 1, 2}}));
        QCOMPARE(m.component(ComponentKind::Vae)->prefix, std::string("first_stage_model."));
    }

    // Real-size headers (sparse files): exact matches whatever the dtype, every family and layout.
    void realSizeHeadersMatchExactly() {
        ScratchDir dir;
        for (const auto& [id, family] :
             {std::pair<std::string, ModelFamily>{"sd35_medium.diffusers", ModelFamily::SD35Medium},
              {"sd35_large.diffusers", ModelFamily::SD35Large},
              {"sd3_medium.diffusers", ModelFamily::SD3Medium}}) {
            const fs::path f = dir.file(id + ".safetensors");
            writeHeaderOnly(f, manifestTensors(id));
            const auto id2 = identifyCheckpoint(TensorStore::open(f));
            QCOMPARE(id2.components.size(), std::size_t(1));
            QCOMPARE(id2.components[0].quality, MatchQuality::Exact);
            QVERIFY(id2.components[0].family() == family);
            QCOMPARE(id2.components[0].matched, findManifest(id)->tensors.size());
        }
        // sd3.5_medium.safetensors: transformer (original names) + VAE, bf16; 5.107 GB as published.
        const fs::path single = dir.file("sd3.5_medium.safetensors");
        writeHeaderOnly(single, [] {
            auto t = manifestTensors("sd35_medium.single_file", "model.diffusion_model.");
            for (auto& v : manifestTensors("sd3_vae.single_file", "first_stage_model.")) t.push_back(v);
            return t;
        }());
        const auto models = identifyPath(single, "test");
        const FoundModel& m = models.front();
        QVERIFY2(m.usable(), joined(m.problems).c_str());
        QCOMPARE(m.kind, FoundKind::Checkpoint);
        QCOMPARE(m.components.size(), std::size_t(2));
        QCOMPARE(m.component(ComponentKind::Transformer)->match.quality, MatchQuality::Exact);
        QCOMPARE(m.component(ComponentKind::Vae)->match.quality, MatchQuality::Exact);
        QCOMPARE(m.bytes, std::uint64_t(4939327872ull + 167639366ull));
        QVERIFY(m.realSize());

        // Text encoders as shipped in text_encoders/: CLIP-L without text_projection, T5 in fp8.
        writeHeaderOnly(dir.file("clip_l.safetensors"), manifestTensors("clip_l.transformers", "", false),
                        "F16");
        const auto clipL = identifyCheckpoint(TensorStore::open(dir.file("clip_l.safetensors")));
        QCOMPARE(clipL.components[0].kind, ComponentKind::ClipL);
        QCOMPARE(clipL.components[0].quality, MatchQuality::Exact);
        QCOMPARE(clipL.components[0].optionalAbsent.count, std::size_t(1));
        writeHeaderOnly(dir.file("t5xxl_fp8_e4m3fn.safetensors"),
                        manifestTensors("t5xxl.transformers", "", false), "F8_E4M3");
        const auto t5 = identifyCheckpoint(TensorStore::open(dir.file("t5xxl_fp8_e4m3fn.safetensors")));
        QCOMPARE(t5.components[0].kind, ComponentKind::T5);
        QCOMPARE(t5.components[0].quality, MatchQuality::Exact);
        QCOMPARE(formatDtypes(t5.components[0].dtypes), std::string("F8_E4M3"));

        // All-in-one: Large transformer + VAE + the three encoders under their prefixes.
        const fs::path aio = dir.file("sd3.5_large_incl_clips_t5.safetensors");
        writeHeaderOnly(aio, [] {
            auto t = manifestTensors("sd35_large.single_file", "model.diffusion_model.");
            for (const auto& [id, prefix] :
                 {std::pair<std::string, std::string>{"sd3_vae.single_file", "first_stage_model."},
                  {"clip_l.transformers", "text_encoders.clip_l.transformer."},
                  {"clip_g.transformers", "text_encoders.clip_g.transformer."},
                  {"t5xxl.transformers", "text_encoders.t5xxl.transformer."}})
                for (auto& v : manifestTensors(id, prefix, false)) t.push_back(v);
            return t;
        }());
        const auto all = identifyPath(aio, "test").front();
        QVERIFY2(all.usable(), joined(all.problems).c_str());
        QCOMPARE(all.components.size(), std::size_t(5));
        for (const auto& c : all.components) QCOMPARE(c.match.quality, MatchQuality::Exact);
        QVERIFY(all.family() == ModelFamily::SD35Large);
        QCOMPARE(all.component(ComponentKind::T5)->prefix, std::string("text_encoders.t5xxl.transformer."));
    }

    // A near match says what is missing, unexpected and of the wrong shape (first few + counts).
    void nearMatchListsTheDifferences() {
        ScratchDir dir;
        auto tensors = manifestTensors("sd35_medium.diffusers");
        tensors.resize(tensors.size() - 3);  // the last three (proj_out.*, norm_out.*) are missing
        tensors[4].shape = {7, 7};
        tensors.push_back({"extra.weight", {3}});
        writeHeaderOnly(dir.file("t.safetensors"), tensors);
        const auto id = identifyCheckpoint(TensorStore::open(dir.file("t.safetensors")));
        QCOMPARE(id.components.size(), std::size_t(1));
        const ComponentMatch& c = id.components[0];
        QCOMPARE(c.quality, MatchQuality::Near);
        QCOMPARE(c.manifest->id, std::string("sd35_medium.diffusers"));
        QCOMPARE(c.missing.count, std::size_t(3));
        QCOMPARE(c.unexpected.count, std::size_t(1));
        QCOMPARE(c.unexpected.shown, std::vector<std::string>{"extra.weight"});
        QCOMPARE(c.wrongShape.count, std::size_t(1));
        const std::string details = joined(c.details());
        QVERIFY2(contains(details, "missing (3): "), details.c_str());
        QVERIFY(contains(details, "wrong shape (1): " + tensors[4].name + " [7, 7] (expected "));
        QVERIFY(contains(c.headline(), "near match to SD3.5 Medium transformer"));

        // Unrelated weights are not a model of ours.
        writeHeaderOnly(dir.file("other.safetensors"),
                        {{"double_blocks.0.img_attn.qkv.weight", {9216, 3072}}});
        const auto other = identifyPath(dir.file("other.safetensors"), "test").front();
        QVERIFY(other.unrelated);
        QVERIFY(!other.usable());
    }

    void loraAdapters() {
        // The golden PEFT folder and diffusers file: r = 4, alpha 8, scale 2, on a tiny MMDiT-X.
        const auto peft =
            identifyPath(swd::test::goldenDir("lora_sd35_medium_like") / "adapter", "test").front();
        QCOMPARE(peft.kind, FoundKind::Adapter);
        QVERIFY2(peft.usable(), joined(peft.problems).c_str());
        QCOMPARE(peft.lora->format, std::string("PEFT"));
        QCOMPARE(peft.lora->rank, 4);
        QCOMPARE(peft.lora->alpha, 8.0);
        QCOMPARE(peft.lora->scale, 2.0);
        QCOMPARE(peft.lora->modules, std::size_t(30));
        QVERIFY(peft.lora->family == ModelFamily::SD35Medium);
        QVERIFY(!peft.lora->realSize);
        QVERIFY((peft.lora->dims == ComponentDims{32, 3, {0, 1}}));
        const auto diff = identifyPath(swd::test::goldenDir("lora_sd35_medium_like") / "diffusers_lora" /
                                           "pytorch_lora_weights.safetensors",
                                       "test")
                              .front();
        QCOMPARE(diff.lora->format, std::string("diffusers"));
        QCOMPARE(diff.lora->scale, 2.0);
        QCOMPARE(diff.lora->alphaSource, std::string("lora_adapter_metadata"));
        // It fits the golden tiny Medium transformer, not the tiny Large one.
        QVERIFY(peft.lora->fitProblem({32, 3, {0, 1}}, "tiny").empty());
        QVERIFY(
            contains(peft.lora->fitProblem({32, 3, {}}, "tiny large"), "made for hidden 32, 3 blocks, dual"));

        // Real-size SwD layouts (r = 64): Medium (242 modules, attn2 in blocks 0-12) and Large.
        ScratchDir dir;
        writeHeaderOnly(dir.file("m/adapter_model.safetensors"),
                        manifestTensors("swd_lora_sd35_medium.peft", "base_model.model."), "F32");
        writeText(dir.file("m/adapter_config.json"), adapterConfig(64, 64));
        const auto m = identifyPath(dir.file("m"), "test").front();
        QVERIFY2(m.usable(), joined(m.problems).c_str());
        QVERIFY(m.lora->family == ModelFamily::SD35Medium);
        QVERIFY(m.lora->realSize);
        QCOMPARE(m.lora->modules, std::size_t(242));
        QCOMPARE(m.lora->params, std::uint64_t(75300864));
        QVERIFY(m.lora->swdMissing.empty() && m.lora->swdExtra.empty());
        QVERIFY(contains(m.lora->headline(), "fits SD3.5 Medium (every module SwD adapts"));
        writeHeaderOnly(dir.file("large.safetensors"),
                        manifestTensors("swd_lora_sd35_large.peft", "transformer."), "BF16");
        const auto l = identifyPath(dir.file("large.safetensors"), "test").front();
        QVERIFY(l.lora->family == ModelFamily::SD35Large);
        QCOMPARE(l.lora->modules, std::size_t(302));
        QCOMPARE(l.lora->alphaSource, std::string("not stored: alpha = r"));
        QCOMPARE(l.lora->scale, 1.0);
        QVERIFY(contains(
            l.lora->fitProblem(m.lora->dims, "SD3.5 Medium"),
            "the adapter was made for SD3.5 Large (hidden 2432, 38 blocks), but the base transformer is "
            "SD3.5 Medium (hidden 1536, 24 blocks"));

        // Broken adapters: config rank differs from the tensors; a factor without its pair; DoRA.
        writeHeaderOnly(dir.file("bad/adapter_model.safetensors"),
                        {{"base_model.model.transformer_blocks.0.attn.to_q.lora_A.weight", {8, 1536}},
                         {"base_model.model.transformer_blocks.0.attn.to_q.lora_B.weight", {1536, 8}},
                         {"base_model.model.transformer_blocks.0.attn.to_k.lora_A.weight", {8, 1536}}},
                        "F32");
        writeText(dir.file("bad/adapter_config.json"), R"({"r": 16, "lora_alpha": 16, "use_dora": true})");
        const auto bad = identifyPath(dir.file("bad"), "test").front();
        QVERIFY(!bad.usable());
        const std::string problems = joined(bad.problems);
        QVERIFY2(contains(problems, "adapter_config.json says r = 16, but the tensors have rank 8"),
                 problems.c_str());
        QVERIFY(contains(problems, "transformer_blocks.0.attn.to_k: has lora_A but no lora_B"));
        QVERIFY(contains(problems, "DoRA adapters are not supported"));

        // A kohya-format LoRA is named as such, not taken for unrelated weights.
        writeHeaderOnly(dir.file("kohya.safetensors"),
                        {{"lora_unet_joint_blocks_0_x_block_attn_qkv.lora_down.weight", {16, 1536}},
                         {"lora_unet_joint_blocks_0_x_block_attn_qkv.lora_up.weight", {4608, 16}}});
        const auto kohya = identifyPath(dir.file("kohya.safetensors"), "test").front();
        QCOMPARE(kohya.kind, FoundKind::Adapter);
        QVERIFY(!kohya.usable() && !kohya.unrelated);
        QVERIFY(contains(joined(kohya.problems), "a LoRA in the kohya format (lora_down / lora_up)"));
    }

    void hfCacheLocationFollowsHuggingFaceRules() {
        const std::map<std::string, std::string> all = {{"HF_HUB_CACHE", "/a"},
                                                        {"HUGGINGFACE_HUB_CACHE", "/b"},
                                                        {"HF_HOME", "/c"},
                                                        {"XDG_CACHE_HOME", "/d"},
                                                        {"HOME", "/home/u"}};
        QCOMPARE(hfHubCacheLocation(envWith(all)).path, fs::path("/a"));
        auto v = all;
        v["HF_HUB_CACHE"] = "";  // empty counts as unset
        QCOMPARE(hfHubCacheLocation(envWith(v)).path, fs::path("/b"));
        v.erase("HUGGINGFACE_HUB_CACHE");
        QCOMPARE(hfHubCacheLocation(envWith(v)).path, fs::path("/c/hub"));
        QCOMPARE(hfHubCacheLocation(envWith(v)).source, std::string("HF_HOME/hub"));
        v.erase("HF_HOME");
        QCOMPARE(hfHubCacheLocation(envWith(v)).path, fs::path("/d/huggingface/hub"));
        v.erase("XDG_CACHE_HOME");
        QCOMPARE(hfHubCacheLocation(envWith(v)).path, fs::path("/home/u/.cache/huggingface/hub"));
        QVERIFY(hfHubCacheLocation(envWith({})).path.empty());
        QCOMPARE(hfRepoIdFromFolderName("models--yresearch--swd-medium-6-steps").value(),
                 std::string("yresearch/swd-medium-6-steps"));
        QVERIFY(!hfRepoIdFromFolderName("datasets--a--b"));
    }

    // The fake cache: refs/main picks the snapshot, files are reached through their blob links.
    void discoversTheHuggingFaceCache() {
        ScratchDir dir;
        const fs::path cache = makeFakeCache(dir.path());
        const auto repos = scanHfCache(cache);
        QCOMPARE(repos.size(), std::size_t(4));
        const HfRepo& medium = repos[0];
        QCOMPARE(medium.repoId, std::string("stabilityai/stable-diffusion-3.5-medium"));
        QCOMPARE(medium.revision, kRevMedium);
        QCOMPARE(medium.revisionSource, std::string("refs/main"));
        QVERIFY(fs::is_symlink(medium.snapshot / "transformer" / "diffusion_pytorch_model.safetensors"));

        const DiscoveryResult found = discoverIn({}, cache);
        const FoundModel* pipe =
            findModel(found, [](const FoundModel& m) { return m.kind == FoundKind::Pipeline; });
        QVERIFY(pipe);
        QVERIFY2(pipe->usable(), joined(pipe->problems).c_str());
        QCOMPARE(pipe->repoId, std::string("stabilityai/stable-diffusion-3.5-medium"));
        QCOMPARE(pipe->revision, kRevMedium);
        QCOMPARE(pipe->components.size(), std::size_t(5));
        QVERIFY(pipe->realSize());
        QVERIFY(pipe->family() == ModelFamily::SD35Medium);
        QVERIFY(pipe->tokenizers.complete());
        for (const auto& c : pipe->components) QCOMPARE(c.match.quality, MatchQuality::Exact);
        QCOMPARE(pipe->component(ComponentKind::T5)->match.tensors, std::size_t(219));  // both shards

        const FoundModel* six =
            findModel(found, [](const FoundModel& m) { return m.repoId == "yresearch/swd-medium-6-steps"; });
        QVERIFY(six && six->usable() && six->lora->realSize);
        QCOMPARE(found.searched.size(), std::size_t(1));
        QVERIFY(contains(found.searched[0].why, "HF_HUB_CACHE"));

        // The cache named as a folder too: searched once.
        const DiscoveryResult twice = discoverIn({cache}, cache);
        QCOMPARE(twice.models.size(), found.models.size());
        QCOMPARE(twice.searched.size(), std::size_t(2));
        QCOMPARE(twice.searched[1].outcome, std::string("searched above"));
    }

    // Pairing the SwD preset with the cache: every path, the tokenizers of the snapshot, the identity.
    void resolvesSwdPresetFromTheCache() {
        ScratchDir dir;
        const fs::path cache = makeFakeCache(dir.path());
        const DiscoveryResult found = discoverIn({}, cache);
        const ModelSet set = resolveModelSet(preset("swd-2b-6step"), found, {});
        const fs::path snap =
            cache / "models--stabilityai--stable-diffusion-3.5-medium" / "snapshots" / kRevMedium;
        QVERIFY(set.family == ModelFamily::SD35Medium);
        QVERIFY(set.realSize);
        QCOMPARE(set.transformer, snap / "transformer");
        QCOMPARE(set.transformerPrefix, std::string());
        QCOMPARE(set.vae, snap / "vae");
        QCOMPARE(set.clipL, snap / "text_encoder");
        QCOMPARE(set.clipG, snap / "text_encoder_2");
        QCOMPARE(set.t5, snap / "text_encoder_3");
        QCOMPARE(set.clipVocab, snap / "tokenizer" / "vocab.json");
        QCOMPARE(set.t5Spiece, snap / "tokenizer_3" / "spiece.model");
        QVERIFY(set.adapter.has_value());
        QCOMPARE(*set.adapter, cache / "models--yresearch--swd-medium-6-steps" / "snapshots" / kRevAdapter);
        QCOMPARE(set.adapterInfo->scale, 1.0);
        const std::string identity = set.identity();
        QVERIFY2(contains(identity, "SD3.5 Medium + yresearch/swd-medium-6-steps"), identity.c_str());
        QVERIFY(contains(identity, "transformer=stabilityai/stable-diffusion-3.5-medium@" + kRevMedium +
                                       ":transformer ("));
        QVERIFY(contains(
            identity,
            "adapter=yresearch/swd-medium-6-steps@" + kRevAdapter + ":adapter_model.safetensors (" +
                std::to_string(fs::file_size(set.adapter->string() + "/adapter_model.safetensors")) + " B)"));

        // The full-resolution preset needs no adapter.
        const ModelSet full = resolveModelSet(preset("sd35-medium-full"), found, {});
        QVERIFY(!full.adapter);
    }

    // What cannot be used says why: the "4-step" repository holds a Large adapter, the Large download
    // was interrupted (dangling link, .incomplete blob), and nothing of SD3.5 Large is there.
    void missingPartsAreListedWithEveryPlaceLooked() {
        ScratchDir dir;
        const fs::path cache = makeFakeCache(dir.path());
        fs::create_directories(dir.file("models"));
        const DiscoveryResult found = discoverIn({dir.file("models")}, cache);

        const ModelSetPlan four = planModelSet(preset("swd-2b-4step"), found, {});
        QVERIFY(!four.set);
        QCOMPARE(four.missingParts, std::vector<std::string>{"adapter yresearch/swd-medium-4-steps"});
        QVERIFY2(contains(four.message,
                          "preset 'swd-2b-4step' needs SD3.5 Medium with the SwD adapter "
                          "yresearch/swd-medium-4-steps; missing:"),
                 four.message.c_str());
        QVERIFY(contains(four.message,
                         "the adapter was made for SD3.5 Large (hidden 2432, 38 blocks), but the base "
                         "transformer is SD3.5 Medium"));
        QVERIFY(contains(four.message, "other adapters for SD3.5 Medium were found"));
        QVERIFY(contains(four.message, dir.file("models").string() + " (--folder): nothing recognised"));
        QVERIFY(contains(four.message, cache.string() + " (Hugging Face cache, HF_HUB_CACHE)"));
        QVERIFY(contains(four.message, "`huggingface-cli download yresearch/swd-medium-4-steps`"));
        SWD_EXPECT_ERROR(resolveModelSet(preset("swd-2b-4step"), found, {}), "missing:", "Searched:");

        const ModelSetPlan large = planModelSet(preset("swd-8b-4step"), found, {});
        QCOMPARE(large.missingParts, (std::vector<std::string>{"SD3.5 Large transformer",
                                                               "adapter yresearch/swd-large-4-steps"}));
        QVERIFY2(contains(large.message, "adapter_model.safetensors is a link to ../../blobs/deadbeef"),
                 large.message.c_str());
        QVERIFY(contains(large.message, "which does not exist (the download did not finish)"));
        QVERIFY(
            contains(large.message, "deadbeefdeadbeefdeadbeefdeadbeefdeadbeef.incomplete, 4.1 kB so far"));
        QVERIFY(contains(large.message, "run `huggingface-cli download yresearch/swd-large-4-steps`"));
        QVERIFY(contains(large.message, "huggingface-cli download stabilityai/stable-diffusion-3.5-large"));
    }

    // A user folder: the single-file checkpoint, text_encoders/ files, a PEFT folder named after the
    // SwD repository; the tokenizers shipped with swd fill in for the file's missing tokenizer/.
    void resolvesFromSingleFileAndTextEncoders() {
        ScratchDir dir;
        const fs::path root = dir.file("models");
        writeHeaderOnly(root / "sd3.5_medium.safetensors", [] {
            auto t = manifestTensors("sd35_medium.single_file", "model.diffusion_model.");
            for (auto& v : manifestTensors("sd3_vae.single_file", "first_stage_model.")) t.push_back(v);
            return t;
        }());
        writeHeaderOnly(root / "text_encoders" / "clip_l.safetensors",
                        manifestTensors("clip_l.transformers", "", false));
        writeHeaderOnly(root / "text_encoders" / "clip_g.safetensors",
                        manifestTensors("clip_g.transformers"));
        writeHeaderOnly(root / "loras" / "SwD_Medium_6_Steps" / "adapter_model.safetensors",
                        manifestTensors("swd_lora_sd35_medium.peft", "base_model.model."), "F32");
        writeText(root / "loras" / "SwD_Medium_6_Steps" / "adapter_config.json", adapterConfig(64, 128));

        const DiscoveryResult found = discoverIn({root});
        QCOMPARE(found.models.size(), std::size_t(4));
        const ModelSet set = resolveModelSet(preset("swd-2b-6step"), found, {});
        QCOMPARE(set.transformer, root / "sd3.5_medium.safetensors");
        QCOMPARE(set.transformerPrefix, std::string("model.diffusion_model."));
        QCOMPARE(set.transformerLayout, WeightLayout::SingleFile);
        QCOMPARE(set.vae, root / "sd3.5_medium.safetensors");
        QCOMPARE(set.vaePrefix, std::string("first_stage_model."));
        QCOMPARE(set.clipL, root / "text_encoders" / "clip_l.safetensors");
        QCOMPARE(set.clipG, root / "text_encoders" / "clip_g.safetensors");
        QVERIFY(set.t5.empty());  // optional
        QVERIFY(contains(joined(set.notes), "no T5-XXL text encoder found"));
        QCOMPARE(*set.adapter, root / "loras" / "SwD_Medium_6_Steps");
        QCOMPARE(set.adapterInfo->scale, 2.0);
        // The shipped tokenizers are the real files (found beside the executable, install prefix or tree).
        QVERIFY(fs::exists(set.clipVocab) && fs::exists(set.clipMerges) && fs::exists(set.t5Spiece));
        QCOMPARE(fs::file_size(set.t5Spiece), std::uintmax_t(791656));
        QVERIFY(contains(set.tokenizerOrigin, "shipped with swd"));
        QVERIFY(contains(set.identity(), "transformer=models/sd3.5_medium.safetensors (5107"));
    }

    // The broken cases of a user's folder, each with its message.
    void brokenModelFolders() {
        ScratchDir dir;
        // The wrong model in a folder: a VAE where the transformer belongs.
        const fs::path wrong = dir.file("wrong");
        fillPipeline(plainWriter(wrong), "sd3_vae.diffusers");
        const auto w = identifyPath(wrong, "test").front();
        QVERIFY(!w.usable());
        QVERIFY2(contains(joined(w.problems),
                          "transformer: holds SD3 VAE (16-channel AutoencoderKL) (exact match), "
                          "but a transformer belongs there: the wrong model is in this folder"),
                 joined(w.problems).c_str());

        // A sharded checkpoint missing a shard.
        const fs::path sharded = dir.file("sharded");
        fillPipeline(plainWriter(sharded));
        fs::remove(sharded / "text_encoder_3" / "model-00002-of-00002.safetensors");
        const auto s = identifyPath(sharded, "test").front();
        QVERIFY(!s.usable());
        QVERIFY(s.unreadable);
        QVERIFY2(contains(joined(s.problems), "names shard 'model-00002-of-00002.safetensors'"),
                 joined(s.problems).c_str());
        QVERIFY(contains(joined(s.problems), "does not exist; the download is incomplete"));

        // A folder missing a component, and a shard without its index.
        const fs::path partial = dir.file("partial");
        fillPipeline(plainWriter(partial));
        fs::remove_all(partial / "text_encoder_2");
        fs::rename(partial / "text_encoder_3" / "model-00001-of-00002.safetensors",
                   dir.file("model-00001-of-00002.safetensors"));
        const auto p = identifyPath(partial, "test").front();
        QVERIFY(contains(joined(p.problems),
                         "the CLIP-G folder text_encoder_2/ is missing (model_index.json lists it)"));
        const auto shard = identifyPath(dir.file("model-00001-of-00002.safetensors"), "test");
        QVERIFY(!shard.front().usable());

        // A truncated file (the reader's message), a dangling link outside the cache.
        const fs::path good = dir.file("clip_g.safetensors");
        writeHeaderOnly(good, manifestTensors("clip_g.transformers"));
        fs::resize_file(good, fs::file_size(good) - 10);
        const auto t = identifyPath(good, "test").front();
        QVERIFY(t.unreadable);
        QVERIFY2(contains(joined(t.problems), "the file is truncated"), joined(t.problems).c_str());
        fs::create_symlink(dir.file("gone.safetensors"), dir.file("link.safetensors"));
        SWD_EXPECT_ERROR(identifyPath(dir.file("link.safetensors"), "test"), "is a link to",
                         "which does not exist");
        SWD_EXPECT_ERROR(identifyPath(dir.file("nothing"), "test"), "nothing: no such file or folder");

        // refs/main naming a snapshot that is not there: the only snapshot is used, and that is said.
        FakeHfRepo repo(dir.file("hub"), "stabilityai/stable-diffusion-3.5-large",
                        "1111111111111111111111111111111111111111");
        writeText(repo.dir() / "refs" / "main", "2222222222222222222222222222222222222222");
        const HfRepo r = readHfRepo(repo.dir());
        QCOMPARE(r.revision, std::string("1111111111111111111111111111111111111111"));
        QCOMPARE(r.revisionSource, std::string("the only snapshot"));
        QVERIFY(contains(joined(r.problems),
                         "refs/main names revision 2222222222222222222222222222222222222222"));
    }

    // --model / --adapter: the demo (a tiny model of the real family) runs when named; a model or adapter
    // of another family is refused before anything loads.
    void overrides() {
        const DiscoveryResult nothing = discoverIn({});
        ModelSetOverrides demo;
        demo.model = swd::test::goldenDir("components");
        const ModelSet set = resolveModelSet(preset("sd35-medium-full"), nothing, demo);
        QVERIFY(!set.realSize);
        QCOMPARE(set.transformer, swd::test::goldenDir("components") / "transformer");
        QCOMPARE(set.clipG, swd::test::goldenDir("components") / "text_encoder_2");
        QVERIFY(contains(set.identity(), "(other size)"));
        SWD_EXPECT_ERROR(resolveModelSet(preset("sd35-large-full"), nothing, demo), "--model",
                         "is SD3.5 Medium, but preset 'sd35-large-full' is for SD3.5 Large");

        ModelSetOverrides withAdapter = demo;
        withAdapter.adapter = swd::test::goldenDir("lora_sd35_medium_like") / "adapter";
        const ModelSet lora = resolveModelSet(preset("swd-2b-6step"), nothing, withAdapter);
        QCOMPARE(lora.adapterInfo->rank, 4);
        withAdapter.adapter = swd::test::goldenDir("transformer_sd3_like") / "transformer";
        SWD_EXPECT_ERROR(resolveModelSet(preset("swd-2b-6step"), nothing, withAdapter), "--adapter",
                         "holds no LoRA adapter");

        // Everything missing: every part, every place looked.
        const ModelSetPlan plan = planModelSet(preset("swd-8b-6step"), nothing, {});
        QCOMPARE(plan.missingParts.size(), std::size_t(5));  // transformer, VAE, CLIP-L, CLIP-G, adapter
        QVERIFY2(
            contains(plan.message, "/nonexistent/hub (Hugging Face cache, HF_HUB_CACHE): does not exist"),
            plan.message.c_str());
    }

    // ---- the command line ----

    void inspectGoldenFolders() {
        const CliResult t =
            runSwd({"inspect", q(swd::test::goldenDir("transformer_sd35_medium_like") / "transformer")});
        QCOMPARE(t.code, 0);
        QVERIFY2(
            t.out.contains("transformer: SD3.5 Medium transformer (MMDiT-X) architecture at another size, "
                           "diffusers layout"),
            qPrintable(t.out));
        QVERIFY(
            t.out.contains("hidden 32, 3 blocks, dual attention in blocks 0-1 (real model: hidden 1536, 24 "
                           "blocks, dual attention in blocks 0-12)"));
        QVERIFY(t.out.contains(QRegularExpression("transformer_blocks\\.\\{0-2\\}\\.\\* +110 ")));
        QVERIFY(t.out.contains(QRegularExpression("total +127 +167,296 ")));
        QVERIFY(!t.out.contains("transformer_blocks.1.attn.to_q.weight"));

        const CliResult all = runSwd(
            {"inspect", "--all", q(swd::test::goldenDir("transformer_sd35_medium_like") / "transformer")});
        QCOMPARE(all.code, 0);
        QVERIFY(all.out.contains(
            QRegularExpression("transformer_blocks\\.1\\.attn\\.to_q\\.weight +F32 +\\[32, 32\\] +4,096")));

        const CliResult lora =
            runSwd({"inspect", q(swd::test::goldenDir("lora_sd35_medium_like") / "adapter")});
        QCOMPARE(lora.code, 0);
        QVERIFY2(lora.out.contains("LoRA: PEFT LoRA, rank 4, alpha 8 (scale 2), 30 modules, F32"),
                 qPrintable(lora.out));

        const CliResult pipe = runSwd({"inspect", q(swd::test::goldenDir("components"))});
        QCOMPARE(pipe.code, 0);
        QVERIFY(pipe.out.contains("SD3.5 Medium (other size): transformer, VAE, CLIP-L, CLIP-G, T5-XXL"));
        QVERIFY(pipe.out.contains("T5-XXL: T5-XXL text encoder architecture at another size"));
    }

    void inspectRealSizeAndBrokenFiles() {
        ScratchDir dir;
        writeHeaderOnly(dir.file("sd3.5_large.safetensors"), [] {
            auto t = manifestTensors("sd35_large.single_file", "model.diffusion_model.");
            for (auto& v : manifestTensors("sd3_vae.single_file", "first_stage_model.")) t.push_back(v);
            return t;
        }());
        const CliResult r = runSwd({"inspect", q(dir.file("sd3.5_large.safetensors"))});
        QCOMPARE(r.code, 0);
        QVERIFY2(
            r.out.contains("transformer: [model.diffusion_model.*] SD3.5 Large transformer (MMDiT), original "
                           "single-file layout: exact match (923 tensors)"),
            qPrintable(r.out));
        QVERIFY(r.out.contains(
            "VAE: [first_stage_model.*] SD3 VAE (16-channel AutoencoderKL), original single-file "
            "layout: exact match (244 tensors)"));
        QVERIFY(
            r.out.contains(QRegularExpression("model\\.diffusion_model\\.joint_blocks\\.\\{0-37\\}\\.\\*")));
        QVERIFY(r.out.contains("16.46 GB"));

        auto near = manifestTensors("sd3_vae.diffusers");
        near.pop_back();
        writeHeaderOnly(dir.file("vae.safetensors"), near);
        const CliResult n = runSwd({"inspect", q(dir.file("vae.safetensors"))});
        QCOMPARE(n.code, 0);
        QVERIFY2(
            n.out.contains("near match to SD3 VAE (16-channel AutoencoderKL), diffusers layout: 243 of 244 "
                           "tensors match"),
            qPrintable(n.out));
        QVERIFY(n.out.contains("missing (1): " +
                               QString::fromStdString(manifestTensors("sd3_vae.diffusers").back().name)));

        swd::test::writeBytes(dir.file("broken.safetensors"), std::string("\x10\x00\x00", 3));
        const CliResult b = runSwd({"inspect", q(dir.file("broken.safetensors"))});
        QCOMPARE(b.code, 2);
        QVERIFY2(b.err.contains("broken.safetensors: truncated file"), qPrintable(b.err));
        const CliResult missing = runSwd({"inspect", q(dir.file("nope"))});
        QCOMPARE(missing.code, 2);
        QVERIFY(missing.err.contains("no such file or folder"));
        swd::test::writeBytes(dir.file("image.png"), std::string("\x89PNG\r\n\x1a\n", 8));
        const CliResult png = runSwd({"inspect", q(dir.file("image.png"))});
        QCOMPARE(png.code, 2);  // an image, but not a readable one
        // Only the signature: the chunk walk says the file ends before its IEND chunk.
        QVERIFY2(png.err.contains("image.png") && png.err.contains("PNG file is truncated"),
                 qPrintable(png.err));
    }

    void modelsListsTheCacheAndThePresets() {
        ScratchDir dir;
        const fs::path cache = makeFakeCache(dir.path());
        const CliResult r = runSwd({"models"}, cache);
        QCOMPARE(r.code, 0);
        const QString out = r.out;
        QVERIFY2(out.contains(q(cache) +
                              " (Hugging Face cache, HF_HUB_CACHE): 4 items, 3 usable (4 repositories)"),
                 qPrintable(out));
        QVERIFY(out.contains(
            QRegularExpression("diffusers +SD3\\.5 Medium: transformer, VAE, CLIP-L, CLIP-G, T5-XXL +"
                               "diffusers +\\S+ GB +BF16\\+F16 +stabilityai/stable-diffusion-3\\.5-medium@"
                               "a1b2c3d4e5f6 \\(HF cache\\)")));
        QVERIFY(out.contains(
            QRegularExpression("adapter +LoRA rank 64 for SD3\\.5 Medium +PEFT folder +301 MB +F32 +"
                               "yresearch/swd-medium-6-steps@")));
        QVERIFY(out.contains("Not usable (1):"));
        QVERIFY(out.contains("adapter_model.safetensors is a link to ../../blobs/deadbeef"));
        QVERIFY(out.contains(
            QRegularExpression("swd-2b-6step +SD3\\.5 Medium \\+ yresearch/swd-medium-6-steps +ready")));
        QVERIFY(out.contains(QRegularExpression("sd35-medium-full +SD3\\.5 Medium +ready")));
        QVERIFY(out.contains(
            QRegularExpression("swd-2b-4step .* missing: adapter yresearch/swd-medium-4-steps")));
        QVERIFY(out.contains(QRegularExpression(
                    "sd35-large-full +SD3\\.5 Large +missing: SD3\\.5 Large transformer, VAE")) ==
                false);  // the VAE and encoders of the Medium folder serve every SD3 model
        QVERIFY(out.contains(
            QRegularExpression("sd35-large-full +SD3\\.5 Large +missing: SD3\\.5 Large transformer$",
                               QRegularExpression::MultilineOption)));

        const CliResult bad = runSwd({"models", "--folder", q(dir.file("nope"))}, cache);
        QCOMPARE(bad.code, 2);
        QVERIFY(bad.err.contains("--folder " + q(dir.file("nope")) + ": no such folder"));
    }
    // The SD 1.5 / SDXL manifests hold the golden JSON manifests' names and shapes; the SDXL VAE, CLIP-L
    // and OpenCLIP bigG are the same tensors as manifests that exist already.
    void sdManifestsMatchGoldenJson() {
        auto golden = [](const std::string& dir, const std::string& file) {
            std::ifstream in(swd::test::goldenDir(dir) / file);
            return nlohmann::json::parse(in);
        };
        auto sameTensors = [](const Manifest& m, const nlohmann::json& list, const std::string& prefix) {
            QCOMPARE(m.tensors.size(), list.size());
            for (const auto& t : list) {
                const std::string name =
                    t.contains("original") ? t["original"].get<std::string>() : t["name"].get<std::string>();
                const ManifestTensor* mt = m.find(name.substr(prefix.size()));
                QVERIFY2(mt, name.c_str());
                QCOMPARE(mt->shape, t["shape"].get<std::vector<std::int64_t>>());
            }
        };
        for (const auto& [file, id] :
             std::vector<std::pair<std::string, std::string>>{{"unet_sd15.json", "sd15_unet.diffusers"},
                                                              {"unet_sdxl_base.json", "sdxl_unet.diffusers"},
                                                              {"vae_sd15.json", "sd_vae.diffusers"},
                                                              {"vae_sdxl.json", "sd_vae.diffusers"}}) {
            const Manifest* m = findManifest(id);
            QVERIFY2(m, id.c_str());
            const auto j = golden("manifests_sd", file);
            sameTensors(*m, j["diffusers"], "");
            if (QTest::currentTestFailed()) return;
            QCOMPARE(m->params, j["total_params"].get<std::uint64_t>());
        }
        sameTensors(*findManifest("sd_vae.single_file"),
                    golden("manifests_sd", "vae_sdxl.json")["single_file"]["entries"], "first_stage_model.");
        sameTensors(*findManifest("clip_g.transformers"),
                    golden("manifests_sd", "clip_bigg.json")["transformers"], "");
        QCOMPARE(findManifest("sd15_unet.diffusers")->kind, ComponentKind::Unet);
        for (ModelFamily f : {ModelFamily::SD15, ModelFamily::SDXL}) {
            const ModelVariant* v = findVariant(f);
            QVERIFY(v && findManifest(v->sizeManifest));
            QCOMPARE(familyOfModel(v->manifestModel), std::optional<ModelFamily>(f));
        }
        QCOMPARE(
            modelSetParts(ModelFamily::SDXL).required,
            (std::vector<ComponentKind>{ComponentKind::Vae, ComponentKind::ClipL, ComponentKind::ClipG}));
        QCOMPARE(modelSetParts(ModelFamily::SD15).required,
                 (std::vector<ComponentKind>{ComponentKind::Vae, ComponentKind::ClipL}));
        QVERIFY(!modelSetParts(ModelFamily::SD15).t5 && modelSetParts(ModelFamily::SD35Medium).t5);
    }

    // Tiny SD 1.5 / SDXL pipelines in the cache and SiD generator pickles in a folder: found, identified
    // as the same architectures at another size, and paired for the SD presets with --model.
    void tinySdPipelinesAndGenerators() {
        ScratchDir dir;
        const fs::path cache = dir.file("hub");
        FakeHfRepo xl(cache, "stabilityai/stable-diffusion-xl-base-1.0", kRevSdxl);
        fillTinySdPipeline(xl.writer(), true);
        FakeHfRepo sd15(cache, "runwayml/stable-diffusion-v1-5", kRevSd15);
        fillTinySdPipeline(sd15.writer(), false);
        const fs::path gens = dir.file("generators");
        for (const char* f : {"generator_sd15.pkl", "generator_sdxl.pkl"})
            copyInto(swd::test::goldenDir("sid_pickle") / f, gens / f);
        const DiscoveryResult found = discoverIn({gens}, cache);

        const FoundModel* x =
            findModel(found, [](const FoundModel& m) { return m.path.filename() == kRevSdxl; });
        QVERIFY(x);
        QVERIFY2(x->usable(), joined(x->problems).c_str());
        QCOMPARE(x->kind, FoundKind::Pipeline);
        QCOMPARE(x->family(), std::optional<ModelFamily>(ModelFamily::SDXL));
        QVERIFY(!x->realSize());
        QCOMPARE(kindsOf(*x), (std::vector<ComponentKind>{ComponentKind::Unet, ComponentKind::Vae,
                                                          ComponentKind::ClipL, ComponentKind::ClipG}));
        QCOMPARE(x->denoiser()->match.quality, MatchQuality::OtherSize);
        QCOMPARE(x->component(ComponentKind::Vae)->match.manifest->id, std::string("sd_vae.diffusers"));
        QCOMPARE(x->component(ComponentKind::ClipG)->match.manifest->id, std::string("clip_g.transformers"));
        QCOMPARE(x->summary(), std::string("SDXL (other size): UNet, VAE, CLIP-L, CLIP-G"));
        const FoundModel* s =
            findModel(found, [](const FoundModel& m) { return m.path.filename() == kRevSd15; });
        QVERIFY(s && s->usable());
        QCOMPARE(s->family(), std::optional<ModelFamily>(ModelFamily::SD15));
        QCOMPARE(kindsOf(*s),
                 (std::vector<ComponentKind>{ComponentKind::Unet, ComponentKind::Vae, ComponentKind::ClipL}));
        QVERIFY(s->tokenizers.complete(false) && !s->tokenizers.complete(true));
        for (const auto& [file, family] : std::vector<std::pair<std::string, ModelFamily>>{
                 {"generator_sd15.pkl", ModelFamily::SD15}, {"generator_sdxl.pkl", ModelFamily::SDXL}}) {
            const FoundModel* g =
                findModel(found, [&](const FoundModel& m) { return m.path.filename() == file; });
            QVERIFY2(g, file.c_str());
            QVERIFY2(g->usable() && g->generator, joined(g->problems).c_str());
            QCOMPARE(g->family(), std::optional<ModelFamily>(family));
            QCOMPARE(g->layout, std::string("SiD generator (pickle)"));
            QVERIFY(contains(g->summary(), "SiD generator for "));
        }

        // Tiny models are never picked on their own (they are not the real model)...
        QVERIFY(!planModelSet(preset("sdxl-full"), found, {}).set);
        // ... but --model takes them, and the generator of the same dimensions replaces the UNet.
        ModelSetOverrides overXl;
        overXl.model = xl.snapshot();
        const ModelSet sid = resolveModelSet(preset("sid-sdxl-4step"), found, overXl);
        QCOMPARE(sid.family, ModelFamily::SDXL);
        QCOMPARE(sid.transformer, gens / "generator_sdxl.pkl");
        // The pickle carries no config: the base's unet/config.json is its architecture.
        QCOMPARE(sid.denoiserConfig, xl.snapshot() / "unet" / "config.json");
        QCOMPARE(sid.vae, xl.snapshot() / "vae");
        QCOMPARE(sid.clipL, xl.snapshot() / "text_encoder");
        QCOMPARE(sid.clipG, xl.snapshot() / "text_encoder_2");
        QVERIFY(sid.t5.empty() && sid.t5Spiece.empty());
        QCOMPARE(sid.clipVocab, xl.snapshot() / "tokenizer" / "vocab.json");
        QCOMPARE(sid.parts.front().role, std::string("unet"));
        QVERIFY2(contains(sid.displayName, "SDXL + SiD generator generator_sdxl.pkl"),
                 sid.displayName.c_str());
        const ModelSet full = resolveModelSet(preset("sdxl-full"), found, overXl);
        QCOMPARE(full.transformer, xl.snapshot() / "unet");
        QVERIFY(full.denoiserConfig.empty());

        ModelSetOverrides over15;
        over15.model = sd15.snapshot();
        const ModelSet one = resolveModelSet(preset("sid-sd15-1step"), found, over15);
        QCOMPARE(one.transformer, gens / "generator_sd15.pkl");
        QCOMPARE(one.vae, sd15.snapshot() / "vae");
        QCOMPARE(one.clipL, sd15.snapshot() / "text_encoder");
        QVERIFY(one.clipG.empty());
        // The generator named with --model: the base comes from the cache (only real-size bases are).
        SWD_EXPECT_ERROR(resolveModelSet(preset("sdxl-full"), found, over15), "is SD 1.5",
                         "preset 'sdxl-full' is for SDXL");
    }

    // Real-size SDXL (fp16 variant UNet) in the cache: paired for sdxl-full; sid presets need a SiD
    // generator and say where to get one; a missing text_encoder_2 and an original single file are named.
    void realSizeSdPairing() {
        ScratchDir dir;
        const fs::path cache = dir.file("hub");
        FakeHfRepo xl(cache, "stabilityai/stable-diffusion-xl-base-1.0", kRevSdxl);
        fillSdPipeline(xl.writer(), true);
        FakeHfRepo medium(cache, "stabilityai/stable-diffusion-3.5-medium", kRevMedium);
        fillPipeline(medium.writer());
        const fs::path models = dir.file("models");
        fs::create_directories(models);
        DiscoveryResult found = discoverIn({models}, cache);
        const ModelSet full = resolveModelSet(preset("sdxl-full"), found, {});
        QCOMPARE(full.transformer, xl.snapshot() / "unet");
        QVERIFY(full.realSize);
        QCOMPARE(full.vae, xl.snapshot() / "vae");
        QCOMPARE(full.clipG, xl.snapshot() / "text_encoder_2");
        QVERIFY(full.t5.empty());
        QVERIFY2(contains(full.identity(),
                          "unet=stabilityai/stable-diffusion-xl-base-1.0@" + kRevSdxl + ":unet ("),
                 full.identity().c_str());
        // SD3 pairing is untouched by the SD models beside it (its own VAE, not the 4-channel one).
        const ModelSet sd3 = resolveModelSet(preset("sd35-medium-full"), found, {});
        QCOMPARE(sd3.vae.parent_path(), medium.snapshot());

        const ModelSetPlan noGen = planModelSet(preset("sid-sdxl-4step"), found, {});
        QVERIFY(!noGen.set);
        QCOMPARE(noGen.missingParts, std::vector<std::string>{"SiD generator for SDXL"});
        QVERIFY2(contains(noGen.message, "UT-Austin-PML/SiDA-StableDiffusion"), noGen.message.c_str());
        QVERIFY(contains(noGen.message, "To fix: add the folder"));
        const ModelSetPlan sd15 = planModelSet(preset("sid-sd15-1step"), found, {});
        // CLIP-L comes from another model (the same encoder everywhere), the VAE may not (SDXL's and SD3's
        // are other VAEs).
        QCOMPARE(sd15.missingParts,
                 (std::vector<std::string>{"SiD generator for SD 1.5", "SD 1.5 UNet", "VAE"}));
        QVERIFY2(contains(sd15.message,
                          "the SD 1.5 UNet: unet/ of a diffusers folder of "
                          "stable-diffusion-v1-5/stable-diffusion-v1-5"),
                 sd15.message.c_str());
        QVERIFY(!contains(sd15.message, "CLIP-G"));

        // A converted generator (a UNet file named *sid*) and an original SDXL single file in the folder.
        writeHeaderOnly(models / "SiD_SDXL_4step.safetensors", manifestTensors("sdxl_unet.diffusers"), "F16");
        writeHeaderOnly(models / "sd_xl_base_1.0.safetensors", [] {
            std::vector<FakeTensor> t = {{"model.diffusion_model.input_blocks.0.0.weight", {320, 4, 3, 3}},
                                         {"model.diffusion_model.label_emb.0.0.weight", {1280, 2816}},
                                         {"conditioner.embedders.1.model.ln_final.weight", {1280}}};
            for (auto& v : manifestTensors("sd_vae.single_file", "first_stage_model.")) t.push_back(v);
            return t;
        }());
        found = discoverIn({models}, cache);
        const ModelSet sid = resolveModelSet(preset("sid-sdxl-4step"), found, {});
        QCOMPARE(sid.transformer, models / "SiD_SDXL_4step.safetensors");
        QCOMPARE(sid.vae, xl.snapshot() / "vae");
        const FoundModel* ldm = findModel(found, [](const FoundModel& m) { return m.ldmFamily.has_value(); });
        QVERIFY(ldm && !ldm->usable());
        QCOMPARE(ldm->family(), std::optional<ModelFamily>(ModelFamily::SDXL));
        QVERIFY2(contains(joined(ldm->problems),
                          "single-file SD checkpoints are not loadable yet: use the diffusers folder "
                          "(`huggingface-cli download stabilityai/stable-diffusion-xl-base-1.0`)"),
                 joined(ldm->problems).c_str());

        // An SDXL download without text_encoder_2/: the pipeline says so, the plan lists it.
        ScratchDir dir2;
        FakeHfRepo broken(dir2.file("hub"), "stabilityai/stable-diffusion-xl-base-1.0", kRevSdxl);
        fillSdPipeline(broken.writer(), true, false);
        const DiscoveryResult found2 = discoverIn({}, dir2.file("hub"));
        const ModelSetPlan plan = planModelSet(preset("sdxl-full"), found2, {});
        QVERIFY(!plan.set);
        QCOMPARE(plan.missingParts, (std::vector<std::string>{"SDXL UNet", "VAE", "CLIP-L", "CLIP-G"}));
        QVERIFY2(contains(plan.message,
                          "the CLIP-G folder text_encoder_2/ is missing (model_index.json lists it); "
                          "run `huggingface-cli download stabilityai/stable-diffusion-xl-base-1.0` "
                          "to finish the download"),
                 plan.message.c_str());
        QVERIFY(contains(plan.message,
                         "the OpenCLIP bigG text encoder (CLIP-G): text_encoder_2/ of a diffusers "
                         "folder of stabilityai/stable-diffusion-xl-base-1.0"));
        QVERIFY(contains(plan.message,
                         "To fix: download `huggingface-cli download "
                         "stabilityai/stable-diffusion-xl-base-1.0`"));
        // --model of one family with a preset of the other.
        ModelSetOverrides over;
        over.model = xl.snapshot();
        SWD_EXPECT_ERROR(planModelSet(preset("sid-sd15-1step"), found, over), "is SDXL",
                         "preset 'sid-sd15-1step' is for SD 1.5");
    }

    void modelsListsSdModels() {
        ScratchDir dir;
        const fs::path cache = dir.file("hub");
        FakeHfRepo xl(cache, "stabilityai/stable-diffusion-xl-base-1.0", kRevSdxl);
        fillSdPipeline(xl.writer(), true);
        const CliResult r = runSwd({"models"}, cache);
        QCOMPARE(r.code, 0);
        const QString out = r.out;
        QVERIFY2(out.contains(QRegularExpression(
                     "diffusers +SDXL: UNet, VAE, CLIP-L, CLIP-G +diffusers +\\S+ GB +\\S+ +"
                     "stabilityai/stable-diffusion-xl-base-1\\.0@5d2e3c4b5a69 \\(HF cache\\)")),
                 qPrintable(out));
        QVERIFY(out.contains(QRegularExpression("sdxl-full +SDXL +ready")));
        QVERIFY(out.contains(QRegularExpression("sid-sdxl-4step +SDXL +missing: SiD generator for SDXL")));
        // CLIP-L comes from the SDXL folder for every family; its VAE serves no other family.
        QVERIFY(out.contains(QRegularExpression("sd15-full +SD 1\\.5 +missing: SD 1\\.5 UNet, VAE$",
                                                QRegularExpression::MultilineOption)));
        QVERIFY(
            out.contains(QRegularExpression("sd35-medium-full +SD3\\.5 Medium +missing: SD3\\.5 Medium "
                                            "transformer, VAE$",
                                            QRegularExpression::MultilineOption)));
    }
};

QTEST_GUILESS_MAIN(TestDiscovery)
#include "tst_discovery.moc"
