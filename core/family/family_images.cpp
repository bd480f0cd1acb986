#include "family/family_images.h"

#include "io/tensor_store.h"

namespace swd {

void FamilyImages::loadTaesd(const std::filesystem::path& path, at::ScalarType dtype, at::Device device,
                             LoadProgress& progress) {
    if (m_taesd || path.empty()) return;
    progress.stage("TAESD previews");
    m_taesd = TaesdDecoder::load(TensorStore::open(path), dtype, device);
}

at::Tensor FamilyImages::decode(const at::Tensor& latent, int tileSize) const {
    TilingOptions tiling;
    if (tileSize > 0) tiling = TilingOptions::always(tileSize, tileSize / 4);
    return m_vae->decodeToImage(latent, tiling);
}

at::Tensor FamilyImages::preview(const at::Tensor& x0, PreviewMode mode) {
    if (mode == PreviewMode::Off) return {};
    if (mode == PreviewMode::Taesd && !m_taesd) mode = PreviewMode::Projection;  // no TAESD weights given
    if (!m_previewer || m_previewer->mode() != mode)
        m_previewer = std::make_unique<LatentPreviewer>(mode, m_vae, m_taesd, TilingOptions{}, m_projection);
    return m_previewer->preview(x0);
}

}  // namespace swd
