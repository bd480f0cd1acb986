// Saving a run (torch-free: the app's widgets save the image they show through it too): every front end
// writes a run's images (and, when asked, every step's image) through writeResult, with the metadata that
// restores the run, so a file is the same whichever front end wrote it.
#pragma once

#include "image/image_io.h"

#include <filesystem>
#include <string>
#include <vector>

namespace swd {

struct GenerationResult;  // pipeline/engine.h (this header stays torch-free for the UI)

// Where and how a run's images are written.
struct RunOutput {
    std::filesystem::path folder;  // created when missing
    ImageFormat format = ImageFormat::Png8;
    std::string prefix;       // file names "<prefix>-<n>.<ext>" ("<prefix>-<yyyymmdd>-<n>" with datedNames)
    bool datedNames = false;  // the app's names carry the day, the CLI's do not
    bool stepImages = false;  // also "<image>-steps/step-NN-scaleS-sigmaX.png" per finished step
};

// What was written for one image of the batch (either path empty when nothing was).
struct WrittenImage {
    std::filesystem::path image;  // the final image (none when the run was cancelled)
    std::filesystem::path steps;  // the folder of its step images
};

// The metadata of image `imageIndex` of a run: its A1111 text, its JSON record (the request re-makes
// exactly this image) and the software.
ImageMetadata runImageMetadata(const GenerationResult& result, int imageIndex);
// The same for a text and record the front end holds (an image shown in the app).
ImageMetadata runImageMetadata(const std::string& parametersText, const std::string& recordJson);

// Writes the run's final images (none when it was cancelled before decoding) and, with stepImages, the
// steps it finished. Removes temporary files a killed writer left in the folder first. Throws BadInput
// naming the path on any failure; files written before it stay.
std::vector<WrittenImage> writeResult(const GenerationResult& result, const RunOutput& output);

}  // namespace swd
