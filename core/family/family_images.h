// What every family does the same way on the image side: the VAE that decodes the final latent (tiled when
// asked), the optional TAESD decoder for fast previews, and the per-step preview in the mode a run asks for.
// A family loads its VAE its own way (config, upcast) and hands it over; the rest is here.
#pragma once

#include "models/latent_preview.h"
#include "models/vae.h"
#include "models/vae_tiny.h"
#include "util/kinds.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace swd {

// Reports each component as it starts loading and remembers whether anything was loaded.
class LoadProgress {
public:
    explicit LoadProgress(const std::function<void(const std::string&)>& report) : m_report(report) {}
    void stage(const char* component) {
        m_any = true;
        if (m_report) m_report(component);
    }
    bool any() const { return m_any; }

private:
    const std::function<void(const std::string&)>& m_report;
    bool m_any = false;
};

class FamilyImages {
public:
    // `projection`: the family's latent -> RGB factors for Projection previews.
    explicit FamilyImages(LatentRgbProjection projection) : m_projection(std::move(projection)) {}

    bool hasVae() const { return m_vae != nullptr; }
    void setVae(std::unique_ptr<AutoencoderKl> vae) { m_vae = std::move(vae); }
    // Loads the TAESD decoder at `path` (none when empty or already loaded), reported as a stage.
    void loadTaesd(const std::filesystem::path& path, at::ScalarType dtype, at::Device device,
                   LoadProgress& progress);

    // Clean latent -> image [B, 3, H, W] in [0, 1]; tileSize > 0 tiles the decode (latent pixels per tile).
    at::Tensor decode(const at::Tensor& latent, int tileSize) const;
    // A step's x0 as RGB [B, H, W, 3] uint8; TAESD without its weights falls back to the projection.
    at::Tensor preview(const at::Tensor& x0, PreviewMode mode);

private:
    LatentRgbProjection m_projection;
    std::shared_ptr<AutoencoderKl> m_vae;
    std::shared_ptr<TaesdDecoder> m_taesd;
    std::unique_ptr<LatentPreviewer> m_previewer;
};

}  // namespace swd
