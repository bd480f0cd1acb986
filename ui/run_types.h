// The values that travel between the widgets and the generation worker: what to run (RunRequest), what
// one finished step looks like (StepImage) and what a run produced (RunResult). Plain Qt and
// swd::Schedule and the core's torch-free kinds only: no libtorch, so every widget may include this. The
// worker's engine backend converts them to and from the core's GenerationRequest / StepEvent /
// GenerationResult.
#pragma once

#include "image/image_io.h"
#include "pipeline/generation_request.h"
#include "sampling/schedule.h"
#include "util/kinds.h"

#include <QImage>
#include <QList>
#include <QMetaType>
#include <QString>
#include <QStringList>

namespace swd::ui {

// Run labels, shown on strips, in the compare view and stored in the record.
inline const QString kSwdLabel = QStringLiteral("SwD");
inline const QString kFullLabel = QStringLiteral("Full resolution");

// Which weights a run uses.
struct ModelChoice {
    enum class Kind { Automatic, Path, Demo };
    enum class AdapterKind { FromPreset, None, Path };
    Kind kind = Kind::Automatic;  // Automatic: the model the preset's family and adapter call for
    QString path;                 // Kind::Path: a diffusers folder or single-file checkpoint
    AdapterKind adapterKind = AdapterKind::FromPreset;
    QString adapterPath;  // AdapterKind::Path: a PEFT folder or LoRA file

    bool operator==(const ModelChoice& o) const {
        return kind == o.kind && path == o.path && adapterKind == o.adapterKind &&
               adapterPath == o.adapterPath;
    }
    // Stable text for settings and combo boxes: "auto", "demo", "path:<p>"; adapters "preset", "none",
    // "path:<p>".
    QString modelKey() const;
    QString adapterKey() const;
    static ModelChoice fromKeys(const QString& modelKey, const QString& adapterKey);
};

// One generation as the UI asks for it.
struct RunRequest {
    QString prompt;
    QString negativePrompt;  // used only when schedule.guidance > 1
    quint64 seed = 0;
    Schedule schedule;
    int batchSize = 1;
    QString device = QStringLiteral("cpu");
    Precision precision = Precision::Auto;
    PreviewMode preview = PreviewMode::Projection;
    bool useAdapter = true;
    bool cfgBatched = true;
    QString label;  // kSwdLabel or kFullLabel
    ModelChoice model;
    QString outputFolder;  // the result is written here as soon as it finishes ("": not)
    ImageFormat outputFormat = ImageFormat::Png8;
};

// A model or adapter found on disk, for the pickers.
struct ModelEntry {
    QString path;
    QString name;     // "stabilityai/stable-diffusion-3.5-medium"
    QString summary;  // "SD3.5 Medium: transformer, VAE, CLIP-L, CLIP-G, T5-XXL"
    QString origin;   // "HF cache", "folder /models"
    QString family;   // "sd3.5-medium"
    bool adapter = false;
    bool usable = true;
    QStringList problems;  // why it cannot be used, each with what to do
};

// What the worker found: models, the places it searched, and the devices this build can run on.
struct DiscoveryReport {
    QList<ModelEntry> models;
    QStringList searched;
    QStringList devices;
    QString error;  // discovery itself failed (the pickers then offer the demo model only)
};

// One finished step of a run.
struct StepImage {
    int jobId = 0;
    int runIndex = 0;  // position of the run in its job
    QString runLabel;
    int index = 0;
    int stepCount = 0;
    int scale = 0;
    double sigma = 0, sigmaNext = 0;  // DDPM schedules: the noise level √(1 − ᾱ_t)
    int timestep = -1;                // DDPM schedules (SiD, Euler discrete): the UNet's timestep; else -1
    double ms = 0, modelMs = 0, elapsedMs = 0, etaMs = 0;
    QImage image;  // the step's decoded x0 (null when previews are off)
};

// What one run produced.
struct RunResult {
    int jobId = 0;
    int runIndex = 0;
    RunRequest request;
    QList<QImage> images;  // final images of the batch (empty when cancelled before decoding)
    QList<StepImage> steps;
    RunTimings timings;
    bool cancelled = false;
    int completedSteps = 0;
    QString parametersText;  // A1111 summary of image 0
    QString recordJson;      // the JSON stored in image 0 (restores the run)
    QString modelName;       // "SD3.5 Medium + yresearch/swd-medium-6-steps", "Demo model"
    QString deviceUsed, dtypeUsed;
    QStringList savedPaths;  // files written to the output folder
    QString saveError;       // writing failed (the run itself succeeded)

    QImage image() const { return images.isEmpty() ? QImage() : images.front(); }
};

// Registers the types above for queued connections (once per process).
void registerRunTypes();

}  // namespace swd::ui

Q_DECLARE_METATYPE(swd::ui::RunRequest)
Q_DECLARE_METATYPE(swd::ui::StepImage)
Q_DECLARE_METATYPE(swd::ui::RunResult)
Q_DECLARE_METATYPE(swd::ui::DiscoveryReport)
