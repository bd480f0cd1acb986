// What one generation is asked to do, and how it is recorded: the request (JSON, stored in every image
// so the exact run can be restored) and the A1111-compatible "parameters" summary.
#pragma once

#include "sampling/schedule.h"
#include "util/kinds.h"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace swd {

// "swd-studio 0.1.0 (libtorch 1.13.0)": the software of every run record and of every file we write.
std::string softwareVersion();

// The inverse of previewModeName (util/kinds.h); throws BadInput listing the names for anything else.
PreviewMode parsePreviewMode(const std::string& name);

struct GenerationRequest {
    std::string prompt;
    std::string negativePrompt;  // used only when schedule.guidance > 1
    std::uint64_t seed = 0;      // image i of a batch uses seed + i
    Schedule schedule;           // scales, sigmas, sampler, guidance, T5 length
    int batchSize = 1;
    std::string device = "cpu";
    Precision precision = Precision::Auto;
    PreviewMode preview = PreviewMode::Projection;
    // Apply the model set's adapter (SwD). Full-resolution runs of the same model run without it.
    bool useAdapter = true;
    // CFG as one batch [negative, positive] (as the SD3 pipeline) or as two calls (less memory).
    bool cfgBatched = true;
    std::string label;  // shown in the UI and reports: "SwD", "Full resolution"

    double guidance() const { return schedule.guidance; }
    int width() const { return 8 * schedule.finalScale(); }
    int height() const { return 8 * schedule.finalScale(); }
};

// Who made the image: recorded next to the request.
struct RunProvenance {
    std::string modelName;      // "SD3.5 Medium"
    std::string modelIdentity;  // ModelSet::identity(): repos, revisions, files, sizes
    std::string modelHash;      // SHA-256 of the transformer weights
    std::string adapterName;    // "yresearch/swd-medium-6-steps" or ""
    std::string adapterHash;
    std::string version;          // "swd-studio 0.1.0 (libtorch 1.13.0)"
    std::string deviceUsed;       // "cpu (2 threads)"
    std::string dtypeUsed;        // "bf16"
    std::uint64_t imageSeed = 0;  // the seed of this image of the batch
    double totalMs = 0;
};

// Where a run's time and memory went.
struct RunTimings {
    double loadMs = 0;      // models loaded by this call
    double textMs = 0;      // prompt encoding
    double samplingMs = 0;  // all steps
    double decodeMs = 0;    // final VAE decode
    double totalMs = 0;
    std::vector<double> stepMs;
    std::uint64_t peakRssBytes = 0;  // process peak during the run
    std::uint64_t peakGpuBytes = 0;  // CUDA allocator peak during the run (0 on CPU)
};

nlohmann::json requestToJson(const GenerationRequest& request);
// Throws BadInput naming `label` and the field for anything it cannot use.
GenerationRequest requestFromJson(const nlohmann::json& json, const std::string& label);

// The JSON stored in an image: {"format": "swd-studio/1", "request": ..., "provenance": ...}.
std::string imageRecordJson(const GenerationRequest& request, const RunProvenance& provenance);
struct ImageRecord {
    GenerationRequest request;
    RunProvenance provenance;
};
ImageRecord parseImageRecord(const std::string& json, const std::string& label);

// A1111's "parameters" text: the prompt, a "Negative prompt: ..." line when there is one, then
// "Steps: 6, Sampler: SwD scale-wise, CFG scale: 1, Seed: 42, Size: 1024x1024, Model: ..., Lora hashes:
// "alias: hash", Adapter: ..., Scales: "[...]", Sigmas: "[...]", ...". Full resolution runs say
// "Sampler: Euler". Values holding commas, colons or quotes are JSON-quoted, as A1111 does.
std::string a1111Parameters(const GenerationRequest& request, const RunProvenance& provenance);

// Reads an A1111 "parameters" text back: prompt, negative prompt, and the key/value pairs (quotes
// removed). Used to restore a run from images that carry no SwD Studio JSON.
struct A1111Parameters {
    std::string prompt;
    std::string negativePrompt;
    std::vector<std::pair<std::string, std::string>> values;
    const std::string* find(const std::string& key) const;
};
A1111Parameters parseA1111Parameters(const std::string& text);

}  // namespace swd
