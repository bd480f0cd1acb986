#include "families/sd/sd_family.h"

#include "catalog/model_set.h"
#include "families/sd/sd_conditioner.h"
#include "family/family_images.h"
#include "family/family_models.h"
#include "models/latent_preview.h"
#include "models/unet.h"
#include "models/vae.h"
#include "models/vae_tiny.h"
#include "sampling/ddpm.h"
#include "text/clip_text_model.h"
#include "text/clip_tokenizer.h"
#include "util/error.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>

namespace swd {

namespace {

bool hasConfigJson(const std::filesystem::path& path) {
    std::error_code ec;
    return std::filesystem::is_regular_file(path / "config.json", ec);
}

class SdModels final : public FamilyModels {
public:
    SdModels(const SdFamily& family, ModelSet models, FamilyLoadOptions options)
        : m_xl(family.isXl())
        , m_models(std::move(models))
        , m_options(std::move(options))
        , m_images(m_xl ? LatentRgbProjection::sdxl() : LatentRgbProjection::sd15()) {}

    bool load(const std::function<void(const std::string&)>& loading) override {
        c10::InferenceMode inference;
        LoadProgress progress(loading);
        if (!m_conditioner) {
            progress.stage("text encoders");
            loadConditioner();
        }
        if (!m_unet) {
            progress.stage("UNet");
            loadUnet();
        }
        if (!m_images.hasVae()) {
            progress.stage("VAE");
            loadVae();
        }
        m_images.loadTaesd(m_options.taesdPath, m_options.dtype, m_options.device, progress);
        return progress.any();
    }

    bool loaded() const override { return m_unet && m_images.hasVae() && m_conditioner; }

    Conditioning encode(const std::vector<std::string>& prompts, const Schedule& schedule) override {
        return conditioning(m_conditioner->encode(prompts), schedule);
    }

    // SDXL's pipeline (force_zeros_for_empty_prompt) takes "no negative prompt" as zero embeddings; an
    // empty negative prompt is that here (the SD1.5 pipeline encodes "").
    Conditioning encodeNegative(const std::vector<std::string>& prompts, const Schedule& schedule) override {
        const bool none =
            std::all_of(prompts.begin(), prompts.end(), [](const auto& p) { return p.empty(); });
        if (!none || !m_conditioner->forceZerosForEmptyPrompt()) return encode(prompts, schedule);
        const auto batch = static_cast<int64_t>(prompts.size());
        SdPromptEmbeds zeros{at::zeros({batch, ClipTokenizer::kMaxLength, m_conditioner->contextWidth()}),
                             at::zeros({batch, m_conditioner->pooledWidth()})};
        return conditioning(std::move(zeros), schedule);
    }

    void releaseTextEncoders() override {}  // small next to the UNet; kept for the next prompt

    at::Tensor denoise(const at::Tensor& x, const at::Tensor& t, const Conditioning& c) override {
        return m_unet->forward(x, t, c.context, c.pooled, c.timeIds);
    }

    bool hasAdapter() const override { return false; }  // SiD generators are whole UNets
    void useAdapter(bool) override {}

    int latentChannels() const override { return m_unet ? m_unet->config().inChannels : 4; }
    int maxLatentSide() const override { return 0; }
    // The loaded UNet's own configuration (a tiny demo or a real one); the variant's before the load.
    DenoiserShape costShape() const override {
        return m_unet ? DenoiserShape(UnetShape{m_unet->config()}) : sdCostShape(m_xl);
    }

    at::Tensor decode(const at::Tensor& latent) override {
        return m_images.decode(latent, m_options.vaeTileSize);
    }

    at::Tensor preview(const at::Tensor& x0, PreviewMode mode) override { return m_images.preview(x0, mode); }

    std::string modelHash() override {
        if (m_unetInMemory) return "in-memory weights";
        if (m_modelHash.empty()) m_modelHash = weightsSha256(m_models.transformer, m_options.hashCache);
        return m_modelHash;
    }
    std::string adapterHash() override { return ""; }
    std::string adapterName() const override { return ""; }

    // The real architectures' cost (the UNet's FLOPs at each step's latent size).
    static DenoiserShape sdCostShape(bool xl) { return xl ? UnetShape::sdxl() : UnetShape::sd15(); }

private:
    // On the UNet's device, with SDXL's time ids of the image the schedule makes (diffusers' default).
    Conditioning conditioning(SdPromptEmbeds e, const Schedule& schedule) const {
        const auto move = [&](const at::Tensor& t) { return t.defined() ? t.to(m_options.device) : t; };
        Conditioning c{move(e.context), move(e.pooled), {}};
        if (m_xl) {
            const int64_t side = 8 * static_cast<int64_t>(schedule.finalScale());
            c.timeIds = move(SdxlTimeIds::forImage(side, side).tensor(e.context.size(0)));
        }
        return c;
    }

    void loadConditioner() {
        const WeightSource& w = m_options.weights;
        const auto clip = [&](const char* role, const std::filesystem::path& path, const std::string& prefix,
                              ClipTextConfig::Activation activation) {
            if (w.inMemory(role))
                return ClipTextModel::load(w.open(role, {}),
                                           ClipTextConfig::infer(w.open(role, {}), activation),
                                           m_options.textDtype, m_options.textDevice);
            return ClipTextModel::load(path, prefix, m_options.textDtype, m_options.textDevice, activation);
        };
        const ClipTokenizer tokenizer =
            ClipTokenizer::load(m_models.clipVocab, m_models.clipMerges, ClipTokenizer::Variant::ClipL);
        ClipTextModel clipL =
            clip("clip_l", m_models.clipL, m_models.clipLPrefix, ClipTextConfig::Activation::QuickGelu);
        if (!m_xl) {
            m_conditioner = std::make_unique<SdConditioner>(SdConditioner::sd15(std::move(clipL), tokenizer));
            return;
        }
        ClipTextModel bigG =
            clip("clip_g", m_models.clipG, m_models.clipGPrefix, ClipTextConfig::Activation::Gelu);
        m_conditioner = std::make_unique<SdConditioner>(
            SdConditioner::sdxl(std::move(clipL), std::move(bigG), tokenizer));
    }

    void loadUnet() {
        m_unetInMemory = m_options.weights.inMemory("unet");
        const TensorStore store =
            m_options.weights.take("unet", m_models.transformer, m_models.transformerPrefix);
        // A diffusers unet/ folder says its architecture; a SiD generator is its base's (the catalog
        // names the base's config); a lone file without either is the real model's.
        UnetConfig config = m_xl ? UnetConfig::sdxl() : UnetConfig::sd15();
        if (!m_unetInMemory && hasConfigJson(m_models.transformer))
            config = UnetConfig::fromJson(m_models.transformer / "config.json");
        else if (!m_models.denoiserConfig.empty())
            config = UnetConfig::fromJson(m_models.denoiserConfig);
        m_unet = SdUnet::load(store, config, m_options.dtype, m_options.device);
    }

    void loadVae() {
        VaeLoadOptions vo;
        vo.withEncoder = false;       // text-to-image needs only the decoder
        vo.honourForceUpcast = m_xl;  // the SDXL VAE overflows in fp16: fp32 then, as diffusers does
        const bool inMemory = m_options.weights.inMemory("vae");
        // Without a config.json the scaling factor is not in the weights: the variant's is taken.
        if (inMemory || !hasConfigJson(m_models.vae))
            vo.config = m_xl ? VaeConfig::sdxl() : VaeConfig::sd15();
        m_images.setVae(AutoencoderKl::load(m_options.weights.take("vae", m_models.vae, m_models.vaePrefix),
                                            m_options.dtype, m_options.device, vo));
    }

    bool m_xl;
    ModelSet m_models;
    FamilyLoadOptions m_options;
    std::unique_ptr<SdConditioner> m_conditioner;
    std::unique_ptr<SdUnet> m_unet;
    FamilyImages m_images;
    std::string m_modelHash;
    bool m_unetInMemory = false;
};

LatentFormat sdLatentFormat(bool xl) {
    const LatentRgbProjection p = xl ? LatentRgbProjection::sdxl() : LatentRgbProjection::sd15();
    LatentFormat f;
    f.channels = 4;
    f.scalingFactor = xl ? 0.13025 : 0.18215;
    f.shiftFactor = 0.0;
    f.rgbFactors = p.factors;
    f.rgbBias = p.bias;
    return f;
}

}  // namespace

SdFamily::SdFamily(ModelFamily variant)
    : m_variant(variant), m_format(sdLatentFormat(variant == ModelFamily::SDXL)) {
    if (variant != ModelFamily::SD15 && variant != ModelFamily::SDXL)
        throwInternal("SdFamily serves SD 1.5 and SDXL, not {}", modelFamilyName(variant));
    // The catalog identifies the UNets by these manifests (resources/manifests/*_unet.diffusers.txt).
    // SD 1.5's repository is the mirror that replaced runwayml/stable-diffusion-v1-5 on the hub (copies of
    // either are found by their tensors).
    if (isXl())
        m_variants = {{ModelFamily::SDXL, "sdxl_unet", "sdxl_unet.diffusers",
                       "stabilityai/stable-diffusion-xl-base-1.0", "sd_xl_base_1.0.safetensors", ""}};
    else
        m_variants = {{ModelFamily::SD15, "sd15_unet", "sd15_unet.diffusers",
                       "stable-diffusion-v1-5/stable-diffusion-v1-5", "v1-5-pruned-emaonly.safetensors", ""}};
}

const char* SdFamily::id() const {
    return isXl() ? "sdxl" : "sd15";
}

const char* SdFamily::name() const {
    return isXl() ? "Stable Diffusion XL (UNet)" : "Stable Diffusion 1.5 (UNet)";
}

std::vector<SamplerKind> SdFamily::samplers() const {
    return {SamplerKind::Sid, SamplerKind::EulerDiscrete};
}

ScheduleKind SdFamily::scheduleKind(SamplerKind) const {
    return ScheduleKind::DdpmTimesteps;
}

int SdFamily::maxLatentSide(ModelFamily) const {
    return 0;  // convolutional: no positional table bounds the size
}

DenoiserShape SdFamily::costShape(ModelFamily) const {
    return SdModels::sdCostShape(isXl());
}

std::unique_ptr<FamilyModels> SdFamily::createModels(const ModelSet& models,
                                                     const FamilyLoadOptions& options) const {
    return std::make_unique<SdModels>(*this, models, options);
}

}  // namespace swd
