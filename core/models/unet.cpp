#include "models/unet.h"

#include "kernels/dnnl_backend.h"
#include "models/attention.h"
#include "models/linear.h"
#include "models/op_profile.h"
#include "models/vae_ops.h"
#include "util/error.h"

#include <c10/core/InferenceMode.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <map>
#include <set>

namespace swd {

namespace {

constexpr double kTransformerNormEps = 1e-6;  // Transformer2DModel's GroupNorm (fixed in diffusers)
constexpr double kLayerNormEps = 1e-5;        // BasicTransformerBlock's LayerNorms

struct Norm {
    at::Tensor w, b;
};
struct Resnet {
    Norm norm1, norm2;
    ConvLayer conv1, conv2, shortcut;  // no shortcut when in == out
    Linear timeProj;
};
// One BasicTransformerBlock; q/k/v of the self-attention and k/v of the cross-attention fused into one
// matmul each (same math, fewer passes over the activations).
struct Block {
    Norm norm1, norm2, norm3;
    Linear qkv, out1, q2, kv2, out2, ff1, ff2;
};
struct Transformer {
    Norm norm;
    Linear projIn, projOut;  // SD1.5's 1x1 convs are the same matmul over the channels
    std::vector<Block> blocks;
    int64_t heads = 1;
};
struct Level {
    std::vector<Resnet> resnets;
    std::vector<Transformer> attentions;  // empty for DownBlock2D / UpBlock2D
    ConvLayer sampler;                    // stride-2 conv (down) or the 3x3 conv after upsampling (up)
};

std::string joinLimited(const std::vector<std::string>& items, std::size_t limit = 24) {
    std::string out;
    for (std::size_t i = 0; i < items.size() && i < limit; ++i) out += (i ? ", " : "") + items[i];
    if (items.size() > limit) out += fmt::format(", ... and {} more", items.size() - limit);
    return out;
}

// Reads parameters by diffusers name, checking each against the config's shapes; every problem is
// collected so that finish() reports them all at once.
class WeightReader {
public:
    WeightReader(const TensorStore& store, const UnetConfig& config, at::ScalarType dtype, at::Device device,
                 MatmulBackend backend)
        : m_store(store), m_config(config), m_dtype(dtype), m_device(device), m_backend(backend) {
        for (auto& [name, shape] : config.parameterShapes()) m_shapes[name] = shape;
    }

    // fp32 on the CPU in the diffusers shape; undefined when missing or misshaped (recorded).
    at::Tensor raw(const std::string& name) {
        const auto it = m_shapes.find(name);
        if (it == m_shapes.end()) throwInternal("UNet loader asked for an unknown parameter {}", name);
        m_used.insert(name);
        if (!m_store.has(name)) {
            m_missing.push_back(name);
            return {};
        }
        const auto& found = m_store.info(name).shape;
        if (found != it->second) {
            m_wrongShape.push_back(
                fmt::format("{} {} (expected {})", name, shapeToString(found), shapeToString(it->second)));
            return {};
        }
        const at::Tensor t = m_store.get(name);
        if (!at::isFloatingType(t.scalar_type())) {
            m_wrongShape.push_back(
                fmt::format("{} has dtype {} (expected a float type)", name, c10::toString(t.scalar_type())));
            return {};
        }
        return t.to(at::kFloat);
    }
    at::Tensor get(const std::string& name) {
        const at::Tensor t = raw(name);
        return t.defined() ? t.to(m_device, m_dtype) : t;
    }
    Norm norm(const std::string& n) { return {get(n + ".weight"), get(n + ".bias")}; }
    ConvLayer conv(const std::string& n, int64_t stride = 1, int64_t padding = 1) {
        const at::Tensor w = get(n + ".weight"), b = get(n + ".bias");
        if (!w.defined() || !b.defined()) return {};  // reported by finish()
        return ConvLayer(w.contiguous(at::MemoryFormat::ChannelsLast), b, stride, padding);
    }
    // Several stored matrices stacked along the output rows into one layer; a 1x1 conv weight counts as its
    // [out, in] matrix. `bias` empty: no bias.
    Linear linear(const std::string& label, const std::vector<std::string>& weights,
                  const std::string& bias = {}) {
        std::vector<at::Tensor> ws;
        bool complete = true;
        for (const auto& n : weights) {
            at::Tensor w = raw(n);
            complete = complete && w.defined();
            if (w.defined()) ws.push_back(w.reshape({w.size(0), w.size(1)}));
        }
        const at::Tensor b = bias.empty() ? at::Tensor() : raw(bias);
        if (!complete || (!bias.empty() && !b.defined())) return {};
        const at::Tensor w = ws.size() == 1 ? ws[0] : at::cat(ws, 0);
        return Linear(label, w.to(m_device, m_dtype), b.defined() ? b.to(m_device, m_dtype) : b, m_backend);
    }
    Linear linear(const std::string& n, bool bias = true) {
        return linear(n, {n + ".weight"}, bias ? n + ".bias" : std::string());
    }

    void finish() const;

private:
    const TensorStore& m_store;
    const UnetConfig& m_config;
    at::ScalarType m_dtype;
    at::Device m_device;
    MatmulBackend m_backend;
    std::map<std::string, std::vector<int64_t>> m_shapes;
    std::set<std::string> m_used;
    std::vector<std::string> m_missing, m_wrongShape;
};

void WeightReader::finish() const {
    std::vector<std::string> unexpected;
    for (const auto& name : m_store.names())
        if (!m_used.count(name)) unexpected.push_back(name);
    if (m_missing.empty() && m_wrongShape.empty() && unexpected.empty()) return;
    std::string msg = fmt::format(
        "{}: the UNet weights do not fit the configuration ({}):", m_store.describe(), m_config.describe());
    if (!m_missing.empty())
        msg += fmt::format(" missing {} tensor(s): {};", m_missing.size(), joinLimited(m_missing));
    if (!m_wrongShape.empty())
        msg += fmt::format(" wrong shape or type: {} tensor(s): {};", m_wrongShape.size(),
                           joinLimited(m_wrongShape));
    if (!unexpected.empty())
        msg += fmt::format(" unexpected {} tensor(s): {};", unexpected.size(), joinLimited(unexpected));
    msg +=
        " check that the weights are a diffusers UNet2DConditionModel and that config.json belongs to them";
    throw Error(ErrorKind::BadInput, msg);
}

Resnet readResnet(WeightReader& r, const std::string& n, bool shortcut) {
    Resnet res;
    res.norm1 = r.norm(n + ".norm1");
    res.conv1 = r.conv(n + ".conv1");
    res.timeProj = r.linear(n + ".time_emb_proj");
    res.norm2 = r.norm(n + ".norm2");
    res.conv2 = r.conv(n + ".conv2");
    if (shortcut) res.shortcut = r.conv(n + ".conv_shortcut", 1, 0);
    return res;
}

Transformer readTransformer(WeightReader& r, const std::string& n, int layers, int64_t heads) {
    Transformer t;
    t.heads = heads;
    t.norm = r.norm(n + ".norm");
    t.projIn = r.linear(n + ".proj_in");
    for (int l = 0; l < layers; ++l) {
        const std::string b = n + ".transformer_blocks." + std::to_string(l);
        Block blk;
        blk.norm1 = r.norm(b + ".norm1");
        blk.qkv = r.linear(b + ".attn1.to_qkv",
                           {b + ".attn1.to_q.weight", b + ".attn1.to_k.weight", b + ".attn1.to_v.weight"});
        blk.out1 = r.linear(b + ".attn1.to_out.0");
        blk.norm2 = r.norm(b + ".norm2");
        blk.q2 = r.linear(b + ".attn2.to_q", false);
        blk.kv2 = r.linear(b + ".attn2.to_kv", {b + ".attn2.to_k.weight", b + ".attn2.to_v.weight"});
        blk.out2 = r.linear(b + ".attn2.to_out.0");
        blk.norm3 = r.norm(b + ".norm3");
        blk.ff1 = r.linear(b + ".ff.net.0.proj");
        blk.ff2 = r.linear(b + ".ff.net.2");
        t.blocks.push_back(std::move(blk));
    }
    t.projOut = r.linear(n + ".proj_out");
    return t;
}

}  // namespace

struct SdUnet::Weights {
    ConvLayer convIn, convOut;
    Linear time1, time2, add1, add2;
    std::vector<Level> down, up;
    Resnet mid0, mid1;
    Transformer midAttention;
    Norm normOut;

    void packLinears();
};

void SdUnet::Weights::packLinears() {
    auto packResnet = [](Resnet& r) { r.timeProj.pack(); };
    auto packTransformer = [](Transformer& t) {
        t.projIn.pack();
        t.projOut.pack();
        for (Block& b : t.blocks)
            for (Linear* l : {&b.qkv, &b.out1, &b.q2, &b.kv2, &b.out2, &b.ff1, &b.ff2}) l->pack();
    };
    for (Linear* l : {&time1, &time2, &add1, &add2}) l->pack();
    for (auto* levels : {&down, &up})
        for (Level& level : *levels) {
            for (Resnet& r : level.resnets) packResnet(r);
            for (Transformer& t : level.attentions) packTransformer(t);
        }
    packResnet(mid0);
    packResnet(mid1);
    packTransformer(midAttention);
}

SdUnet::SdUnet() = default;
SdUnet::~SdUnet() = default;

std::unique_ptr<SdUnet> SdUnet::load(const TensorStore& weights, const UnetConfig& config,
                                     at::ScalarType dtype, at::Device device,
                                     const UnetLoadOptions& options) {
    if (dtype != at::kFloat && dtype != at::kBFloat16)
        throwBadInput("{}: UNet compute dtype {} is not supported; use float32 or bfloat16",
                      weights.describe(), c10::toString(dtype));
    config.validate(weights.describe());
    auto unet = std::unique_ptr<SdUnet>(new SdUnet());
    unet->m_config = config;
    unet->m_dtype = dtype;
    unet->m_device = device;
    unet->m_origin = weights.describe();
    unet->m_attention = options.attention;
    const bool onednnOk = device.is_cpu() && dnnl_backend::usable(dtype);
    unet->m_matmul = options.matmul.value_or(onednnOk ? MatmulBackend::OneDnn : MatmulBackend::Aten);
    if (unet->m_matmul == MatmulBackend::OneDnn && !onednnOk)
        throwUnsupported("UNet: the oneDNN backend runs fp32 / bf16 on the CPU{}",
                         dnnl_backend::compiledIn() ? "" : " and this build has no oneDNN");
    unet->m_w = std::make_unique<Weights>();
    Weights& w = *unet->m_w;

    WeightReader r(weights, config, dtype, device, unet->m_matmul);
    const int levels = config.numLevels();
    const auto& ch = config.blockOutChannels;
    w.convIn = r.conv("conv_in");
    w.time1 = r.linear("time_embedding.linear_1");
    w.time2 = r.linear("time_embedding.linear_2");
    if (config.textTimeEmbedding) {
        w.add1 = r.linear("add_embedding.linear_1");
        w.add2 = r.linear("add_embedding.linear_2");
    }
    int prev = ch[0];
    for (int i = 0; i < levels; ++i) {
        const auto li = static_cast<std::size_t>(i);
        const std::string blk = "down_blocks." + std::to_string(i);
        Level level;
        for (int j = 0; j < config.layersPerBlock; ++j) {
            level.resnets.push_back(readResnet(r, blk + ".resnets." + std::to_string(j), prev != ch[li]));
            prev = ch[li];
            if (config.downBlockTypes[li] == UnetConfig::DownType::CrossAttn)
                level.attentions.push_back(readTransformer(r, blk + ".attentions." + std::to_string(j),
                                                           config.transformerLayers[li],
                                                           config.numHeads[li]));
        }
        if (i < levels - 1) level.sampler = r.conv(blk + ".downsamplers.0.conv", 2, 1);
        w.down.push_back(std::move(level));
    }
    w.mid0 = readResnet(r, "mid_block.resnets.0", false);
    w.midAttention =
        readTransformer(r, "mid_block.attentions.0", config.transformerLayers.back(), config.numHeads.back());
    w.mid1 = readResnet(r, "mid_block.resnets.1", false);
    for (int i = 0; i < levels; ++i) {
        const auto rev = static_cast<std::size_t>(levels - 1 - i);
        const std::string blk = "up_blocks." + std::to_string(i);
        const int out = ch[rev];
        const int input = ch[static_cast<std::size_t>(std::max(levels - 2 - i, 0))];
        Level level;
        for (int j = 0; j <= config.layersPerBlock; ++j) {
            const int in = prev + (j == config.layersPerBlock ? input : out);
            level.resnets.push_back(readResnet(r, blk + ".resnets." + std::to_string(j), in != out));
            prev = out;
            if (config.upBlockTypes[static_cast<std::size_t>(i)] == UnetConfig::UpType::CrossAttn)
                level.attentions.push_back(readTransformer(r, blk + ".attentions." + std::to_string(j),
                                                           config.transformerLayers[rev],
                                                           config.numHeads[rev]));
        }
        if (i < levels - 1) level.sampler = r.conv(blk + ".upsamplers.0.conv");
        w.up.push_back(std::move(level));
    }
    w.normOut = r.norm("conv_norm_out");
    w.convOut = r.conv("conv_out");
    r.finish();
    if (unet->m_matmul == MatmulBackend::OneDnn) w.packLinears();
    return unet;
}

// ---------------------------------------------------------------------------------------------------
// Forward

at::Tensor unetTimestepEmbedding(const at::Tensor& t, int64_t dim, bool flipSinToCos, double freqShift) {
    // diffusers' get_timestep_embedding, op for op in float32 (the golden runs depend on this order).
    const int64_t half = dim / 2;
    const auto f32 = at::TensorOptions().device(t.device()).dtype(at::kFloat);
    at::Tensor exponent = at::arange(0, half, f32) * (-std::log(10000.0));
    exponent = exponent / (static_cast<double>(half) - freqShift);
    const at::Tensor args = t.to(at::kFloat).reshape({-1, 1}) * at::exp(exponent).unsqueeze(0);
    at::Tensor emb = flipSinToCos ? at::cat({at::cos(args), at::sin(args)}, -1)
                                  : at::cat({at::sin(args), at::cos(args)}, -1);
    if (dim % 2 == 1) emb = at::constant_pad_nd(emb, {0, 1});
    return emb;
}

namespace {

struct Run {
    int64_t groups;
    double eps;
    AttentionBackend attention;
    at::Tensor embAct;   // SiLU(time embedding) [B, temb], what every resnet's time_emb_proj reads
    at::Tensor context;  // encoder hidden states [B, S, D] in the compute dtype
};

at::Tensor channelsLast(const at::Tensor& x) {
    return x.contiguous(at::MemoryFormat::ChannelsLast);
}

at::Tensor resnet(const at::Tensor& x, const Resnet& r, const Run& run) {
    profile::Scope scope("unet resnet");
    at::Tensor h = r.conv1(groupNormSilu(x, run.groups, r.norm1.w, r.norm1.b, run.eps, true));
    h.add_(r.timeProj.forward(run.embAct).view({x.size(0), -1, 1, 1}));
    const at::Tensor n2 = groupNormSilu(h, run.groups, r.norm2.w, r.norm2.b, run.eps, true);
    // x may be a stored skip: it is never modified in place.
    if (r.shortcut.defined()) return r.conv2(n2, r.shortcut(x));
    return r.conv2(n2).add_(x);
}

// q [B, Tq, C], k and v [B, Tk, C] (any row stride) -> [B, Tq, C], heads split as diffusers does.
at::Tensor attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int64_t heads,
                  AttentionBackend backend) {
    const int64_t B = q.size(0), C = q.size(2), D = C / heads;
    auto split = [&](const at::Tensor& t) { return t.view({B, t.size(1), heads, D}).permute({0, 2, 1, 3}); };
    at::Tensor out = at::empty({B, q.size(1), C}, q.options());
    AttentionOptions o;
    o.out = split(out);
    o.backend = backend;
    scaledDotProductAttention(split(q), split(k), split(v), o);
    return out;
}

at::Tensor layerNorm(const at::Tensor& h, const Norm& n) {
    return at::layer_norm(h, {h.size(-1)}, n.w, n.b, kLayerNormEps);
}

// BasicTransformerBlock on the tokens h [B, T, C], in place.
void transformerBlock(at::Tensor& h, const Block& b, int64_t heads, const Run& run) {
    const int64_t C = h.size(2);
    {
        profile::Scope scope("unet self-attention");
        const at::Tensor qkv = b.qkv.forward(layerNorm(h, b.norm1));
        h.add_(b.out1.forward(
            attend(qkv.narrow(2, 0, C), qkv.narrow(2, C, C), qkv.narrow(2, 2 * C, C), heads, run.attention)));
    }
    {
        profile::Scope scope("unet cross-attention");
        const at::Tensor q = b.q2.forward(layerNorm(h, b.norm2));
        const at::Tensor kv = b.kv2.forward(run.context);
        h.add_(b.out2.forward(attend(q, kv.narrow(2, 0, C), kv.narrow(2, C, C), heads, run.attention)));
    }
    {
        profile::Scope scope("unet geglu feed-forward");
        // GEGLU: first half the value, second half the gate through exact (erf) GELU.
        const at::Tensor p = b.ff1.forward(layerNorm(h, b.norm3));
        const int64_t inner = p.size(2) / 2;
        h.add_(b.ff2.forward(p.narrow(2, 0, inner) * at::gelu(p.narrow(2, inner, inner))));
    }
}

// Transformer2DModel: GroupNorm, proj_in, the blocks, proj_out, + input. x is channels-last.
at::Tensor transformer(const at::Tensor& x, const Transformer& t, const Run& run) {
    const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
    const at::Tensor n = groupNormSilu(x, run.groups, t.norm.w, t.norm.b, kTransformerNormEps, false);
    // [B, C, H, W] channels-last is [B, H·W, C] in memory: the flatten is free.
    at::Tensor h = t.projIn.forward(n.permute({0, 2, 3, 1}).reshape({B, H * W, C}));
    for (const Block& b : t.blocks) transformerBlock(h, b, t.heads, run);
    return t.projOut.forward(h).view({B, H, W, C}).permute({0, 3, 1, 2}).add_(x);
}

}  // namespace

void SdUnet::checkInputs(const at::Tensor& sample, const at::Tensor& timestep, const at::Tensor& context,
                         const at::Tensor& textEmbeds, const at::Tensor& timeIds) const {
    const UnetConfig& c = m_config;
    if (!sample.defined() || sample.dim() != 4 || sample.size(1) != c.inChannels || sample.size(0) < 1 ||
        sample.size(2) < 1 || sample.size(3) < 1 || !at::isFloatingType(sample.scalar_type()))
        throwBadInput("UNet ({}): expected a float sample [batch, {}, height, width], got {}", m_origin,
                      c.inChannels, sample.defined() ? shapeToString(sample.sizes()) : "nothing");
    const int64_t B = sample.size(0);
    if (!timestep.defined() || timestep.dim() > 1 || (timestep.numel() != 1 && timestep.numel() != B) ||
        timestep.scalar_type() == at::kBool || at::isComplexType(timestep.scalar_type()))
        throwBadInput(
            "UNet ({}): the timestep must be a number, [1] or [batch = {}] (integer or float), got {}",
            m_origin, B, timestep.defined() ? shapeToString(timestep.sizes()) : "nothing");
    if (!context.defined() || context.dim() != 3 || context.size(0) != B || context.size(1) < 1 ||
        context.size(2) != c.crossAttentionDim)
        throwBadInput(
            "UNet ({}): encoder_hidden_states must be [batch = {}, tokens, cross_attention_dim = {}], got "
            "{}; "
            "check that the text encoders belong to this UNet",
            m_origin, B, c.crossAttentionDim, context.defined() ? shapeToString(context.sizes()) : "nothing");
    if (!c.textTimeEmbedding) {
        if (textEmbeds.defined() || timeIds.defined())
            throwBadInput(
                "UNet ({}): text_embeds / time_ids were given but this UNet has no added (text_time) "
                "conditioning (an SD1.5-style model)",
                m_origin);
        return;
    }
    if (!textEmbeds.defined() || textEmbeds.dim() != 2 || textEmbeds.size(0) != B ||
        textEmbeds.size(1) != c.textEmbedDim())
        throwBadInput(
            "UNet ({}): this SDXL-style UNet needs text_embeds [batch = {}, {}] (the pooled text "
            "embedding), got {}",
            m_origin, B, c.textEmbedDim(),
            textEmbeds.defined() ? shapeToString(textEmbeds.sizes()) : "nothing");
    if (!timeIds.defined() || timeIds.dim() != 2 || timeIds.size(0) != B || timeIds.size(1) != 6)
        throwBadInput(
            "UNet ({}): this SDXL-style UNet needs time_ids [batch = {}, 6] (original size, crop, "
            "target size), got {}",
            m_origin, B, timeIds.defined() ? shapeToString(timeIds.sizes()) : "nothing");
}

at::Tensor SdUnet::embedding(const at::Tensor& timestep, int64_t batch, const at::Tensor& textEmbeds,
                             const at::Tensor& timeIds) const {
    const UnetConfig& c = m_config;
    const Weights& w = *m_w;
    at::Tensor t = timestep.to(m_device).reshape({-1});
    if (t.numel() == 1) t = t.expand({batch});
    const at::Tensor proj = unetTimestepEmbedding(t, c.blockOutChannels[0], c.flipSinToCos, c.freqShift);
    at::Tensor emb = w.time2.forward(at::silu(w.time1.forward(proj.to(m_dtype))));
    if (c.textTimeEmbedding) {
        // Each time id gets its own sinusoid; pooled text first, then the ids' embeddings.
        const at::Tensor ids = unetTimestepEmbedding(timeIds.to(m_device).reshape({-1}),
                                                     c.additionTimeEmbedDim, c.flipSinToCos, c.freqShift)
                                   .reshape({batch, -1});
        const at::Tensor added = at::cat({textEmbeds.to(m_device, at::kFloat), ids}, -1).to(m_dtype);
        emb = emb + w.add2.forward(at::silu(w.add1.forward(added)));
    }
    return emb;
}

at::Tensor SdUnet::forward(const at::Tensor& sample, const at::Tensor& timestep,
                           const at::Tensor& encoderHiddenStates, const at::Tensor& textEmbeds,
                           const at::Tensor& timeIds) const {
    checkInputs(sample, timestep, encoderHiddenStates, textEmbeds, timeIds);
    c10::InferenceMode guard;
    const Weights& w = *m_w;
    Run run;
    run.groups = m_config.normNumGroups;
    run.eps = m_config.normEps;
    run.attention = m_attention;
    run.embAct = at::silu(embedding(timestep, sample.size(0), textEmbeds, timeIds));
    run.context = encoderHiddenStates.to(m_device, m_dtype).contiguous();

    at::Tensor x = w.convIn(channelsLast(sample.to(m_device, m_dtype)));
    std::vector<at::Tensor> skips{x};
    for (const Level& level : w.down) {
        for (std::size_t j = 0; j < level.resnets.size(); ++j) {
            x = resnet(x, level.resnets[j], run);
            if (!level.attentions.empty()) x = transformer(x, level.attentions[j], run);
            skips.push_back(x);
        }
        if (level.sampler.defined()) {
            x = level.sampler(x);
            skips.push_back(x);
        }
    }
    x = resnet(x, w.mid0, run);
    x = transformer(x, w.midAttention, run);
    x = resnet(x, w.mid1, run);
    for (const Level& level : w.up) {
        for (std::size_t j = 0; j < level.resnets.size(); ++j) {
            x = channelsLast(at::cat({x, skips.back()}, 1));
            skips.pop_back();
            x = resnet(x, level.resnets[j], run);
            if (!level.attentions.empty()) x = transformer(x, level.attentions[j], run);
        }
        if (level.sampler.defined()) {
            // Nearest upsampling to the next skip's size (2x, or what an odd size rounded up to).
            const at::Tensor& next = skips.back();
            profile::Scope scope("unet upsample + conv");
            x = level.sampler(channelsLast(at::upsample_nearest2d(x, {next.size(2), next.size(3)})));
        }
    }
    x = w.convOut(groupNormSilu(x, run.groups, w.normOut.w, w.normOut.b, run.eps, true));
    return x.to(at::kFloat).contiguous();
}

}  // namespace swd
