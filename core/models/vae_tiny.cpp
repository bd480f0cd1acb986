#include "models/vae_tiny.h"

#include "models/vae_ops.h"
#include "util/error.h"

#include <c10/core/InferenceMode.h>
#include <fmt/format.h>

#include <array>
#include <map>
#include <set>

namespace swd {

namespace {

// Module indices of the nn.Sequential in the taesd file (index 0 is the tanh clamp, which has no weights).
constexpr int kConvIn = 1;
constexpr int kBlocks[] = {3, 4, 5, 8, 9, 10, 13, 14, 15, 18};
constexpr int kUpConvs[] = {7, 12, 17};  // each right after a nearest x2 upsample
constexpr int kConvOut = 19;

std::string joinLimited(const std::vector<std::string>& items, std::size_t limit = 24) {
    std::string out;
    for (std::size_t i = 0; i < items.size() && i < limit; ++i) out += (i ? ", " : "") + items[i];
    if (items.size() > limit) out += fmt::format(", ... and {} more", items.size() - limit);
    return out;
}

using Conv = ConvLayer;  // 3x3, padding 1

}  // namespace

std::vector<std::pair<std::string, std::vector<int64_t>>> taesdParameterShapes(int latentChannels,
                                                                               int channels) {
    std::vector<std::pair<std::string, std::vector<int64_t>>> out;
    const int64_t c = channels;
    auto conv = [&](int index, const std::string& sub, int64_t cout, int64_t cin, bool bias) {
        const std::string base = std::to_string(index) + sub;
        out.push_back({base + ".weight", {cout, cin, 3, 3}});
        if (bias) out.push_back({base + ".bias", {cout}});
    };
    conv(kConvIn, "", c, latentChannels, true);
    for (int b : kBlocks)
        for (const char* sub : {".conv.0", ".conv.2", ".conv.4"}) conv(b, sub, c, c, true);
    for (int u : kUpConvs) conv(u, "", c, c, false);
    conv(kConvOut, "", 3, c, true);
    return out;
}

std::string taesdDiffusersName(const std::string& taesdName) {
    const auto dot = taesdName.find('.');
    const int index = std::stoi(taesdName.substr(0, dot));
    return "decoder.layers." + std::to_string(index - 1) + taesdName.substr(dot);
}

struct TaesdDecoder::Weights {
    Conv convIn, convOut;
    std::vector<std::array<Conv, 3>> blocks;
    std::vector<FusedUpsampleConv> upConvs;
};

TaesdDecoder::TaesdDecoder() = default;
TaesdDecoder::~TaesdDecoder() = default;

std::unique_ptr<TaesdDecoder> TaesdDecoder::load(const TensorStore& store, at::ScalarType dtype,
                                                 at::Device device) {
    if (dtype != at::kFloat && dtype != at::kBFloat16 && dtype != at::kHalf)
        throwBadInput("{}: TAESD compute dtype {} is not supported (use float32 or bfloat16)",
                      store.describe(), c10::toString(dtype));
    if (dtype == at::kHalf && device.is_cpu())
        throwUnsupported("{}: float16 has no CPU kernels in this libtorch; use bfloat16 or float32",
                         store.describe());
    TensorStore weights = store;
    TaesdLayout layout;
    if (store.has("decoder.layers.0.weight")) {
        layout = TaesdLayout::Diffusers;
    } else if (store.has("1.weight")) {
        layout = TaesdLayout::TaesdFile;
    } else if (store.has("taesd_decoder.1.weight")) {
        layout = TaesdLayout::TaesdFile;
        weights = store.withPrefix("taesd_decoder.");
    } else {
        throwBadInput(
            "{}: is not a TAESD decoder (looked for '1.weight' as in taesd3_decoder.safetensors or "
            "taesd(xl)_decoder.safetensors, and "
            "'decoder.layers.0.weight' as in an AutoencoderTiny diffusion_pytorch_model.safetensors)",
            store.describe());
    }
    auto nameOf = [&](const std::string& taesdName) {
        return layout == TaesdLayout::Diffusers ? taesdDiffusersName(taesdName) : taesdName;
    };
    const std::string convInName = nameOf("1.weight");
    const auto& convInShape = weights.info(convInName).shape;
    if (convInShape.size() != 4 || convInShape[2] != 3 || convInShape[3] != 3)
        throwBadInput("{}: tensor '{}' has shape {}, expected a 3x3 convolution [64, latent channels, 3, 3]",
                      weights.describe(), convInName, shapeToString(convInShape));
    const int latentChannels = static_cast<int>(convInShape[1]);
    const int channels = static_cast<int>(convInShape[0]);

    std::vector<std::string> missing, wrong;
    std::set<std::string> used;
    std::map<std::string, at::Tensor> raw;
    for (const auto& [taesdName, shape] : taesdParameterShapes(latentChannels, channels)) {
        const std::string name = nameOf(taesdName);
        used.insert(name);
        if (!weights.has(name)) {
            missing.push_back(name);
            continue;
        }
        const auto& found = weights.info(name).shape;
        if (found != shape) {
            wrong.push_back(
                fmt::format("{} {} (expected {})", name, shapeToString(found), shapeToString(shape)));
            continue;
        }
        raw[taesdName] = weights.get(name);
    }
    std::vector<std::string> unexpected;
    for (const auto& name : weights.names()) {
        if (used.count(name)) continue;
        if (layout == TaesdLayout::Diffusers && name.compare(0, 15, "decoder.layers.") != 0)
            continue;  // encoder
        unexpected.push_back(name);
    }
    if (!missing.empty() || !wrong.empty() || !unexpected.empty()) {
        std::string msg = fmt::format(
            "{}: the TAESD decoder weights ({} names, {} latent channels) do not fit the "
            "TAESD architecture:",
            weights.describe(), layout == TaesdLayout::Diffusers ? "AutoencoderTiny" : "taesd",
            latentChannels);
        if (!missing.empty())
            msg += fmt::format(" missing {} tensor(s): {};", missing.size(), joinLimited(missing));
        if (!wrong.empty()) msg += fmt::format(" wrong shape: {};", joinLimited(wrong));
        if (!unexpected.empty())
            msg += fmt::format(" unexpected {} tensor(s): {};", unexpected.size(), joinLimited(unexpected));
        msg +=
            " use taesd3_decoder.safetensors (SD3), taesd_decoder / taesdxl_decoder.safetensors (SD1.5 / "
            "SDXL) "
            "or the AutoencoderTiny files of madebyollin/taesd3, taesd or taesdxl";
        throw Error(ErrorKind::BadInput, msg);
    }

    auto prepare = [&](const std::string& taesdName) {
        const auto it = raw.find(taesdName);
        if (it == raw.end()) return at::Tensor();
        at::Tensor t = it->second.to(device, dtype);
        if (t.dim() == 4) t = t.contiguous(at::MemoryFormat::ChannelsLast);
        return t;
    };
    auto dec = std::unique_ptr<TaesdDecoder>(new TaesdDecoder());
    dec->m_latentChannels = latentChannels;
    dec->m_layout = layout;
    dec->m_dtype = dtype;
    dec->m_device = device;
    dec->m_origin = weights.describe();
    dec->m_w = std::make_unique<Weights>();
    Weights& w = *dec->m_w;
    w.convIn = ConvLayer(prepare("1.weight"), prepare("1.bias"), 1, 1);
    w.convOut = ConvLayer(prepare("19.weight"), prepare("19.bias"), 1, 1);
    for (int b : kBlocks) {
        std::array<Conv, 3> block;
        for (int k = 0; k < 3; ++k) {
            const std::string base = fmt::format("{}.conv.{}", b, 2 * k);
            block[static_cast<std::size_t>(k)] =
                ConvLayer(prepare(base + ".weight"), prepare(base + ".bias"), 1, 1);
        }
        w.blocks.push_back(block);
    }
    for (int u : kUpConvs)
        w.upConvs.push_back(
            fuseUpsampleConv(raw.at(std::to_string(u) + ".weight"), at::Tensor(), dtype, device, true));
    return dec;
}

at::Tensor TaesdDecoder::decodeToImage(const at::Tensor& latent) {
    if (!latent.defined() || latent.dim() != 4 || latent.size(1) != m_latentChannels || latent.size(2) < 1 ||
        latent.size(3) < 1)
        throwBadInput("TAESD decode ({}): expected a latent [batch, {}, height, width], got {}", m_origin,
                      m_latentChannels, latent.defined() ? shapeToString(latent.sizes()) : "nothing");
    if (!at::isFloatingType(latent.scalar_type()))
        throwBadInput("TAESD decode ({}): the latent must be floating point, got {}", m_origin,
                      c10::toString(latent.scalar_type()));
    c10::InferenceMode guard;
    const Weights& w = *m_w;
    // The clamp: tanh(x / 3)·3, in fp32 before the cast.
    at::Tensor x = (at::tanh(latent.to(m_device, at::kFloat) / 3.0) * 3.0).to(m_dtype);
    x = x.contiguous(at::MemoryFormat::ChannelsLast);
    x = w.convIn(x, {}, /*relu=*/true);
    std::size_t block = 0;
    auto runBlocks = [&](int count) {
        // ReLU(conv(ReLU(conv(ReLU(conv(x))))) + x), the ReLUs and the residual fused into the convolutions
        // (x is an intermediate of this pass, so the residual is added into it).
        for (int i = 0; i < count; ++i, ++block) {
            const auto& c = w.blocks[block];
            const at::Tensor h = c[1](c[0](x, {}, true), {}, true);
            x = c[2](h, x, true);
        }
    };
    for (int stage = 0; stage < 3; ++stage) {
        runBlocks(3);
        x = upsampleConv(x, w.upConvs[static_cast<std::size_t>(stage)], true);
    }
    runBlocks(1);
    x = w.convOut(x);
    return x.to(at::kFloat).clamp_(0.0, 1.0).contiguous();
}

}  // namespace swd
