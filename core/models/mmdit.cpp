#include "models/mmdit.h"

#include "kernels/dnnl_backend.h"
#include "kernels/norm_kernels.h"
#include "models/op_profile.h"
#include "util/error.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <ATen/Parallel.h>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <set>
#include <sstream>

namespace swd {

namespace {

constexpr double kNormEps = 1e-6;
const std::string kSingleFilePrefix = "model.diffusion_model.";

std::string listSome(const std::vector<std::string>& items, std::size_t limit = 20) {
    std::string out;
    for (std::size_t i = 0; i < items.size() && i < limit; ++i) out += (i ? ", " : "") + items[i];
    if (items.size() > limit) out += fmt::format(" and {} more", items.size() - limit);
    return out;
}

// The transformer part of a checkpoint: the store itself, or its "model.diffusion_model." view when it
// is an original single file (which also holds the VAE and maybe text encoders).
TensorStore transformerView(const TensorStore& weights) {
    const auto names = weights.names();
    auto has = [&](const std::string& prefix) {
        const auto it = std::lower_bound(names.begin(), names.end(), prefix);
        return it != names.end() && it->compare(0, prefix.size(), prefix) == 0;
    };
    if (!has("transformer_blocks.") && !has("joint_blocks.") && has(kSingleFilePrefix))
        return weights.withPrefix(kSingleFilePrefix);
    return weights;
}

// Reads tensors of one layout in the model's dtype / device, mapping diffusers names onto the single
// file's fused qkv and swapped (shift, scale) halves.
class WeightReader {
public:
    WeightReader(const TensorStore& store, const MMDiTConfig& config, MMDiTLayout layout,
                 at::ScalarType dtype, at::Device device)
        : m_store(store), m_config(config), m_layout(layout), m_dtype(dtype), m_device(device) {
        for (const auto& [name, shape] : mmditParameters(config, layout)) m_shapes[name] = shape;
    }

    // A tensor by its name in the store's layout, converted (no copy when it already fits).
    at::Tensor raw(const std::string& name, at::ScalarType dtype) const {
        at::Tensor t = m_store.get(name, m_shapes.at(name));
        t = t.to(m_device, dtype);
        return t.is_contiguous() ? t : t.contiguous();
    }
    at::Tensor raw(const std::string& name) const { return raw(name, m_dtype); }

    // One diffusers Linear (weight + bias) of a joint block's attention, from separate or fused qkv.
    // `part` 0/1/2 = q/k/v; `fused` is the original module ("x_block.attn", "context_block.attn", ...).
    std::pair<at::Tensor, at::Tensor> qkv(int block, const std::string& fused, int part) const {
        const std::string base = fmt::format("joint_blocks.{}.{}.qkv", block, fused);
        const int64_t H = m_config.hidden();
        // The fused tensor is converted once; q, k and v are row blocks of it (contiguous views).
        auto slice = [&](const std::string& name) {
            auto it = m_fused.find(name);
            if (it == m_fused.end()) it = m_fused.emplace(name, raw(name)).first;
            return it->second.narrow(0, part * H, H);
        };
        return {slice(base + ".weight"), slice(base + ".bias")};
    }

    // [a; b] -> [b; a] along dim 0 (the original (shift, scale) order to diffusers' (scale, shift)).
    at::Tensor swapped(const std::string& name) const {
        const at::Tensor t = raw(name);
        const int64_t half = t.size(0) / 2;
        return at::cat({t.narrow(0, half, half), t.narrow(0, 0, half)}, 0).contiguous();
    }

private:
    const TensorStore& m_store;
    const MMDiTConfig& m_config;
    MMDiTLayout m_layout;
    at::ScalarType m_dtype;
    at::Device m_device;
    std::map<std::string, std::vector<int64_t>> m_shapes;
    mutable std::map<std::string, at::Tensor> m_fused;
};

void checkKeys(const TensorStore& view, const MMDiTConfig& config, MMDiTLayout layout, bool configFromFile) {
    std::set<std::string> expected;
    for (const auto& [name, shape] : mmditParameters(config, layout)) expected.insert(name);
    std::vector<std::string> missing, unexpected;
    const auto names = view.names();
    const std::set<std::string> present(names.begin(), names.end());
    for (const auto& n : expected)
        if (!present.count(n)) missing.push_back(n);
    for (const auto& n : names)
        if (!expected.count(n)) unexpected.push_back(n);
    if (missing.empty() && unexpected.empty()) return;
    std::string msg = fmt::format("{}: the tensors do not match an SD3 transformer ({} layout; {}{})",
                                  view.describe(), mmditLayoutName(layout), config.describe(),
                                  configFromFile ? ", from its config.json" : ", inferred from the weights");
    if (!missing.empty()) msg += fmt::format("; {} missing: {}", missing.size(), listSome(missing));
    if (!unexpected.empty())
        msg += fmt::format("; {} unexpected: {}", unexpected.size(), listSome(unexpected));
    msg += ". Is the file complete, and does its config.json belong to it?";
    throw Error(ErrorKind::BadInput, msg);
}

// The file mappings of this process (from /proc/self/maps): [start, end) and the mapped file.
struct FileMapping {
    std::uintptr_t start = 0, end = 0;
    std::string path;
};

std::vector<FileMapping> fileMappings() {
    std::vector<FileMapping> out;
    std::ifstream maps("/proc/self/maps");
    std::string line;
    while (std::getline(maps, line)) {
        std::istringstream in(line);
        std::string range, perms, offset, dev, inode, path;
        in >> range >> perms >> offset >> dev >> inode;
        std::getline(in >> std::ws, path);
        if (path.empty() || path.front() != '/') continue;
        const auto dash = range.find('-');
        if (dash == std::string::npos) continue;
        out.push_back({std::stoull(range.substr(0, dash), nullptr, 16),
                       std::stoull(range.substr(dash + 1), nullptr, 16), path});
    }
    return out;
}

// Drops the resident pages of a weight that was used straight from a checkpoint's mapping (the pages
// of `t` inside a mapping of one of `files`), once the model holds its own packed copy. The mapping is
// private and never written, so anything that reads these pages again gets the file's bytes back.
void releaseMappedPages(const at::Tensor& t, const std::vector<FileMapping>& maps,
                        const std::set<std::string>& files) {
    if (!t.defined() || !t.device().is_cpu() || !t.is_contiguous()) return;
    const auto begin = reinterpret_cast<std::uintptr_t>(t.data_ptr());
    const auto end = begin + static_cast<std::uintptr_t>(t.numel() * t.element_size());
    for (const auto& m : maps) {
        if (begin < m.start || end > m.end || !files.count(m.path)) continue;
        const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
        const std::uintptr_t first = (begin + page - 1) / page * page, last = end / page * page;
        if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
        return;
    }
}

}  // namespace

ParameterList MMDiT::expectedParameters(const MMDiTConfig& config, MMDiTLayout layout) {
    return mmditParameters(config, layout);
}

std::unique_ptr<MMDiT> MMDiT::load(const TensorStore& weights, at::ScalarType dtype, at::Device device,
                                   const MMDiTLoadOptions& options) {
    if (dtype != at::kFloat && dtype != at::kBFloat16 && dtype != at::kHalf && dtype != at::kDouble)
        throwBadInput("MMDiT: dtype {} is not a floating type the transformer can run in",
                      c10::toString(dtype));
    if (dtype == at::kHalf && device.is_cpu())
        throwUnsupported("MMDiT: fp16 has no CPU kernels in libtorch 1.13; use bf16 or fp32 on the CPU");
    const TensorStore view = transformerView(weights);
    const MMDiTLayout layout = MMDiTConfig::detectLayout(view);
    MMDiTConfig config;
    bool fromFile = false;
    if (options.config) {
        config = *options.config;
        config.validate("the given transformer config");
        fromFile = true;
    } else {
        const auto files = view.files();
        const auto json =
            files.empty() ? std::filesystem::path() : files.front().parent_path() / "config.json";
        if (layout == MMDiTLayout::Diffusers && !json.empty() && std::filesystem::exists(json)) {
            config = MMDiTConfig::fromJsonFile(json);
            fromFile = true;
        } else {
            config = MMDiTConfig::infer(view);
        }
    }
    checkKeys(view, config, layout, fromFile);

    auto model = std::unique_ptr<MMDiT>(new MMDiT());
    model->m_config = config;
    model->m_layout = layout;
    model->m_dtype = dtype;
    model->m_device = device;
    const bool onednnOk = device.is_cpu() && dnnl_backend::usable(dtype);
    model->m_matmul = options.matmul.value_or(onednnOk ? MatmulBackend::OneDnn : MatmulBackend::Aten);
    if (model->m_matmul == MatmulBackend::OneDnn && !onednnOk)
        throwUnsupported("MMDiT: the oneDNN backend runs fp32 / bf16 on the CPU{}",
                         dnnl_backend::compiledIn() ? "" : " and this build has no oneDNN");
    model->m_attention = options.attention;
    model->m_fastKernels = model->m_matmul == MatmulBackend::OneDnn;
    model->build(view);
    model->indexLinears();
    if (options.packWeights && model->m_matmul == MatmulBackend::OneDnn) model->packLinears(view);
    return model;
}

void MMDiT::build(const TensorStore& view) {
    const MMDiTConfig& c = m_config;
    const WeightReader r(view, c, m_layout, m_dtype, m_device);
    const bool d = m_layout == MMDiTLayout::Diffusers;
    const int64_t H = c.hidden(), P = c.posEmbedMaxSize;
    auto lin = [&](const std::string& diffusersName, const std::string& fileName) {
        const std::string n = d ? diffusersName : fileName;
        return Linear(diffusersName, r.raw(n + ".weight"), r.raw(n + ".bias"), m_matmul);
    };
    auto norm = [&](const std::string& diffusersName, const std::string& fileName) {
        return r.raw((d ? diffusersName : fileName) + ".weight", at::kFloat);
    };

    m_posEmbed = r.raw(d ? "pos_embed.pos_embed" : "pos_embed").view({P, P, H});
    {
        const at::Tensor w = r.raw(d ? "pos_embed.proj.weight" : "x_embedder.proj.weight");
        m_patch = Linear("pos_embed.proj", w.reshape({H, -1}),
                         r.raw(d ? "pos_embed.proj.bias" : "x_embedder.proj.bias"), m_matmul);
    }
    m_timeLinear1 = lin("time_text_embed.timestep_embedder.linear_1", "t_embedder.mlp.0");
    m_timeLinear2 = lin("time_text_embed.timestep_embedder.linear_2", "t_embedder.mlp.2");
    m_textLinear1 = lin("time_text_embed.text_embedder.linear_1", "y_embedder.mlp.0");
    m_textLinear2 = lin("time_text_embed.text_embedder.linear_2", "y_embedder.mlp.2");
    m_contextEmbedder = lin("context_embedder", "context_embedder");

    m_blocks.resize(static_cast<std::size_t>(c.numLayers));
    for (int i = 0; i < c.numLayers; ++i) {
        Block& b = m_blocks[static_cast<std::size_t>(i)];
        const std::string dn = fmt::format("transformer_blocks.{}.", i);
        const std::string on = fmt::format("joint_blocks.{}.", i);
        b.dual = c.isDual(i);
        b.contextPreOnly = c.contextPreOnly(i);
        b.norm1 = lin(dn + "norm1.linear", on + "x_block.adaLN_modulation.1");
        if (b.contextPreOnly && !d) {
            b.norm1Context =
                Linear(dn + "norm1_context.linear", r.swapped(on + "context_block.adaLN_modulation.1.weight"),
                       r.swapped(on + "context_block.adaLN_modulation.1.bias"), m_matmul);
        } else {
            b.norm1Context = lin(dn + "norm1_context.linear", on + "context_block.adaLN_modulation.1");
        }
        auto attnLinear = [&](const std::string& diffusersModule, const char* fused, int part) {
            if (d) return lin(dn + diffusersModule, "");
            const auto [w, bias] = r.qkv(i, fused, part);
            return Linear(dn + diffusersModule, w, bias, m_matmul);
        };
        b.toQ = attnLinear("attn.to_q", "x_block.attn", 0);
        b.toK = attnLinear("attn.to_k", "x_block.attn", 1);
        b.toV = attnLinear("attn.to_v", "x_block.attn", 2);
        b.addQ = attnLinear("attn.add_q_proj", "context_block.attn", 0);
        b.addK = attnLinear("attn.add_k_proj", "context_block.attn", 1);
        b.addV = attnLinear("attn.add_v_proj", "context_block.attn", 2);
        b.toOut = lin(dn + "attn.to_out.0", on + "x_block.attn.proj");
        if (!b.contextPreOnly) b.toAddOut = lin(dn + "attn.to_add_out", on + "context_block.attn.proj");
        if (c.qkNorm) {
            b.normQ = norm(dn + "attn.norm_q", on + "x_block.attn.ln_q");
            b.normK = norm(dn + "attn.norm_k", on + "x_block.attn.ln_k");
            b.normAddedQ = norm(dn + "attn.norm_added_q", on + "context_block.attn.ln_q");
            b.normAddedK = norm(dn + "attn.norm_added_k", on + "context_block.attn.ln_k");
        }
        if (b.dual) {
            b.attn2Q = attnLinear("attn2.to_q", "x_block.attn2", 0);
            b.attn2K = attnLinear("attn2.to_k", "x_block.attn2", 1);
            b.attn2V = attnLinear("attn2.to_v", "x_block.attn2", 2);
            b.attn2Out = lin(dn + "attn2.to_out.0", on + "x_block.attn2.proj");
            if (c.qkNorm) {
                b.attn2NormQ = norm(dn + "attn2.norm_q", on + "x_block.attn2.ln_q");
                b.attn2NormK = norm(dn + "attn2.norm_k", on + "x_block.attn2.ln_k");
            }
        }
        b.ff1 = lin(dn + "ff.net.0.proj", on + "x_block.mlp.fc1");
        b.ff2 = lin(dn + "ff.net.2", on + "x_block.mlp.fc2");
        if (!b.contextPreOnly) {
            b.ffContext1 = lin(dn + "ff_context.net.0.proj", on + "context_block.mlp.fc1");
            b.ffContext2 = lin(dn + "ff_context.net.2", on + "context_block.mlp.fc2");
        }
    }
    if (d) {
        m_normOut = lin("norm_out.linear", "");
    } else {
        m_normOut = Linear("norm_out.linear", r.swapped("final_layer.adaLN_modulation.1.weight"),
                           r.swapped("final_layer.adaLN_modulation.1.bias"), m_matmul);
    }
    m_projOut = lin("proj_out", "final_layer.linear");
}

void MMDiT::indexLinears() {
    m_linears.clear();
    auto add = [&](Linear& l) {
        if (l.defined()) m_linears[l.name()] = &l;
    };
    add(m_patch);
    add(m_timeLinear1);
    add(m_timeLinear2);
    add(m_textLinear1);
    add(m_textLinear2);
    add(m_contextEmbedder);
    for (Block& b : m_blocks) {
        for (Linear* l : {&b.norm1, &b.norm1Context, &b.toQ, &b.toK, &b.toV, &b.addQ, &b.addK, &b.addV,
                          &b.toOut, &b.toAddOut, &b.attn2Q, &b.attn2K, &b.attn2V, &b.attn2Out, &b.ff1, &b.ff2,
                          &b.ffContext1, &b.ffContext2})
            add(*l);
    }
    add(m_normOut);
    add(m_projOut);
}

void MMDiT::packLinears(const TensorStore& weights) {
    std::set<std::string> files;
    for (const auto& f : weights.files()) {
        std::error_code ec;
        const auto canonical = std::filesystem::canonical(f, ec);
        files.insert(ec ? f.string() : canonical.string());
    }
    const std::vector<FileMapping> maps = files.empty() ? std::vector<FileMapping>() : fileMappings();
    for (auto& [name, l] : m_linears) {
        const at::Tensor source = l->weight();
        if (l->pack() && !files.empty()) releaseMappedPages(source, maps, files);
    }
}

std::vector<const void*> MMDiT::weightStorage() const {
    std::vector<const void*> out;
    for (const auto& [name, l] : m_linears) out.push_back(l->weightStorage());
    return out;
}

std::vector<std::pair<std::string, at::Tensor>> MMDiT::namedParameters() const {
    std::vector<std::pair<std::string, at::Tensor>> out;
    const int64_t H = m_config.hidden(), P = m_config.posEmbedMaxSize;
    out.emplace_back("pos_embed.pos_embed", m_posEmbed.view({1, P * P, H}));
    for (const auto& [name, l] : m_linears) {
        at::Tensor w = l->weight();
        if (name == "pos_embed.proj")
            w = w.view({H, m_config.inChannels, m_config.patchSize, m_config.patchSize});
        out.emplace_back(name + ".weight", w);
        if (l->bias().defined()) out.emplace_back(name + ".bias", l->bias());
    }
    for (std::size_t i = 0; i < m_blocks.size(); ++i) {
        const Block& b = m_blocks[i];
        const std::string dn = fmt::format("transformer_blocks.{}.", i);
        auto add = [&](const char* n, const at::Tensor& t) {
            if (t.defined()) out.emplace_back(dn + n, t);
        };
        add("attn.norm_q.weight", b.normQ);
        add("attn.norm_k.weight", b.normK);
        add("attn.norm_added_q.weight", b.normAddedQ);
        add("attn.norm_added_k.weight", b.normAddedK);
        add("attn2.norm_q.weight", b.attn2NormQ);
        add("attn2.norm_k.weight", b.attn2NormK);
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    return out;
}

std::uint64_t MMDiT::parameterBytes() const {
    auto bytes = [](const at::Tensor& t) {
        return t.defined() ? static_cast<std::uint64_t>(t.numel() * t.element_size()) : 0;
    };
    std::uint64_t total = bytes(m_posEmbed);
    for (const auto& [name, l] : m_linears)
        total +=
            static_cast<std::uint64_t>(l->inFeatures() * l->outFeatures()) * c10::elementSize(l->dtype()) +
            bytes(l->bias());
    for (const Block& b : m_blocks)
        for (const at::Tensor* t :
             {&b.normQ, &b.normK, &b.normAddedQ, &b.normAddedK, &b.attn2NormQ, &b.attn2NormK})
            total += bytes(*t);
    return total;
}

namespace {
// Whether an adapter changes the AdaLN modulations (then prepared conditioning no longer holds).
bool touchesConditioning(const LoraAdapter* a) {
    if (!a) return false;
    for (const auto& [module, m] : a->modules())
        if (module.find("norm1") != std::string::npos || module.find("norm_out") != std::string::npos ||
            module.find("time_text_embed") != std::string::npos)
            return true;
    return false;
}
}  // namespace

void MMDiT::setAdapter(std::shared_ptr<const LoraAdapter> adapter) {
    if (touchesConditioning(adapter.get()) || touchesConditioning(m_adapter.get())) m_conditioning.reset();
    if (!adapter) {
        for (auto& [name, l] : m_linears) l->setLora(nullptr);
        m_adapter.reset();
        return;
    }
    if (adapter != m_cachedAdapter) {
        adapter->validateAgainst(m_config);
        std::map<std::string, std::shared_ptr<const LoraLayer>> layers;
        for (const auto& [module, m] : adapter->modules()) {
            auto layer = std::make_shared<LoraLayer>();
            layer->down = m.down.to(m_device, m_dtype).contiguous();
            layer->up = m.up.to(m_device, m_dtype).contiguous();
            layer->scale = m.scale;
            layers.emplace(module, std::move(layer));
        }
        for (const auto& [module, layer] : layers)
            if (!m_linears.count(module))
                throwInternal("MMDiT: LoRA module {} passed validation but has no layer", module);
        m_cachedLayers = std::move(layers);
        m_cachedAdapter = adapter;
    }
    for (auto& [name, l] : m_linears) {
        const auto it = m_cachedLayers.find(name);
        l->setLora(it == m_cachedLayers.end() ? nullptr : it->second);
    }
    m_adapter = std::move(adapter);
}

at::Tensor MMDiT::lnModulate(const at::Tensor& x, const at::Tensor& shift, const at::Tensor& scale,
                             const at::Tensor& shift2, const at::Tensor& scale2, at::Tensor* out2) const {
    if (m_fastKernels) {
        at::Tensor out = at::empty(x.sizes(), x.options().dtype(m_dtype));
        if (out2) *out2 = at::empty(x.sizes(), x.options().dtype(m_dtype));
        kernels::layerNormModulate(x, shift, scale, out, kNormEps, out2 ? shift2 : at::Tensor(),
                                   out2 ? scale2 : at::Tensor(), out2 ? *out2 : at::Tensor());
        return out;
    }
    // diffusers: norm(x) * (1 + scale[:, None]) + shift[:, None], LayerNorm without affine, eps 1e-6
    profile::Scope scope("layernorm + modulate (aten)");
    const at::Tensor n = at::layer_norm(x, {x.size(-1)}, {}, {}, kNormEps);
    if (out2) *out2 = (n * (1 + scale2.unsqueeze(1)) + shift2.unsqueeze(1)).to(m_dtype);
    return (n * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)).to(m_dtype);
}

void MMDiT::rmsHeads(const at::Tensor& rows, const at::Tensor& weight) const {
    if (!weight.defined()) return;
    const int64_t D = m_config.headDim;
    if (m_fastKernels) {
        kernels::rmsNormHeads(rows, weight, D, kNormEps);
        return;
    }
    profile::Scope scope("qk rmsnorm (aten)");
    // diffusers RMSNorm: fp32 variance, x * rsqrt(var + eps), cast to the weight dtype, * weight
    const at::Tensor heads = rows.view({rows.size(0), -1, D});
    const at::Tensor var = heads.to(at::kFloat).pow(2).mean(-1, true);
    at::Tensor y = heads * at::rsqrt(var + kNormEps);
    y = y.to(m_dtype) * weight.to(m_dtype);
    rows.copy_(y.view(rows.sizes()));
}

at::Tensor MMDiT::attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) const {
    // q, k, v [B, T, hidden] -> [B, T, hidden]; heads split as diffusers does (view [B, T, heads, D]).
    const int64_t B = q.size(0), D = m_config.headDim, heads = m_config.numHeads;
    auto split = [&](const at::Tensor& t) { return t.view({B, t.size(1), heads, D}).permute({0, 2, 1, 3}); };
    at::Tensor out = at::empty({B, q.size(1), q.size(2)}, q.options());
    AttentionOptions o;
    o.out = split(out);
    o.backend = m_attention;
    scaledDotProductAttention(split(q), split(k), split(v), o);
    return out;
}

void MMDiT::runBlock(const Block& blk, at::Tensor& x, at::Tensor& ctx, const at::Tensor& mods,
                     const at::Tensor& cmods) {
    const int64_t B = x.size(0), N = x.size(1), L = ctx.size(1), H = m_config.hidden(), T = N + L;
    const auto m =
        mods.chunk(blk.dual ? 9 : 6, 1);  // shift, scale, gate (msa), shift, scale, gate (mlp), (msa2)
    const auto cm = cmods.chunk(blk.contextPreOnly ? 2 : 6, 1);

    // AdaLN-modulated inputs of the attentions.
    at::Tensor xa2;
    const at::Tensor xa = blk.dual ? lnModulate(x, m[0], m[1], m[6], m[7], &xa2) : lnModulate(x, m[0], m[1]);
    // context_pre_only: AdaLayerNormContinuous, chunks (scale, shift)
    const at::Tensor ca = blk.contextPreOnly ? lnModulate(ctx, cm[1], cm[0]) : lnModulate(ctx, cm[0], cm[1]);

    // Joint q / k / v [B, N + L, hidden]: image tokens first, then context (diffusers' order). The last
    // (context_pre_only) block discards the context's attention output, so its context queries are not
    // computed at all: image queries attend to all keys, exactly as in the reference.
    const auto opts = x.options().dtype(m_dtype);
    const int64_t Tq = blk.contextPreOnly ? N : T;
    at::Tensor q = at::empty({B, Tq, H}, opts), k = at::empty({B, T, H}, opts),
               v = at::empty({B, T, H}, opts);
    for (int64_t b = 0; b < B; ++b) {
        blk.toQ.forwardInto(xa[b], q[b].narrow(0, 0, N));
        blk.toK.forwardInto(xa[b], k[b].narrow(0, 0, N));
        blk.toV.forwardInto(xa[b], v[b].narrow(0, 0, N));
        if (!blk.contextPreOnly) blk.addQ.forwardInto(ca[b], q[b].narrow(0, N, L));
        blk.addK.forwardInto(ca[b], k[b].narrow(0, N, L));
        blk.addV.forwardInto(ca[b], v[b].narrow(0, N, L));
        rmsHeads(q[b].narrow(0, 0, N), blk.normQ);
        rmsHeads(k[b].narrow(0, 0, N), blk.normK);
        if (!blk.contextPreOnly) rmsHeads(q[b].narrow(0, N, L), blk.normAddedQ);
        rmsHeads(k[b].narrow(0, N, L), blk.normAddedK);
    }
    const at::Tensor o = attention(q, k, v);
    for (int64_t b = 0; b < B; ++b) {
        blk.toOut.addGatedTo(o[b].narrow(0, 0, N), m[2][b], x[b]);
        if (!blk.contextPreOnly) blk.toAddOut.addGatedTo(o[b].narrow(0, N, L), cm[2][b], ctx[b]);
    }

    if (blk.dual) {
        // MMDiT-X: a second attention over the image tokens only, fed by the same LayerNorm.
        const at::Tensor q2 = blk.attn2Q.forward(xa2), k2 = blk.attn2K.forward(xa2),
                         v2 = blk.attn2V.forward(xa2);
        rmsHeads(q2.view({B * N, H}), blk.attn2NormQ);
        rmsHeads(k2.view({B * N, H}), blk.attn2NormK);
        const at::Tensor o2 = attention(q2, k2, v2);
        for (int64_t b = 0; b < B; ++b) blk.attn2Out.addGatedTo(o2[b], m[8][b], x[b]);
    }

    // Feed-forward of the image stream: gelu_tanh MLP, gated residual.
    {
        const at::Tensor h = blk.ff1.forwardGelu(lnModulate(x, m[3], m[4]));
        for (int64_t b = 0; b < B; ++b) blk.ff2.addGatedTo(h[b], m[5][b], x[b]);
    }
    if (!blk.contextPreOnly) {
        const at::Tensor h = blk.ffContext1.forwardGelu(lnModulate(ctx, cm[3], cm[4]));
        for (int64_t b = 0; b < B; ++b) blk.ffContext2.addGatedTo(h[b], cm[5][b], ctx[b]);
    }
}

at::Tensor MMDiT::conditioning(const at::Tensor& timesteps, const at::Tensor& pooled) const {
    // Sinusoidal timestep embedding (256 channels, cos first, fp32, diffusers' op order) -> MLP, plus the
    // pooled-text MLP; their sum conditions every AdaLN through SiLU.
    const auto f32 = at::TensorOptions().device(m_device).dtype(at::kFloat);
    const at::Tensor t = timesteps.to(m_device, at::kFloat);
    const int64_t half = 128;
    at::Tensor exponent = at::arange(0, half, f32) * (-std::log(10000.0));
    exponent = exponent / static_cast<double>(half);
    const at::Tensor freqs = t.unsqueeze(1) * at::exp(exponent).unsqueeze(0);
    const at::Tensor tproj = at::cat({at::cos(freqs), at::sin(freqs)}, -1).to(m_dtype);
    const at::Tensor te = m_timeLinear2.forward(at::silu(m_timeLinear1.forward(tproj)));
    const at::Tensor pe =
        m_textLinear2.forward(at::silu(m_textLinear1.forward(pooled.to(m_device, m_dtype))));
    return at::silu(te + pe);
}

MMDiT::Modulation MMDiT::modulation(const at::Tensor& siluTemb) const {
    Modulation m;
    m.x.reserve(m_blocks.size());
    m.context.reserve(m_blocks.size());
    for (const Block& b : m_blocks) {
        m.x.push_back(b.norm1.forward(siluTemb).to(at::kFloat));
        m.context.push_back(b.norm1Context.forward(siluTemb).to(at::kFloat));
    }
    m.final = m_normOut.forward(siluTemb).to(at::kFloat);
    return m;
}

void MMDiT::prepareConditioning(const at::Tensor& timesteps, const at::Tensor& pooled) {
    if (timesteps.dim() != 1 || timesteps.numel() == 0)
        throwBadInput("MMDiT::prepareConditioning: timesteps must be [S]; got {}",
                      shapeToString(timesteps.sizes()));
    if (pooled.dim() != 2 || pooled.size(1) != m_config.pooledProjectionDim || pooled.size(0) == 0)
        throwBadInput("MMDiT::prepareConditioning: pooled must be [P, {}]; got {}",
                      m_config.pooledProjectionDim, shapeToString(pooled.sizes()));
    const int64_t S = timesteps.numel(), P = pooled.size(0);
    auto cache = std::make_unique<ConditioningCache>();
    cache->timesteps = timesteps.to(at::kCPU, at::kFloat).repeat_interleave(P).contiguous();
    cache->pooled = pooled.to(at::kCPU, at::kFloat).repeat({S, 1}).contiguous();
    // One pass over the AdaLN weights for all S·P rows.
    cache->modulation = modulation(conditioning(cache->timesteps, cache->pooled));
    m_conditioning = std::move(cache);
}

std::optional<MMDiT::Modulation> MMDiT::cachedModulation(const at::Tensor& timesteps,
                                                         const at::Tensor& pooled) const {
    if (!m_conditioning) return std::nullopt;
    const ConditioningCache& c = *m_conditioning;
    const at::Tensor t = timesteps.to(at::kCPU, at::kFloat).contiguous();
    const at::Tensor p = pooled.to(at::kCPU, at::kFloat).contiguous();
    const float* tc = c.timesteps.data_ptr<float>();
    std::vector<int64_t> rows;
    for (int64_t b = 0; b < t.size(0); ++b) {
        int64_t found = -1;
        for (int64_t r = 0; r < c.timesteps.size(0) && found < 0; ++r)
            if (tc[r] == t.data_ptr<float>()[b] && at::equal(c.pooled[r], p[b])) found = r;
        if (found < 0) return std::nullopt;
        rows.push_back(found);
    }
    const at::Tensor index = at::tensor(rows, at::kLong).to(m_device);
    Modulation m;
    for (const auto& x : c.modulation.x) m.x.push_back(x.index_select(0, index));
    for (const auto& x : c.modulation.context) m.context.push_back(x.index_select(0, index));
    m.final = c.modulation.final.index_select(0, index);
    return m;
}

at::Tensor MMDiT::forward(const at::Tensor& xIn, const at::Tensor& timestepIn, const at::Tensor& contextIn,
                          const at::Tensor& pooledIn, const MMDiTForwardOptions& options) {
    const MMDiTConfig& c = m_config;
    const int64_t p = c.patchSize, H = c.hidden();
    // oneDNN sizes its thread team from this thread's OpenMP setting, which libtorch sets lazily per
    // thread; the engine's worker thread may not have run an ATen parallel op yet.
    at::init_num_threads();
    if (xIn.dim() != 4 || xIn.size(1) != c.inChannels || !at::isFloatingType(xIn.scalar_type()))
        throwBadInput("MMDiT: the latent must be a float tensor [B, {}, H, W]; got {} {}", c.inChannels,
                      c10::toString(xIn.scalar_type()), shapeToString(xIn.sizes()));
    const int64_t B = xIn.size(0), h = xIn.size(2), w = xIn.size(3);
    if (B == 0 || h == 0 || w == 0 || h % p != 0 || w % p != 0)
        throwBadInput(
            "MMDiT: latent height and width must be positive multiples of the patch size {}; got {}x{}", p, h,
            w);
    if (h / p > c.posEmbedMaxSize || w / p > c.posEmbedMaxSize)
        throwBadInput(
            "MMDiT: a {}x{} latent is larger than this model's positional table covers ({}x{} latent "
            "pixels, pos_embed_max_size {})",
            h, w, c.maxLatentSide(), c.maxLatentSide(), c.posEmbedMaxSize);
    if (timestepIn.dim() > 1 || (timestepIn.numel() != B && timestepIn.numel() != 1))
        throwBadInput("MMDiT: timestep must be [B] = [{}] (or one value); got {}", B,
                      shapeToString(timestepIn.sizes()));
    if (contextIn.dim() != 3 || contextIn.size(0) != B || contextIn.size(2) != c.jointAttentionDim)
        throwBadInput("MMDiT: context must be [B, L, {}] with B = {}; got {}", c.jointAttentionDim, B,
                      shapeToString(contextIn.sizes()));
    if (pooledIn.dim() != 2 || pooledIn.size(0) != B || pooledIn.size(1) != c.pooledProjectionDim)
        throwBadInput("MMDiT: pooled must be [B, {}] with B = {}; got {}", c.pooledProjectionDim, B,
                      shapeToString(pooledIn.sizes()));
    for (int s : options.skipLayers)
        if (s < 0 || s >= c.numLayers)
            throwBadInput("MMDiT: skip layer {} is outside 0..{}", s, c.numLayers - 1);

    const auto f32 = at::TensorOptions().device(m_device).dtype(at::kFloat);
    const int64_t hp = h / p, wp = w / p, N = hp * wp;

    // Patch embedding: the conv (kernel = stride = patch) as a matmul over [c][ph][pw] patches, tokens in
    // row-major order, plus the centre crop of the stored pos-embed table.
    at::Tensor x;
    {
        const at::Tensor patches = xIn.to(m_device, m_dtype)
                                       .view({B, c.inChannels, hp, p, wp, p})
                                       .permute({0, 2, 4, 1, 3, 5})
                                       .reshape({B * N, c.inChannels * p * p});
        x = at::empty({B, N, H}, f32);
        m_patch.forwardInto(patches, x.view({B * N, H}));
        const int64_t top = (c.posEmbedMaxSize - hp) / 2, left = (c.posEmbedMaxSize - wp) / 2;
        const at::Tensor pos = m_posEmbed.narrow(0, top, hp).narrow(1, left, wp).reshape({1, N, H});
        x.add_(pos);
    }

    // Conditioning: the AdaLN modulations of every block, prepared or computed now.
    const at::Tensor timesteps = timestepIn.to(at::kFloat).reshape({-1}).expand({B});
    std::optional<Modulation> prepared = cachedModulation(timesteps, pooledIn);
    const Modulation mod = prepared ? std::move(*prepared) : modulation(conditioning(timesteps, pooledIn));

    at::Tensor ctx = at::empty({B, contextIn.size(1), H}, f32);
    m_contextEmbedder.forwardInto(contextIn.to(m_device, m_dtype).reshape({-1, c.jointAttentionDim}),
                                  ctx.view({-1, H}));

    const std::set<int> skip(options.skipLayers.begin(), options.skipLayers.end());
    for (int i = 0; i < c.numLayers; ++i) {
        if (skip.count(i)) continue;
        const auto k = static_cast<std::size_t>(i);
        runBlock(m_blocks[k], x, ctx, mod.x[k], mod.context[k]);
    }

    // Final layer: AdaLayerNormContinuous (scale, shift) -> Linear -> unpatchify (channel-last patches).
    const auto fin = mod.final.chunk(2, 1);
    const at::Tensor normed = lnModulate(x, fin[1], fin[0]);
    at::Tensor outTokens = at::empty({B * N, m_projOut.outFeatures()}, f32);
    m_projOut.forwardInto(normed.view({B * N, H}), outTokens);
    return outTokens.view({B, hp, wp, p, p, c.outChannels})
        .permute({0, 5, 1, 3, 2, 4})
        .reshape({B, c.outChannels, h, w});
}

}  // namespace swd
