#include "session/run_output.h"

#include "pipeline/engine.h"

#include <fmt/format.h>

#include <ctime>

namespace swd {

namespace fs = std::filesystem;

namespace {

std::string today() {
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char text[16];
    std::strftime(text, sizeof text, "%Y%m%d", &local);
    return text;
}

}  // namespace

ImageMetadata runImageMetadata(const GenerationResult& result, int imageIndex) {
    return runImageMetadata(result.parametersText(imageIndex), result.recordJson(imageIndex));
}

ImageMetadata runImageMetadata(const std::string& parametersText, const std::string& recordJson) {
    return {parametersText, recordJson, softwareVersion()};
}

std::vector<WrittenImage> writeResult(const GenerationResult& result, const RunOutput& output) {
    std::vector<WrittenImage> written;
    fs::create_directories(output.folder);
    removeStaleTemporaryImages(output.folder);  // left by a run that was killed while writing
    const std::string prefix = output.datedNames ? output.prefix + "-" + today() : output.prefix;
    for (int i = 0; i < result.request.batchSize; ++i) {
        const auto index = static_cast<std::size_t>(i);
        const ImageMetadata meta = runImageMetadata(result, i);
        WrittenImage& out = written.emplace_back();
        fs::path path = nextImagePath(output.folder, prefix, output.format);
        if (index < result.images.size())
            out.image = path = writeImage(path, result.images[index], meta, {output.format});
        if (!output.stepImages) continue;
        const fs::path stepDir = output.folder / (path.stem().string() + "-steps");
        bool any = false;
        for (const auto& step : result.steps) {
            if (index >= step.images.size()) continue;
            const fs::path file = stepDir / fmt::format("step-{:02d}-scale{}-sigma{:.4f}.png", step.index + 1,
                                                        step.scale, step.sigma);
            writeImage(file, toFloatImage(step.images[index]), {meta.parameters, "", meta.software},
                       {ImageFormat::Png8});
            any = true;
        }
        if (any) out.steps = stepDir;
    }
    return written;
}

}  // namespace swd
