#include "pipeline/demo_model.h"

#include "io/safetensors.h"
#include "models/mmdit_config.h"
#include "pipeline/random_model.h"
#include "text/sd3_conditioner.h"
#include "util/error.h"
#include "util/json_reader.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

namespace swd {

namespace fs = std::filesystem;

namespace {

// Version of the demo's layout: a folder written by another version is rewritten.
constexpr int kDemoVersion = 1;
constexpr const char* kMarkerFile = "swd_demo_model.json";

// The demo's sizes: the real families' structure at a size that runs in well under a second per step.
struct DemoSizes {
    int clipLHidden = 32, clipLLayers = 2, clipLHeads = 2, clipLProjection = 32;
    int clipGHidden = 32, clipGLayers = 2, clipGHeads = 2, clipGProjection = 32;
    int t5Model = 64, t5Layers = 2, t5Heads = 2, t5Kv = 32, t5Ff = 128;
    int vocabClip = 49408, vocabT5 = 32128;
    std::vector<int> vaeChannels = {16, 32, 32, 32};
    int vaeGroups = 4;
    int adapterRank = 4;
};

MMDiTConfig demoTransformerConfig(const DemoSizes& s) {
    MMDiTConfig c;
    c.sampleSize = 64;
    c.numLayers = 4;
    c.numHeads = 2;
    c.headDim = 32;
    c.jointAttentionDim = s.t5Model;
    c.captionProjectionDim = c.hidden();
    c.pooledProjectionDim = s.clipLProjection + s.clipGProjection;
    c.posEmbedMaxSize = 64;  // latent side up to 128: every preset's 1024 px
    c.qkNorm = true;
    c.dualAttentionLayers = {0, 1};
    return c;
}

// Draws every tensor from one generator, in the order they are listed: the same seed, the same bytes.
class WeightMaker {
public:
    explicit WeightMaker(std::uint64_t seed) : m_gen(at::detail::createCPUGenerator(seed)) {}

    // Weights scaled by 1/sqrt(fan_in) keep activations at unit scale through the random network;
    // norm weights start near 1 and biases near 0, as trained networks have them.
    at::Tensor make(const std::string& name, const std::vector<int64_t>& shape) {
        at::Tensor t = at::randn(shape, m_gen, at::TensorOptions().dtype(at::kFloat));
        const bool isBias = name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
        const bool isNorm =
            name.find("norm") != std::string::npos || name.find("layer_norm") != std::string::npos;
        if (shape.size() == 1) return isNorm && !isBias ? 1.0 + 0.05 * t : 0.02 * t;
        int64_t fanIn = 1;
        for (std::size_t i = 1; i < shape.size(); ++i) fanIn *= shape[i];
        if (name.find("embedding") != std::string::npos || name.find("shared") != std::string::npos ||
            name.find("relative_attention_bias") != std::string::npos)
            return 0.5 * t;
        return t / std::sqrt(static_cast<double>(fanIn));
    }

private:
    at::Generator m_gen;
};

void writeJson(const fs::path& path, const nlohmann::ordered_json& json) {
    std::ofstream out(path, std::ios::trunc);
    if (!out) throwBadInput("{}: cannot write", path.string());
    out << json.dump(2) << "\n";
}

using Params = std::vector<std::pair<std::string, std::vector<int64_t>>>;

void saveParams(const fs::path& file, const Params& params, WeightMaker& maker,
                std::map<std::string, at::Tensor> overrides = {}) {
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (const auto& [name, shape] : params) {
        at::Tensor t = maker.make(name, shape);
        if (auto it = overrides.find(name); it != overrides.end()) t = it->second;
        tensors.emplace_back(name, t);
    }
    saveSafetensors(file, tensors, {{"format", "pt"}, {"swd_demo", "random weights"}});
}

// diffusers' 2-D sin-cos positional table (what SD3 checkpoints store): [1, P², hidden], first half of the
// channels for the column, second half for the row.
at::Tensor sincosPosEmbed(int gridSize, int hidden, int baseSize) {
    const int quarter = hidden / 4;
    auto omega = at::arange(quarter, at::kDouble) / static_cast<double>(quarter);
    omega = 1.0 / at::pow(10000.0, omega);
    const auto pos = at::arange(gridSize, at::kDouble) / (static_cast<double>(gridSize) / baseSize);
    auto embed1d = [&](const at::Tensor& p) {
        const auto out = at::outer(p, omega);
        return at::cat({at::sin(out), at::cos(out)}, 1);  // [N, hidden/2]
    };
    const auto grid = at::meshgrid({pos, pos}, "xy");  // w first
    const auto embW = embed1d(grid[0].reshape({-1}));
    const auto embH = embed1d(grid[1].reshape({-1}));
    return at::cat({embW, embH}, 1).unsqueeze(0).to(at::kFloat);
}

Params clipParams(int vocab, int hidden, int layers, int projection) {
    const int64_t h = hidden, inter = 2 * hidden;
    Params p = {{"text_model.embeddings.token_embedding.weight", {vocab, h}},
                {"text_model.embeddings.position_embedding.weight", {77, h}}};
    for (int i = 0; i < layers; ++i) {
        const std::string b = fmt::format("text_model.encoder.layers.{}.", i);
        for (const char* proj : {"k_proj", "v_proj", "q_proj", "out_proj"}) {
            p.push_back({b + "self_attn." + proj + ".weight", {h, h}});
            p.push_back({b + "self_attn." + proj + ".bias", {h}});
        }
        p.push_back({b + "layer_norm1.weight", {h}});
        p.push_back({b + "layer_norm1.bias", {h}});
        p.push_back({b + "mlp.fc1.weight", {inter, h}});
        p.push_back({b + "mlp.fc1.bias", {inter}});
        p.push_back({b + "mlp.fc2.weight", {h, inter}});
        p.push_back({b + "mlp.fc2.bias", {h}});
        p.push_back({b + "layer_norm2.weight", {h}});
        p.push_back({b + "layer_norm2.bias", {h}});
    }
    p.push_back({"text_model.final_layer_norm.weight", {h}});
    p.push_back({"text_model.final_layer_norm.bias", {h}});
    p.push_back({"text_projection.weight", {projection, h}});
    return p;
}

nlohmann::ordered_json clipConfig(int hidden, int layers, int heads, int projection, const char* act) {
    return {{"architectures", {"CLIPTextModelWithProjection"}},
            {"model_type", "clip_text_model"},
            {"vocab_size", 49408},
            {"hidden_size", hidden},
            {"intermediate_size", 2 * hidden},
            {"num_hidden_layers", layers},
            {"num_attention_heads", heads},
            {"max_position_embeddings", 77},
            {"hidden_act", act},
            {"projection_dim", projection},
            {"layer_norm_eps", 1e-5},
            {"bos_token_id", 0},
            {"eos_token_id", 2},
            {"pad_token_id", 1},
            {"torch_dtype", "float32"}};
}

Params t5Params(const DemoSizes& s) {
    const int64_t d = s.t5Model, inner = s.t5Heads * s.t5Kv, ff = s.t5Ff;
    Params p = {{"shared.weight", {s.vocabT5, d}}};
    for (int i = 0; i < s.t5Layers; ++i) {
        const std::string b = fmt::format("encoder.block.{}.layer.", i);
        p.push_back({b + "0.SelfAttention.q.weight", {inner, d}});
        p.push_back({b + "0.SelfAttention.k.weight", {inner, d}});
        p.push_back({b + "0.SelfAttention.v.weight", {inner, d}});
        p.push_back({b + "0.SelfAttention.o.weight", {d, inner}});
        if (i == 0) p.push_back({b + "0.SelfAttention.relative_attention_bias.weight", {32, s.t5Heads}});
        p.push_back({b + "0.layer_norm.weight", {d}});
        p.push_back({b + "1.DenseReluDense.wi_0.weight", {ff, d}});
        p.push_back({b + "1.DenseReluDense.wi_1.weight", {ff, d}});
        p.push_back({b + "1.DenseReluDense.wo.weight", {d, ff}});
        p.push_back({b + "1.layer_norm.weight", {d}});
    }
    p.push_back({"encoder.final_layer_norm.weight", {d}});
    return p;
}

nlohmann::ordered_json t5Config(const DemoSizes& s) {
    return {{"architectures", {"T5EncoderModel"}},
            {"model_type", "t5"},
            {"vocab_size", s.vocabT5},
            {"d_model", s.t5Model},
            {"d_kv", s.t5Kv},
            {"d_ff", s.t5Ff},
            {"num_layers", s.t5Layers},
            {"num_heads", s.t5Heads},
            {"relative_attention_num_buckets", 32},
            {"relative_attention_max_distance", 128},
            {"feed_forward_proj", "gated-gelu"},
            {"dense_act_fn", "gelu_new"},
            {"is_gated_act", true},
            {"layer_norm_epsilon", 1e-6},
            {"pad_token_id", 0},
            {"eos_token_id", 1},
            {"torch_dtype", "float32"}};
}

void addResnet(Params& p, const std::string& b, int64_t cin, int64_t cout) {
    p.push_back({b + "norm1.weight", {cin}});
    p.push_back({b + "norm1.bias", {cin}});
    p.push_back({b + "conv1.weight", {cout, cin, 3, 3}});
    p.push_back({b + "conv1.bias", {cout}});
    p.push_back({b + "norm2.weight", {cout}});
    p.push_back({b + "norm2.bias", {cout}});
    p.push_back({b + "conv2.weight", {cout, cout, 3, 3}});
    p.push_back({b + "conv2.bias", {cout}});
    if (cin != cout) {
        p.push_back({b + "conv_shortcut.weight", {cout, cin, 1, 1}});
        p.push_back({b + "conv_shortcut.bias", {cout}});
    }
}

void addMid(Params& p, const std::string& b, int64_t c) {
    addResnet(p, b + "resnets.0.", c, c);
    const std::string a = b + "attentions.0.";
    p.push_back({a + "group_norm.weight", {c}});
    p.push_back({a + "group_norm.bias", {c}});
    for (const char* proj : {"to_q", "to_k", "to_v", "to_out.0"}) {
        p.push_back({a + proj + ".weight", {c, c}});
        p.push_back({a + proj + ".bias", {c}});
    }
    addResnet(p, b + "resnets.1.", c, c);
}

// AutoencoderKL names (diffusers), layers_per_block 1.
Params vaeParams(const DemoSizes& s) {
    const auto& ch = s.vaeChannels;
    const int levels = static_cast<int>(ch.size());
    Params p;
    p.push_back({"encoder.conv_in.weight", {ch[0], 3, 3, 3}});
    p.push_back({"encoder.conv_in.bias", {ch[0]}});
    int64_t cin = ch[0];
    for (int i = 0; i < levels; ++i) {
        const std::string b = fmt::format("encoder.down_blocks.{}.", i);
        addResnet(p, b + "resnets.0.", cin, ch[static_cast<std::size_t>(i)]);
        cin = ch[static_cast<std::size_t>(i)];
        if (i + 1 < levels) {
            p.push_back({b + "downsamplers.0.conv.weight", {cin, cin, 3, 3}});
            p.push_back({b + "downsamplers.0.conv.bias", {cin}});
        }
    }
    addMid(p, "encoder.mid_block.", cin);
    p.push_back({"encoder.conv_norm_out.weight", {cin}});
    p.push_back({"encoder.conv_norm_out.bias", {cin}});
    p.push_back({"encoder.conv_out.weight", {32, cin, 3, 3}});
    p.push_back({"encoder.conv_out.bias", {32}});

    const int64_t top = ch.back();
    p.push_back({"decoder.conv_in.weight", {top, 16, 3, 3}});
    p.push_back({"decoder.conv_in.bias", {top}});
    addMid(p, "decoder.mid_block.", top);
    cin = top;
    for (int i = 0; i < levels; ++i) {
        const int64_t cout = ch[static_cast<std::size_t>(levels - 1 - i)];
        const std::string b = fmt::format("decoder.up_blocks.{}.", i);
        for (int j = 0; j < 2; ++j) {  // layers_per_block + 1
            addResnet(p, b + fmt::format("resnets.{}.", j), j == 0 ? cin : cout, cout);
        }
        cin = cout;
        if (i + 1 < levels) {
            p.push_back({b + "upsamplers.0.conv.weight", {cout, cout, 3, 3}});
            p.push_back({b + "upsamplers.0.conv.bias", {cout}});
        }
    }
    p.push_back({"decoder.conv_norm_out.weight", {ch[0]}});
    p.push_back({"decoder.conv_norm_out.bias", {ch[0]}});
    p.push_back({"decoder.conv_out.weight", {3, ch[0], 3, 3}});
    p.push_back({"decoder.conv_out.bias", {3}});
    return p;
}

nlohmann::ordered_json vaeConfig(const DemoSizes& s) {
    const std::vector<std::string> down(s.vaeChannels.size(), "DownEncoderBlock2D");
    const std::vector<std::string> up(s.vaeChannels.size(), "UpDecoderBlock2D");
    return {{"_class_name", "AutoencoderKL"},
            {"act_fn", "silu"},
            {"block_out_channels", s.vaeChannels},
            {"down_block_types", down},
            {"up_block_types", up},
            {"in_channels", 3},
            {"out_channels", 3},
            {"latent_channels", 16},
            {"layers_per_block", 1},
            {"mid_block_add_attention", true},
            {"norm_num_groups", s.vaeGroups},
            {"sample_size", 1024},
            {"scaling_factor", 1.5305},
            {"shift_factor", 0.0609},
            {"force_upcast", true},
            {"use_quant_conv", false},
            {"use_post_quant_conv", false}};
}

nlohmann::ordered_json transformerConfigJson(const MMDiTConfig& c) {
    return {{"_class_name", "SD3Transformer2DModel"},
            {"sample_size", c.sampleSize},
            {"patch_size", c.patchSize},
            {"in_channels", c.inChannels},
            {"out_channels", c.outChannels},
            {"num_layers", c.numLayers},
            {"attention_head_dim", c.headDim},
            {"num_attention_heads", c.numHeads},
            {"joint_attention_dim", c.jointAttentionDim},
            {"caption_projection_dim", c.captionProjectionDim},
            {"pooled_projection_dim", c.pooledProjectionDim},
            {"pos_embed_max_size", c.posEmbedMaxSize},
            {"qk_norm", "rms_norm"},
            {"dual_attention_layers", c.dualAttentionLayers}};
}

// The marker says the folder is a demo model this program wrote (any version).
bool hasOwnMarker(const fs::path& dir) {
    std::error_code ec;
    if (!fs::exists(dir / kMarkerFile, ec)) return false;
    try {
        JsonLimits limits;
        limits.maxBytes = 64 * 1024;
        const auto j = readJsonFile(dir / kMarkerFile, "demo model marker", limits);
        return j.is_object() && j.contains("name") && j["name"].is_string() &&
               j["name"].get<std::string>() == kDemoModelName;
    } catch (const Error&) {
        return false;
    }
}

// `dir` without a trailing "/" or "/.", so that its parent and name are the real ones.
fs::path normalFolder(const fs::path& dir) {
    fs::path p = fs::absolute(dir).lexically_normal();
    if (p.filename().empty() && p.has_parent_path() && p != p.root_path()) p = p.parent_path();
    return p;
}

// Refuses a target that is not a new folder, an empty folder or a demo model written before: what the
// user keeps there is theirs and must never be replaced or removed.
void checkDemoTarget(const fs::path& dir) {
    std::error_code ec;
    const auto status = fs::status(dir, ec);
    if (!fs::exists(status)) return;
    if (!fs::is_directory(status))
        throwBadInput("{}: exists and is not a folder; give a new or empty folder for the demo model",
                      dir.string());
    if (fs::directory_iterator(dir, ec) == fs::directory_iterator() && !ec) return;  // empty
    if (ec) throwBadInput("{}: cannot list the folder ({})", dir.string(), ec.message());
    if (!hasOwnMarker(dir))
        throwBadInput(
            "{}: the folder holds files and is not a demo model written by SwD Studio (it has no {}); "
            "nothing was changed. Give a new or empty folder",
            dir.string(), kMarkerFile);
}

// Moves every file of the freshly written `tmp` into `dir`, replacing only files of the same names
// (the marker last, so that an interrupted replacement never looks complete).
void installDemoFiles(const fs::path& tmp, const fs::path& dir) {
    std::error_code ec;
    fs::remove(dir / kMarkerFile, ec);  // ours (checked by checkDemoTarget)
    std::vector<fs::path> files;
    for (auto it = fs::recursive_directory_iterator(tmp, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec))
        if (it->is_regular_file()) files.push_back(fs::relative(it->path(), tmp));
    if (ec) throwBadInput("{}: cannot list the written demo model ({})", tmp.string(), ec.message());
    std::stable_partition(files.begin(), files.end(), [](const fs::path& f) { return f != kMarkerFile; });
    for (const auto& rel : files) {
        const fs::path target = dir / rel;
        const fs::path parent = target.parent_path();
        fs::create_directories(parent, ec);
        // A folder the user replaced by a link (or a file) is not followed: files go only where they were.
        if (ec || fs::is_symlink(fs::symlink_status(parent)) || !fs::is_directory(fs::symlink_status(parent)))
            throwBadInput("{}: is not a plain folder; cannot replace the demo model's files in it",
                          parent.string());
        fs::rename(tmp / rel, target, ec);
        if (ec) throwBadInput("{}: cannot replace this demo model file ({})", target.string(), ec.message());
    }
}

void copyFile(const fs::path& from, const fs::path& to) {
    std::error_code ec;
    fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
    if (ec) throwBadInput("cannot copy {} to {}: {}", from.string(), to.string(), ec.message());
}

// Writes every file of the demo model into the (new, empty) folder `tmp`.
void writeDemoFiles(const fs::path& tmp, std::uint64_t seed, const TokenizerFiles& tok);

}  // namespace

void writeDemoModel(const fs::path& requested, std::uint64_t seed, const fs::path& tokenizers) {
    const fs::path dir = normalFolder(requested);
    checkDemoTarget(dir);
    TokenizerFiles tok;
    if (!tokenizers.empty()) {
        tok.clipVocab = tokenizers / "clip" / "vocab.json";
        tok.clipMerges = tokenizers / "clip" / "merges.txt";
        tok.t5Spiece = tokenizers / "t5" / "spiece.model";
    } else if (auto found = findBundledTokenizers()) {
        tok = *found;
    } else {
        throwBadInput(
            "the demo model needs the CLIP and T5 tokenizer files shipped with SwD Studio "
            "(share/swd-studio/tokenizers), and none were found; reinstall, or pass the folder");
    }
    for (const auto& f : {tok.clipVocab, tok.clipMerges, tok.t5Spiece})
        if (!fs::exists(f))
            throwBadInput("{}: tokenizer file missing (needed for the demo model)", f.string());

    // Written into a new folder next to the target, then moved in, so a half-written demo never looks
    // complete. The folder is created here (never an existing one reused), so removing it on failure
    // removes only what this function wrote.
    std::error_code ec;
    fs::create_directories(dir.parent_path(), ec);
    fs::path tmp;
    for (int attempt = 0;; ++attempt) {
        tmp = dir.parent_path() /
              fmt::format(".{}.tmp{}-{}", dir.filename().string(), ::getpid(), std::random_device{}());
        if (fs::create_directory(tmp, ec)) break;
        if (attempt == 100 || (ec && ec != std::errc::file_exists))
            throwBadInput("{}: cannot create a folder beside it ({})", dir.string(),
                          ec ? ec.message() : std::string("name taken"));
    }
    try {
        writeDemoFiles(tmp, seed, tok);
        if (!fs::exists(dir, ec) && (fs::rename(tmp, dir, ec), !ec)) return;  // a new folder: one rename
        installDemoFiles(tmp, dir);
    } catch (...) {
        fs::remove_all(tmp, ec);
        throw;
    }
    fs::remove_all(tmp, ec);
}

namespace {

void writeDemoFiles(const fs::path& tmp, std::uint64_t seed, const TokenizerFiles& tok) {
    for (const char* sub : {"transformer", "vae", "text_encoder", "text_encoder_2", "text_encoder_3",
                            "tokenizer", "tokenizer_2", "tokenizer_3", "swd_adapter"})
        fs::create_directories(tmp / sub);

    const DemoSizes s;
    WeightMaker maker(seed);
    const MMDiTConfig tc = demoTransformerConfig(s);
    writeJson(tmp / "transformer" / "config.json", transformerConfigJson(tc));
    saveParams(tmp / "transformer" / "diffusion_pytorch_model.safetensors",
               mmditParameters(tc, MMDiTLayout::Diffusers), maker,
               {{"pos_embed.pos_embed",
                 sincosPosEmbed(tc.posEmbedMaxSize, tc.hidden(), tc.sampleSize / tc.patchSize)}});
    writeJson(tmp / "vae" / "config.json", vaeConfig(s));
    saveParams(tmp / "vae" / "diffusion_pytorch_model.safetensors", vaeParams(s), maker);
    writeJson(tmp / "text_encoder" / "config.json",
              clipConfig(s.clipLHidden, s.clipLLayers, s.clipLHeads, s.clipLProjection, "quick_gelu"));
    saveParams(tmp / "text_encoder" / "model.safetensors",
               clipParams(s.vocabClip, s.clipLHidden, s.clipLLayers, s.clipLProjection), maker);
    writeJson(tmp / "text_encoder_2" / "config.json",
              clipConfig(s.clipGHidden, s.clipGLayers, s.clipGHeads, s.clipGProjection, "gelu"));
    saveParams(tmp / "text_encoder_2" / "model.safetensors",
               clipParams(s.vocabClip, s.clipGHidden, s.clipGLayers, s.clipGProjection), maker);
    writeJson(tmp / "text_encoder_3" / "config.json", t5Config(s));
    saveParams(tmp / "text_encoder_3" / "model.safetensors", t5Params(s), maker);

    // The SwD-style adapter: both factors random (a fresh PEFT adapter has B = 0, which would change
    // nothing).
    {
        std::vector<std::pair<std::string, at::Tensor>> tensors;
        std::vector<std::string> targets;
        for (const auto& [module, dims] : swdAdapterModules(tc)) {
            const std::string base = "base_model.model." + module;
            tensors.emplace_back(base + ".lora_A.weight",
                                 maker.make(base + ".lora_A.weight", {s.adapterRank, dims.second}));
            tensors.emplace_back(base + ".lora_B.weight",
                                 maker.make(base + ".lora_B.weight", {dims.first, s.adapterRank}));
        }
        saveSafetensors(tmp / "swd_adapter" / "adapter_model.safetensors", tensors, {{"format", "pt"}});
        writeJson(tmp / "swd_adapter" / "adapter_config.json",
                  {{"peft_type", "LORA"},
                   {"base_model_name_or_path", "swd-studio demo model"},
                   {"r", s.adapterRank},
                   {"lora_alpha", s.adapterRank},
                   {"lora_dropout", 0.0},
                   {"bias", "none"},
                   {"init_lora_weights", "gaussian"},
                   {"use_rslora", false},
                   {"use_dora", false},
                   {"target_modules", {"to_k", "to_q", "to_v", "to_out.0", "net.0.proj", "net.2"}},
                   {"inference_mode", true}});
    }

    copyFile(tok.clipVocab, tmp / "tokenizer" / "vocab.json");
    copyFile(tok.clipMerges, tmp / "tokenizer" / "merges.txt");
    copyFile(tok.clipVocab, tmp / "tokenizer_2" / "vocab.json");
    copyFile(tok.clipMerges, tmp / "tokenizer_2" / "merges.txt");
    copyFile(tok.t5Spiece, tmp / "tokenizer_3" / "spiece.model");
    writeJson(tmp / "tokenizer" / "special_tokens_map.json", {{"pad_token", "<|endoftext|>"}});
    writeJson(tmp / "tokenizer_2" / "special_tokens_map.json", {{"pad_token", "!"}});

    writeJson(tmp / "model_index.json", {{"_class_name", "StableDiffusion3Pipeline"},
                                         {"_swd_studio_demo", kDemoModelName},
                                         {"transformer", {"diffusers", "SD3Transformer2DModel"}},
                                         {"vae", {"diffusers", "AutoencoderKL"}},
                                         {"text_encoder", {"transformers", "CLIPTextModelWithProjection"}},
                                         {"text_encoder_2", {"transformers", "CLIPTextModelWithProjection"}},
                                         {"text_encoder_3", {"transformers", "T5EncoderModel"}},
                                         {"tokenizer", {"transformers", "CLIPTokenizer"}},
                                         {"tokenizer_2", {"transformers", "CLIPTokenizer"}},
                                         {"tokenizer_3", {"transformers", "T5Tokenizer"}}});
    writeJson(tmp / kMarkerFile,
              {{"name", kDemoModelName},
               {"version", kDemoVersion},
               {"seed", seed},
               {"note", "random weights generated by SwD Studio; images are not meaningful"}});
}

}  // namespace

bool isDemoModel(const fs::path& dir) {
    if (!hasOwnMarker(dir)) return false;
    try {
        JsonLimits limits;
        limits.maxBytes = 64 * 1024;
        const auto j = readJsonFile(dir / kMarkerFile, "demo model marker", limits);
        if (!j.contains("version") || !j["version"].is_number_integer() ||
            j["version"].get<std::int64_t>() != kDemoVersion)
            return false;
    } catch (const Error&) {
        return false;
    }
    for (const char* f :
         {"transformer/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.safetensors",
          "text_encoder/model.safetensors", "text_encoder_2/model.safetensors",
          "text_encoder_3/model.safetensors", "tokenizer/vocab.json", "tokenizer/merges.txt",
          "tokenizer_3/spiece.model", "swd_adapter/adapter_model.safetensors"})
        if (!fs::exists(dir / f)) return false;
    return true;
}

ModelSet demoModelSet(const fs::path& dir) {
    if (!isDemoModel(dir))
        throwBadInput("{}: not a complete demo model (run 'swd make-demo-model {}' to write it)",
                      dir.string(), dir.string());
    ModelSet m;
    m.family = ModelFamily::SD35Medium;
    m.displayName = kDemoModelName;
    m.realSize = false;
    m.transformer = dir / "transformer";
    m.vae = dir / "vae";
    const TextEncoderPaths text = TextEncoderPaths::fromDiffusersFolder(dir);  // the diffusers text layout
    m.clipL = text.clipL;
    m.clipG = text.clipG;
    m.t5 = text.t5;
    m.clipVocab = text.clipVocab;
    m.clipMerges = text.clipMerges;
    m.t5Spiece = text.t5Spiece;
    m.tokenizerOrigin = "demo model";
    m.adapter = dir / "swd_adapter";
    for (const auto& [role, path] :
         std::vector<std::pair<std::string, fs::path>>{{"transformer", m.transformer},
                                                       {"vae", m.vae},
                                                       {"clip_l", m.clipL},
                                                       {"clip_g", m.clipG},
                                                       {"t5", m.t5},
                                                       {"adapter", *m.adapter}}) {
        ModelSetPart part;
        part.role = role;
        part.path = path;
        std::error_code ec;
        for (const auto& f : fs::directory_iterator(path, ec))
            if (f.path().extension() == ".safetensors") part.bytes += fs::file_size(f.path(), ec);
        part.source = role == "adapter"
                          ? std::string(kDemoAdapterName)
                          : std::string("swd-studio demo (random weights):") + path.filename().string();
        m.parts.push_back(part);
    }
    m.notes.push_back("the demo model has random weights: its images are not meaningful");
    return m;
}

std::optional<fs::path> findShippedDemoModel() {
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (ec) return std::nullopt;
    for (const fs::path& candidate :
         {exe.parent_path() / "demo-model",
          exe.parent_path().parent_path() / "demo-model",  // build/app/swd
          exe.parent_path().parent_path() / "share" / "swd-studio" / "demo-model"})
        if (isDemoModel(candidate)) return candidate;
    return std::nullopt;
}

fs::path ensureDemoModel(const fs::path& fallbackDir) {
    if (auto shipped = findShippedDemoModel()) return *shipped;
    if (!isDemoModel(fallbackDir)) writeDemoModel(fallbackDir);
    return fallbackDir;
}

}  // namespace swd
