#include "models/vae.h"

#include "models/attention.h"
#include "models/op_profile.h"
#include "models/vae_keys.h"
#include "models/vae_ops.h"
#include "util/error.h"
#include "util/json_reader.h"

#include <c10/core/InferenceMode.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace swd {

namespace fs = std::filesystem;

namespace {

constexpr double kNormEps = 1e-6;  // every GroupNorm of diffusers' Encoder / Decoder

std::string joinLimited(const std::vector<std::string>& items, std::size_t limit = 24) {
    std::string out;
    for (std::size_t i = 0; i < items.size() && i < limit; ++i) out += (i ? ", " : "") + items[i];
    if (items.size() > limit) out += fmt::format(", ... and {} more", items.size() - limit);
    return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Tiles

std::vector<TileSpan> planTiles(int64_t length, int tile, int overlap) {
    if (tile < 1 || overlap < 0 || overlap >= tile)
        throwBadInput(
            "VAE tiling: the tile ({}) must be at least 1 latent pixel and the overlap ({}) between 0 "
            "and tile − 1",
            tile, overlap);
    if (length <= tile) return {{0, std::max<int64_t>(length, 0)}};
    const int64_t n = (length - overlap + (tile - overlap) - 1) / (tile - overlap);
    const int64_t size = (length + (n - 1) * overlap + n - 1) / n;
    std::vector<TileSpan> spans;
    for (int64_t i = 0; i < n; ++i) spans.push_back({i * (length - size) / (n - 1), size});
    return spans;
}

// ---------------------------------------------------------------------------------------------------
// Weights

namespace {

using Conv = ConvLayer;
struct Norm {
    at::Tensor w, b;
};
struct Resnet {
    Norm norm1, norm2;
    Conv conv1, conv2, shortcut;  // no shortcut when in == out
};
struct Attn {
    Norm norm;
    at::Tensor wqkv, bqkv, wo, bo;  // q, k, v stacked: [3C, C]
};
struct Upsample {
    Conv conv;                // the 3x3 conv after nearest x2 (plain path)
    FusedUpsampleConv fused;  // the same as one 2x2 conv on the small input (vae_ops.h)
};
struct Level {
    std::vector<Resnet> resnets;
    bool hasSampler = false;
    Conv down;    // encoder: the stride-2 conv
    Upsample up;  // decoder
};
struct Mid {
    Resnet first, second;
    bool hasAttention = false;
    Attn attn;
};
struct Coder {
    Conv convIn, convOut;
    Mid mid;
    std::vector<Level> levels;
    Norm normOut;
};

// Reads parameters by their diffusers name from either layout, collecting every problem so that one
// error lists them all.
class WeightReader {
public:
    WeightReader(const TensorStore& store, VaeLayout layout, const VaeConfig& config, at::ScalarType dtype,
                 at::Device device, bool channelsLast)
        : m_store(store)
        , m_layout(layout)
        , m_config(config)
        , m_dtype(dtype)
        , m_device(device)
        , m_channelsLast(channelsLast) {
        for (const auto& [name, shape] : vaeParameterShapes(config, true)) m_shapes[name] = shape;
    }

    // The tensor as the model uses it: on the device, in the compute dtype, convolution weights in
    // channels-last layout; undefined when it is missing or misshaped (recorded).
    at::Tensor get(const std::string& diffusersName) {
        const at::Tensor raw = getFloat(diffusersName);
        if (!raw.defined()) return raw;
        at::Tensor t = raw.to(m_device, m_dtype);
        if (m_channelsLast && t.dim() == 4) t = t.contiguous(at::MemoryFormat::ChannelsLast);
        return t;
    }

    // The tensor in fp32 on the CPU, in the diffusers shape (for weights that are combined first).
    at::Tensor getFloat(const std::string& diffusersName) {
        const auto shapeIt = m_shapes.find(diffusersName);
        if (shapeIt == m_shapes.end())
            throwInternal("VAE loader asked for an unknown parameter {}", diffusersName);
        const std::vector<int64_t>& expected = shapeIt->second;
        const std::string source =
            m_layout == VaeLayout::Ldm ? vaeLdmName(diffusersName, m_config.numLevels()) : diffusersName;
        m_used.insert(source);
        if (!m_store.has(source)) {
            m_missing.push_back(source);
            return {};
        }
        const auto& found = m_store.info(source).shape;
        const bool matrix = isVaeAttentionMatrix(diffusersName);
        const bool ok =
            found == expected || (matrix && found == std::vector<int64_t>{expected[0], expected[1], 1, 1});
        if (!ok) {
            m_wrongShape.push_back(
                fmt::format("{} {} (expected {}{})", source, shapeToString(found), shapeToString(expected),
                            matrix ? fmt::format(" or [{}, {}, 1, 1]", expected[0], expected[1]) : ""));
            return {};
        }
        at::Tensor t = m_store.get(source);
        if (matrix) t = t.reshape({expected[0], expected[1]});
        if (t.scalar_type() != at::kFloat) t = t.to(at::kFloat);
        return t;
    }

    // Names under `prefix` are allowed without being read (e.g. "encoder." when loading the decoder only).
    void ignorePrefix(const std::string& prefix) { m_ignored.push_back(prefix); }

    // Throws one BadInput listing every missing, misshaped and unexpected tensor.
    void finish() const {
        std::vector<std::string> unexpected;
        for (const auto& name : m_store.names()) {
            if (m_used.count(name)) continue;
            bool ignored = false;
            for (const auto& p : m_ignored) ignored = ignored || name.compare(0, p.size(), p) == 0;
            if (!ignored) unexpected.push_back(name);
        }
        if (m_missing.empty() && m_wrongShape.empty() && unexpected.empty()) return;
        std::string msg = fmt::format(
            "{}: the VAE weights ({} names) do not fit the architecture (latent_channels {}, "
            "block_out_channels "
            "[{}], layers_per_block {}, mid-block attention {}):",
            m_store.describe(), vaeLayoutName(m_layout), m_config.latentChannels,
            fmt::join(m_config.blockOutChannels, ", "), m_config.layersPerBlock,
            m_config.midBlockAttention ? "yes" : "no");
        if (!m_missing.empty())
            msg += fmt::format(" missing {} tensor(s): {};", m_missing.size(), joinLimited(m_missing));
        if (!m_wrongShape.empty()) msg += fmt::format(" wrong shape: {};", joinLimited(m_wrongShape));
        if (!unexpected.empty())
            msg += fmt::format(" unexpected {} tensor(s): {};", unexpected.size(), joinLimited(unexpected));
        msg += quantHint(unexpected);
        msg +=
            " check that this is an SD1.5 / SDXL / SD3 VAE of the model you run and that its config.json "
            "belongs to these weights";
        throw Error(ErrorKind::BadInput, msg);
    }

private:
    // Why quant_conv tensors are missing or unexpected: the config and the weights disagree about them.
    std::string quantHint(const std::vector<std::string>& unexpected) const {
        auto mentions = [](const std::vector<std::string>& names) {
            return std::any_of(names.begin(), names.end(), [](const std::string& n) {
                return n.find("quant_conv.") != std::string::npos;
            });
        };
        if (mentions(unexpected))
            return " quant_conv tensors belong to SD1/SDXL-style VAEs (4 latent channels), but the config "
                   "has no quant convs (an SD3 VAE needs its own 16-channel VAE; an SD1/SDXL config.json "
                   "must "
                   "not set use_quant_conv / use_post_quant_conv to false);";
        if (mentions(m_missing))
            return " the config has quant convs (use_quant_conv / use_post_quant_conv true, or absent, which "
                   "diffusers reads as true) but the weights have none (an SD3 VAE's config.json sets both "
                   "to false);";
        return "";
    }

    const TensorStore& m_store;
    VaeLayout m_layout;
    const VaeConfig& m_config;
    at::ScalarType m_dtype;
    at::Device m_device;
    bool m_channelsLast;
    std::map<std::string, std::vector<int64_t>> m_shapes;
    std::set<std::string> m_used;
    std::vector<std::string> m_missing, m_wrongShape, m_ignored;
};

Conv readConv(WeightReader& r, const std::string& name, int64_t stride = 1, int64_t padding = 1) {
    const at::Tensor w = r.get(name + ".weight"), b = r.get(name + ".bias");
    return w.defined() ? ConvLayer(w, b, stride, padding) : ConvLayer();  // missing: reported by finish()
}

Norm readNorm(WeightReader& r, const std::string& name) {
    return {r.get(name + ".weight"), r.get(name + ".bias")};
}

Resnet readResnet(WeightReader& r, const std::string& name, bool shortcut) {
    Resnet res;
    res.norm1 = readNorm(r, name + ".norm1");
    res.conv1 = readConv(r, name + ".conv1");
    res.norm2 = readNorm(r, name + ".norm2");
    res.conv2 = readConv(r, name + ".conv2");
    if (shortcut) res.shortcut = readConv(r, name + ".conv_shortcut", 1, 0);
    return res;
}

Mid readMid(WeightReader& r, const std::string& side, bool attention, at::ScalarType dtype,
            at::Device device) {
    Mid m;
    m.first = readResnet(r, side + "mid_block.resnets.0", false);
    m.second = readResnet(r, side + "mid_block.resnets.1", false);
    m.hasAttention = attention;
    if (attention) {
        const std::string a = side + "mid_block.attentions.0.";
        m.attn.norm = readNorm(r, a + "group_norm");
        std::vector<at::Tensor> w, b;
        for (const char* p : {"to_q", "to_k", "to_v"}) {
            w.push_back(r.getFloat(a + p + ".weight"));
            b.push_back(r.getFloat(a + p + ".bias"));
        }
        const bool complete =
            std::all_of(w.begin(), w.end(), [](const at::Tensor& t) { return t.defined(); }) &&
            std::all_of(b.begin(), b.end(), [](const at::Tensor& t) { return t.defined(); });
        if (complete) {
            m.attn.wqkv = at::cat(w, 0).to(device, dtype);
            m.attn.bqkv = at::cat(b, 0).to(device, dtype);
        }
        m.attn.wo = r.get(a + "to_out.0.weight");
        m.attn.bo = r.get(a + "to_out.0.bias");
    }
    return m;
}

}  // namespace

struct AutoencoderKl::Weights {
    Coder decoder;
    Coder encoder;
    Conv quantConv;      // after the encoder, 2L -> 2L (SD1.5 / SDXL; undefined for SD3)
    Conv postQuantConv;  // before the decoder, L -> L
    bool hasEncoder = false;
};

// ---------------------------------------------------------------------------------------------------
// Loading

AutoencoderKl::AutoencoderKl() = default;
AutoencoderKl::~AutoencoderKl() = default;

bool AutoencoderKl::hasEncoder() const {
    return m_w && m_w->hasEncoder;
}

namespace {

// The options' config, else config.json beside the weights (a diffusers vae/ folder), else the shapes.
VaeConfig resolveConfig(const TensorStore& weights, const VaeLoadOptions& options) {
    if (options.config) {
        VaeConfig config = *options.config;
        config.validate(weights.describe());
        return config;
    }
    if (weights.prefix().empty())
        for (const auto& f : weights.files()) {
            const fs::path candidate = f.parent_path() / "config.json";
            std::error_code ec;
            if (fs::exists(candidate, ec)) return VaeConfig::fromJson(candidate);
        }
    return VaeConfig::fromWeights(weights);
}

Coder readDecoder(WeightReader& r, const VaeConfig& config, at::ScalarType dtype, at::Device device,
                  const VaeLoadOptions& options) {
    const int levels = config.numLevels();
    const auto& ch = config.blockOutChannels;
    Coder d;
    d.convIn = readConv(r, "decoder.conv_in");
    d.mid = readMid(r, "decoder.", config.midBlockAttention, dtype, device);
    int prev = ch.back();
    for (int i = 0; i < levels; ++i) {
        const int cout = ch[static_cast<std::size_t>(levels - 1 - i)];
        const std::string block = "decoder.up_blocks." + std::to_string(i);
        Level level;
        for (int j = 0; j <= config.layersPerBlock; ++j) {
            level.resnets.push_back(readResnet(r, block + ".resnets." + std::to_string(j), prev != cout));
            prev = cout;
        }
        if (i < levels - 1) {
            level.hasSampler = true;
            const std::string name = block + ".upsamplers.0.conv";
            if (options.fusedUpsample) {
                const at::Tensor w = r.getFloat(name + ".weight"), b = r.getFloat(name + ".bias");
                if (w.defined() && b.defined())
                    level.up.fused = fuseUpsampleConv(w, b, dtype, device, options.channelsLast);
            } else {
                level.up.conv = readConv(r, name);
            }
        }
        d.levels.push_back(std::move(level));
    }
    d.normOut = readNorm(r, "decoder.conv_norm_out");
    d.convOut = readConv(r, "decoder.conv_out");
    return d;
}

Coder readEncoder(WeightReader& r, const VaeConfig& config, at::ScalarType dtype, at::Device device) {
    const auto& ch = config.blockOutChannels;
    Coder e;
    e.convIn = readConv(r, "encoder.conv_in");
    int cin = ch[0];
    for (int i = 0; i < config.numLevels(); ++i) {
        const int cout = ch[static_cast<std::size_t>(i)];
        const std::string block = "encoder.down_blocks." + std::to_string(i);
        Level level;
        for (int j = 0; j < config.layersPerBlock; ++j) {
            level.resnets.push_back(readResnet(r, block + ".resnets." + std::to_string(j), cin != cout));
            cin = cout;
        }
        if (i < config.numLevels() - 1) {
            level.hasSampler = true;
            level.down = readConv(r, block + ".downsamplers.0.conv", 2, 0);
        }
        e.levels.push_back(std::move(level));
    }
    e.mid = readMid(r, "encoder.", config.midBlockAttention, dtype, device);
    e.normOut = readNorm(r, "encoder.conv_norm_out");
    e.convOut = readConv(r, "encoder.conv_out");
    return e;
}

}  // namespace

std::unique_ptr<AutoencoderKl> AutoencoderKl::load(const TensorStore& store, at::ScalarType dtype,
                                                   at::Device device, const VaeLoadOptions& options) {
    if (dtype != at::kFloat && dtype != at::kBFloat16 && dtype != at::kHalf)
        throwBadInput("{}: VAE compute dtype {} is not supported (use float32 or bfloat16)", store.describe(),
                      c10::toString(dtype));
    const TensorStore weights = vaeWeightsView(store);
    const VaeLayout layout = detectVaeLayout(weights);
    const VaeConfig config = resolveConfig(weights, options);
    // diffusers' SDXL pipeline: an fp16 VAE with force_upcast decodes in fp32 (see VaeLoadOptions).
    if (dtype == at::kHalf && options.honourForceUpcast && config.forceUpcast) dtype = at::kFloat;
    if (dtype == at::kHalf && device.is_cpu())
        throwUnsupported(
            "{}: float16 has no CPU kernels in this libtorch; load the VAE as bfloat16 or float32 on "
            "the CPU (fp16 weights are converted)",
            store.describe());

    auto vae = std::unique_ptr<AutoencoderKl>(new AutoencoderKl());
    vae->m_config = config;
    vae->m_dtype = dtype;
    vae->m_device = device;
    vae->m_options = options;
    vae->m_origin = weights.describe();
    vae->m_w = std::make_unique<Weights>();

    WeightReader r(weights, layout, config, dtype, device, options.channelsLast);
    vae->m_w->decoder = readDecoder(r, config, dtype, device, options);
    if (config.usePostQuantConv) vae->m_w->postQuantConv = readConv(r, "post_quant_conv", 1, 0);
    if (options.withEncoder) {
        vae->m_w->encoder = readEncoder(r, config, dtype, device);
        if (config.useQuantConv) vae->m_w->quantConv = readConv(r, "quant_conv", 1, 0);
        vae->m_w->hasEncoder = true;
    } else {
        r.ignorePrefix("encoder.");
        r.ignorePrefix("quant_conv.");
    }
    r.finish();
    return vae;
}

// ---------------------------------------------------------------------------------------------------
// Forward

namespace {

struct Ctx {
    int groups;
    bool channelsLast;
    NormStatsSession* session = nullptr;  // shared GroupNorm statistics of a tiled decode
};

// c(x), added in place to `accumulate` when given (the resnets' residual, fused into the convolution).
at::Tensor conv(const at::Tensor& x, const Conv& c, const at::Tensor& accumulate = {}) {
    const at::Tensor& w = c.weight();
    const double flops = profile::enabled() ? 2.0 * static_cast<double>(w.numel()) * x.size(0) *
                                                  c.outputSize(x.size(2)) * c.outputSize(x.size(3))
                                            : 0.0;
    profile::Scope scope(w.size(2) == 1 ? "vae conv 1x1" : "vae conv 3x3", flops);
    return c(x, accumulate);
}

// GroupNorm followed by SiLU, fused (vae_ops.h).
at::Tensor normSilu(const at::Tensor& x, const Norm& n, const Ctx& ctx) {
    profile::Scope scope("vae groupnorm + silu");
    return groupNormSilu(x, ctx.groups, n.w, n.b, kNormEps, true, ctx.session);
}

// x must be an intermediate of this forward pass: without a shortcut conv the residual is added into it.
at::Tensor resnet(const at::Tensor& x, const Resnet& r, const Ctx& ctx) {
    const at::Tensor h = conv(normSilu(x, r.norm1, ctx), r.conv1);
    const at::Tensor skip = r.shortcut.defined() ? conv(x, r.shortcut) : x;
    return conv(normSilu(h, r.norm2, ctx), r.conv2, skip);
}

// diffusers Attention with one head over the h·w positions, then the residual.
at::Tensor attention(const at::Tensor& x, const Attn& a, const Ctx& ctx) {
    profile::Scope scope("vae mid-block attention (all)");
    const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
    const at::Tensor h = groupNormSilu(x, ctx.groups, a.norm.w, a.norm.b, kNormEps, false, ctx.session);
    const at::Tensor tokens = h.permute({0, 2, 3, 1}).reshape({B, H * W, C});  // free in channels-last
    const at::Tensor qkv = at::linear(tokens, a.wqkv, a.bqkv);
    auto head = [&](int64_t i) { return qkv.narrow(2, i * C, C).unsqueeze(1); };  // strided views
    at::Tensor o = scaledDotProductAttention(head(0), head(1), head(2)).squeeze(1);
    o = at::linear(o, a.wo, a.bo).view({B, H, W, C}).permute({0, 3, 1, 2});
    if (!ctx.channelsLast) o = o.contiguous();
    return o.add_(x);
}

at::Tensor mid(const at::Tensor& x, const Mid& m, const Ctx& ctx) {
    at::Tensor h = resnet(x, m.first, ctx);
    if (m.hasAttention) h = attention(h, m.attn, ctx);
    return resnet(h, m.second, ctx);
}

at::Tensor upsample(const at::Tensor& x, const Upsample& u, const Ctx& ctx) {
    if (u.fused.defined()) {
        const double flops = profile::enabled() ? 2.0 * static_cast<double>(u.fused.conv.weight().numel()) *
                                                      x.size(0) * (x.size(2) + 1) * (x.size(3) + 1)
                                                : 0.0;
        profile::Scope scope("vae upsample x2 + conv (fused)", flops);
        return upsampleConv(x, u.fused, ctx.channelsLast);
    }
    profile::Scope scope("vae upsample x2 + conv (plain)");
    at::Tensor up = at::upsample_nearest2d(x, {2 * x.size(2), 2 * x.size(3)});
    if (ctx.channelsLast) up = up.contiguous(at::MemoryFormat::ChannelsLast);
    return conv(up, u.conv);
}

// Names the model family a latent of the wrong width belongs to.
std::string latentHint(const at::Tensor& latent, int expected) {
    if (latent.dim() != 4 || latent.size(1) == expected) return "";
    if (latent.size(1) == 4) return " (4 channels: an SD1/SDXL latent? use that model's VAE)";
    if (latent.size(1) == 16) return " (16 channels: an SD3 latent? use the SD3 VAE)";
    return "";
}

}  // namespace

void AutoencoderKl::checkLatent(const at::Tensor& latent, const char* what) const {
    if (!latent.defined()) throwBadInput("VAE {}: no latent given", what);
    if (latent.dim() != 4 || latent.size(1) != m_config.latentChannels)
        throwBadInput("VAE {} ({}): expected a latent [batch, {}, height, width], got {}{}", what, m_origin,
                      m_config.latentChannels, shapeToString(latent.sizes()),
                      latentHint(latent, m_config.latentChannels));
    if (latent.size(0) < 1 || latent.size(2) < 1 || latent.size(3) < 1)
        throwBadInput("VAE {} ({}): the latent {} is empty", what, m_origin, shapeToString(latent.sizes()));
    if (!at::isFloatingType(latent.scalar_type()))
        throwBadInput("VAE {} ({}): the latent must be floating point, got {}", what, m_origin,
                      c10::toString(latent.scalar_type()));
}

at::Tensor AutoencoderKl::decode(const at::Tensor& vaeLatent) {
    checkLatent(vaeLatent, "decode");
    return decodeWith(vaeLatent, nullptr);
}

at::Tensor AutoencoderKl::decodeWith(const at::Tensor& vaeLatent, NormStatsSession* session) {
    c10::InferenceMode guard;
    const Ctx ctx{m_config.normNumGroups, m_options.channelsLast, session};
    const Coder& d = m_w->decoder;
    at::Tensor x = vaeLatent.to(m_device, m_dtype);
    if (ctx.channelsLast) x = x.contiguous(at::MemoryFormat::ChannelsLast);
    // 1x1, so applying it per tile (tiled decode) is exact.
    if (m_w->postQuantConv.defined()) x = conv(x, m_w->postQuantConv);
    x = conv(x, d.convIn);
    x = mid(x, d.mid, ctx);
    for (const Level& level : d.levels) {
        for (const Resnet& r : level.resnets) x = resnet(x, r, ctx);
        if (level.hasSampler) x = upsample(x, level.up, ctx);
    }
    x = conv(normSilu(x, d.normOut, ctx), d.convOut);
    return x.to(at::kFloat).contiguous();
}

std::pair<at::Tensor, at::Tensor> AutoencoderKl::encode(const at::Tensor& image) {
    if (!hasEncoder())
        throwBadInput("VAE encode ({}): the VAE was loaded without its encoder (VaeLoadOptions::withEncoder)",
                      m_origin);
    const int f = m_config.downsampleFactor();
    if (!image.defined() || image.dim() != 4 || image.size(1) != m_config.inChannels)
        throwBadInput("VAE encode ({}): expected an image [batch, {}, height, width] in [-1, 1], got {}",
                      m_origin, m_config.inChannels,
                      image.defined() ? shapeToString(image.sizes()) : "nothing");
    if (image.size(0) < 1 || image.size(2) < f || image.size(3) < f || image.size(2) % f != 0 ||
        image.size(3) % f != 0)
        throwBadInput(
            "VAE encode ({}): image height and width must be positive multiples of {} (the VAE's "
            "downsampling factor), got {}x{}; crop or pad the image",
            m_origin, f, image.size(2), image.size(3));
    if (!at::isFloatingType(image.scalar_type()))
        throwBadInput("VAE encode ({}): the image must be floating point in [-1, 1], got {}", m_origin,
                      c10::toString(image.scalar_type()));
    c10::InferenceMode guard;
    const Ctx ctx{m_config.normNumGroups, m_options.channelsLast};
    const Coder& e = m_w->encoder;
    at::Tensor x = image.to(m_device, m_dtype);
    if (ctx.channelsLast) x = x.contiguous(at::MemoryFormat::ChannelsLast);
    x = conv(x, e.convIn);
    for (const Level& level : e.levels) {
        for (const Resnet& r : level.resnets) x = resnet(x, r, ctx);
        if (level.hasSampler) {
            // diffusers Downsample2D: pad right and bottom by one, then a 3x3 stride-2 conv without padding.
            x = at::constant_pad_nd(x, {0, 1, 0, 1});
            if (ctx.channelsLast) x = x.contiguous(at::MemoryFormat::ChannelsLast);
            x = conv(x, level.down);
        }
    }
    x = mid(x, e.mid, ctx);
    x = conv(normSilu(x, e.normOut, ctx), e.convOut);
    if (m_w->quantConv.defined()) x = conv(x, m_w->quantConv);
    x = x.to(at::kFloat);
    const int64_t L = m_config.latentChannels;
    at::Tensor mean = x.narrow(1, 0, L).contiguous();
    at::Tensor logvar = x.narrow(1, L, L).clamp(-30.0, 20.0).contiguous();
    return {mean, logvar};
}

namespace {

// Blend weights of one tile along one axis: a linear ramp over the overlap with each neighbour.
at::Tensor tileRamp(const std::vector<TileSpan>& spans, std::size_t i, int64_t factor) {
    const int64_t n = spans[i].size * factor;
    std::vector<float> w(static_cast<std::size_t>(n), 1.0f);
    if (i > 0) {
        const int64_t ov = (spans[i - 1].start + spans[i - 1].size - spans[i].start) * factor;
        for (int64_t p = 0; p < std::min(ov, n); ++p)
            w[static_cast<std::size_t>(p)] = std::min(
                w[static_cast<std::size_t>(p)], static_cast<float>((p + 0.5) / static_cast<double>(ov)));
    }
    if (i + 1 < spans.size()) {
        const int64_t ov = (spans[i].start + spans[i].size - spans[i + 1].start) * factor;
        for (int64_t q = 0; q < std::min(ov, n); ++q) {
            const auto p = static_cast<std::size_t>(n - 1 - q);
            w[p] = std::min(w[p], static_cast<float>((q + 0.5) / static_cast<double>(ov)));
        }
    }
    return at::tensor(w);
}

// The part of tile i that it owns, in tile-local latent pixels: up to the middle of each overlap.
std::pair<int64_t, int64_t> tileCore(const std::vector<TileSpan>& spans, std::size_t i) {
    const int64_t start = spans[i].start, end = spans[i].start + spans[i].size;
    const int64_t lo = i == 0 ? start : (spans[i - 1].start + spans[i - 1].size + start) / 2;
    const int64_t hi = i + 1 == spans.size() ? end : (end + spans[i + 1].start) / 2;
    return {lo - start, hi - start};
}

}  // namespace

at::Tensor AutoencoderKl::decodeTiled(const at::Tensor& vaeLatent, const TilingOptions& tiling) {
    checkLatent(vaeLatent, "decode");
    const int64_t h = vaeLatent.size(2), w = vaeLatent.size(3);
    const bool tile = tiling.mode == TilingOptions::Mode::Always ||
                      (tiling.mode == TilingOptions::Mode::Auto && h * w > tiling.autoAboveLatentPixels);
    if (!tile) return decode(vaeLatent);
    if (tiling.statsPasses < 0 || tiling.statsPasses > 8)
        throwBadInput("VAE tiling: statsPasses must be between 0 and 8, got {}", tiling.statsPasses);
    const auto rows = planTiles(h, tiling.tileLatent, tiling.overlapLatent);
    const auto cols = planTiles(w, tiling.tileLatent, tiling.overlapLatent);
    if (rows.size() == 1 && cols.size() == 1) return decode(vaeLatent);

    c10::InferenceMode guard;
    auto part = [&](std::size_t r, std::size_t c) {
        return vaeLatent.slice(2, rows[r].start, rows[r].start + rows[r].size)
            .slice(3, cols[c].start, cols[c].start + cols[c].size);
    };
    // The whole image's GroupNorm statistics, summed over the pixels each tile owns.
    std::vector<std::pair<at::Tensor, at::Tensor>> shared;
    for (int pass = 0; pass < tiling.statsPasses; ++pass) {
        std::vector<GroupMoments> total;
        for (std::size_t r = 0; r < rows.size(); ++r)
            for (std::size_t c = 0; c < cols.size(); ++c) {
                NormStatsSession session;
                session.record = true;
                session.replay = pass > 0;
                session.statistics = shared;
                const auto [y0, y1] = tileCore(rows, r);
                const auto [x0, x1] = tileCore(cols, c);
                session.latentCore = {y0, y1, x0, x1};
                session.latentH = rows[r].size;
                session.latentW = cols[c].size;
                decodeWith(part(r, c), &session);
                if (total.empty()) total.resize(session.recorded.size());
                if (total.size() != session.recorded.size())
                    throwInternal("tiled VAE decode: tiles made different numbers of GroupNorm calls");
                for (std::size_t i = 0; i < total.size(); ++i) total[i].merge(session.recorded[i]);
            }
        shared.clear();
        for (const auto& m : total) shared.push_back(m.meanRstd(kNormEps));
    }

    const int64_t f = m_config.downsampleFactor();
    const auto fopts = at::TensorOptions().dtype(at::kFloat).device(m_device);
    at::Tensor out = at::zeros({vaeLatent.size(0), m_config.outChannels, h * f, w * f}, fopts);
    at::Tensor weight = at::zeros({1, 1, h * f, w * f}, fopts);
    for (std::size_t r = 0; r < rows.size(); ++r) {
        const at::Tensor wy = tileRamp(rows, r, f).to(m_device);
        for (std::size_t c = 0; c < cols.size(); ++c) {
            const at::Tensor wx = tileRamp(cols, c, f).to(m_device);
            NormStatsSession session;
            session.replay = true;
            session.statistics = shared;
            const at::Tensor img = decodeWith(part(r, c), shared.empty() ? nullptr : &session);
            const at::Tensor mask = wy.unsqueeze(1) * wx.unsqueeze(0);
            const int64_t y0 = rows[r].start * f, x0 = cols[c].start * f;
            out.slice(2, y0, y0 + img.size(2)).slice(3, x0, x0 + img.size(3)).add_(img * mask);
            weight.slice(2, y0, y0 + img.size(2)).slice(3, x0, x0 + img.size(3)).add_(mask);
        }
    }
    return out.div_(weight);
}

at::Tensor AutoencoderKl::toVaeLatent(const at::Tensor& diffusionLatent) const {
    return diffusionLatent.to(at::kFloat) / m_config.scalingFactor + m_config.shiftFactor;
}

at::Tensor AutoencoderKl::decodeToImage(const at::Tensor& diffusionLatent, const TilingOptions& tiling) {
    checkLatent(diffusionLatent, "decode");
    c10::InferenceMode guard;
    const at::Tensor x = decodeTiled(toVaeLatent(diffusionLatent), tiling);
    return (x / 2 + 0.5).clamp_(0.0, 1.0);
}

at::Tensor imageToUint8Hwc(const at::Tensor& image01) {
    if (!image01.defined() || image01.dim() != 4 || image01.size(1) != 3)
        throwBadInput("imageToUint8Hwc: expected an image [batch, 3, height, width] in [0, 1], got {}",
                      image01.defined() ? shapeToString(image01.sizes()) : "nothing");
    c10::InferenceMode guard;
    at::Tensor x = image01.to(at::kCPU, at::kFloat) * 255.0f;
    return x.round_().clamp_(0.0, 255.0).to(at::kByte).permute({0, 2, 3, 1}).contiguous();
}

}  // namespace swd
