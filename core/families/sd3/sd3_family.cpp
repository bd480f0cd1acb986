#include "families/sd3/sd3_family.h"

#include "catalog/model_set.h"
#include "family/family_images.h"
#include "family/family_models.h"
#include "io/file_hash.h"
#include "models/latent_preview.h"
#include "models/lora.h"
#include "models/mmdit.h"
#include "models/vae.h"
#include "models/vae_tiny.h"
#include "text/sd3_conditioner.h"

#include <c10/core/InferenceMode.h>
#include <fmt/format.h>

namespace swd {

namespace {

// The SD3.5 Medium / Large positional tables (pos_embed_max_size 384 and 192, patch 2).
int posEmbedMaxSize(ModelFamily model) {
    switch (model) {
        case ModelFamily::SD35Medium:
            return 384;
        case ModelFamily::SD35Large:
        case ModelFamily::SD3Medium:
            return 192;
        case ModelFamily::Any:
        case ModelFamily::SD15:  // not SD3's (the SD family answers for them)
        case ModelFamily::SDXL:
            break;
    }
    return 0;
}

// The cost-model dimensions of each variant's MMDiT (before its config is read).
TransformerShape sd3CostShape(ModelFamily model) {
    switch (model) {
        case ModelFamily::SD35Large:
            return TransformerShape::sd35Large();
        case ModelFamily::SD3Medium:
            return {1536, 24, 0, 2, 4096};
        case ModelFamily::SD35Medium:
        case ModelFamily::Any:
        case ModelFamily::SD15:
        case ModelFamily::SDXL:
            break;
    }
    return TransformerShape::sd35Medium();
}

LatentFormat sd3LatentFormat() {
    LatentFormat f;  // the SD3 VAE's config: 16 channels, scaling 1.5305, shift 0.0609
    for (const auto& row : kSd3LatentRgbFactors) f.rgbFactors.push_back({row[0], row[1], row[2]});
    f.rgbBias = {kSd3LatentRgbBias[0], kSd3LatentRgbBias[1], kSd3LatentRgbBias[2]};
    return f;
}

class Sd3Models final : public FamilyModels {
public:
    Sd3Models(ModelSet models, FamilyLoadOptions options)
        : m_models(std::move(models)), m_options(std::move(options)) {}

    bool load(const std::function<void(const std::string&)>& loading) override {
        c10::InferenceMode inference;
        LoadProgress progress(loading);
        if (!m_conditioner) {
            progress.stage("text encoders");
            loadConditioner();
        }
        if (!m_transformer) {
            progress.stage("transformer");
            m_transformerInMemory = m_options.weights.inMemory("transformer");
            m_transformer = MMDiT::load(
                m_options.weights.take("transformer", m_models.transformer, m_models.transformerPrefix),
                m_options.dtype, m_options.device);
        }
        if (!m_adapter && hasAdapter()) {
            progress.stage("adapter");
            m_adapter = m_options.weights.adapter(m_models.adapter);
            // Check it fits now (names of what does not), and leave the base model active.
            m_transformer->setAdapter(m_adapter);
            m_transformer->setAdapter(nullptr);
        }
        if (!m_images.hasVae()) {
            progress.stage("VAE");
            VaeLoadOptions vo;
            vo.withEncoder = false;  // text-to-image needs only the decoder
            m_images.setVae(
                AutoencoderKl::load(m_options.weights.take("vae", m_models.vae, m_models.vaePrefix),
                                    m_options.dtype, m_options.device, vo));
        }
        m_images.loadTaesd(m_options.taesdPath, m_options.dtype, m_options.device, progress);
        return progress.any();
    }

    bool loaded() const override { return m_transformer && m_images.hasVae() && m_conditioner; }

    Conditioning encode(const std::vector<std::string>& prompts, const Schedule& schedule) override {
        const PromptEmbedding e = m_conditioner->encode(prompts, schedule.t5Length);
        return {e.context.to(m_options.device), e.pooled.to(m_options.device)};
    }

    void releaseTextEncoders() override {
        if (m_conditioner) m_conditioner->releaseEncoders();
    }

    at::Tensor denoise(const at::Tensor& x, const at::Tensor& t, const Conditioning& c) override {
        return m_transformer->forward(x, t, c.context, c.pooled);
    }

    bool hasAdapter() const override { return m_options.weights.hasAdapter(m_models.adapter); }

    void useAdapter(bool on) override { m_transformer->setAdapter(on ? m_adapter : nullptr); }

    int latentChannels() const override { return m_transformer ? m_transformer->config().inChannels : 16; }

    int maxLatentSide() const override {
        return m_transformer ? m_transformer->config().maxLatentSide() : 2 * posEmbedMaxSize(m_models.family);
    }

    DenoiserShape costShape() const override {
        if (!m_transformer) return sd3CostShape(m_models.family);
        const MMDiTConfig& c = m_transformer->config();
        TransformerShape s;
        s.hidden = c.hidden();
        s.depth = c.numLayers;
        s.dualLayers = static_cast<int>(c.dualAttentionLayers.size());
        s.patch = c.patchSize;
        s.jointDim = c.jointAttentionDim;
        return s;
    }

    at::Tensor decode(const at::Tensor& latent) override {
        return m_images.decode(latent, m_options.vaeTileSize);
    }

    at::Tensor preview(const at::Tensor& x0, PreviewMode mode) override { return m_images.preview(x0, mode); }

    std::string modelHash() override {
        if (m_transformerInMemory) return "in-memory weights";  // no file to hash
        if (m_modelHash.empty()) m_modelHash = weightsSha256(m_models.transformer, m_options.hashCache);
        return m_modelHash;
    }

    std::string adapterHash() override {
        if (m_options.weights.adapterInMemory()) return "in-memory";
        if (!m_models.adapter) return "";
        if (m_adapterHash.empty()) m_adapterHash = weightsSha256(*m_models.adapter, m_options.hashCache);
        return m_adapterHash;
    }

    // The adapter's repository (as discovery recorded it) or its folder name.
    std::string adapterName() const override {
        for (const auto& part : m_models.parts)
            if (part.role == "adapter" && !part.source.empty()) return part.source;
        return m_models.adapter ? m_models.adapter->filename().string() : std::string();
    }

private:
    void loadConditioner() {
        TextEncoderPaths paths;
        paths.clipL = m_models.clipL;
        paths.clipG = m_models.clipG;
        paths.t5 = m_models.t5;
        paths.clipLPrefix = m_models.clipLPrefix;
        paths.clipGPrefix = m_models.clipGPrefix;
        paths.t5Prefix = m_models.t5Prefix;
        paths.clipVocab = m_models.clipVocab;
        paths.clipMerges = m_models.clipMerges;
        paths.t5Spiece = m_models.t5Spiece;
        const WeightSource& w = m_options.weights;
        // Encoders held in memory stay stores (the conditioner reloads released ones from them).
        if (w.inMemory("clip_l")) {
            const bool t5 = m_options.loadT5 && w.inMemory("t5");
            TextEncoderWeights stores{w.open("clip_l", {}), w.open("clip_g", {}),
                                      t5 ? w.open("t5", {}) : TensorStore()};
            m_conditioner = std::make_unique<Sd3Conditioner>(paths, std::move(stores), m_options.textDtype,
                                                             m_options.textDevice, t5);
        } else {
            const bool t5 = m_options.loadT5 && !m_models.t5.empty();
            m_conditioner =
                std::make_unique<Sd3Conditioner>(paths, m_options.textDtype, m_options.textDevice, t5);
        }
    }

    ModelSet m_models;
    FamilyLoadOptions m_options;
    std::unique_ptr<Sd3Conditioner> m_conditioner;
    std::unique_ptr<MMDiT> m_transformer;
    std::shared_ptr<const LoraAdapter> m_adapter;
    FamilyImages m_images{LatentRgbProjection::sd3()};
    std::string m_modelHash, m_adapterHash;
    bool m_transformerInMemory = false;
};

}  // namespace

const std::vector<ModelVariant>& Sd3Family::variants() const {
    static const std::vector<ModelVariant> list = {
        {ModelFamily::SD35Medium, "sd35_medium", "sd35_medium.diffusers",
         "stabilityai/stable-diffusion-3.5-medium", "sd3.5_medium.safetensors", "swd_lora_sd35_medium.peft"},
        {ModelFamily::SD35Large, "sd35_large", "sd35_large.diffusers",
         "stabilityai/stable-diffusion-3.5-large", "sd3.5_large.safetensors", "swd_lora_sd35_large.peft"},
        {ModelFamily::SD3Medium, "sd3_medium", "sd3_medium.diffusers",
         "stabilityai/stable-diffusion-3-medium-diffusers", "sd3_medium.safetensors", ""},
    };
    return list;
}

bool Sd3Family::serves(ModelFamily model) const {
    return model == ModelFamily::Any || model == ModelFamily::SD35Medium || model == ModelFamily::SD35Large ||
           model == ModelFamily::SD3Medium;
}

const LatentFormat& Sd3Family::latentFormat() const {
    static const LatentFormat format = sd3LatentFormat();
    return format;
}

std::vector<SamplerKind> Sd3Family::samplers() const {
    return {SamplerKind::ScaleWise, SamplerKind::FlowEuler};
}

ScheduleKind Sd3Family::scheduleKind(SamplerKind sampler) const {
    return sampler == SamplerKind::ScaleWise ? ScheduleKind::ScaleWise : ScheduleKind::FlowGrid;
}

int Sd3Family::maxLatentSide(ModelFamily model) const {
    return 2 * posEmbedMaxSize(model);
}

DenoiserShape Sd3Family::costShape(ModelFamily model) const {
    return sd3CostShape(model);
}

std::unique_ptr<FamilyModels> Sd3Family::createModels(const ModelSet& models,
                                                      const FamilyLoadOptions& options) const {
    return std::make_unique<Sd3Models>(models, options);
}

}  // namespace swd
