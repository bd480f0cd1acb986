// Every finished run, kept under AppDataLocation/history so it survives restarts: one folder per run with
// the image, a thumbnail, small images of every step and entry.json (settings: the record JSON that
// restores the run, the A1111 summary, timings, where the result was saved). entry.json is written last,
// through a temporary file, so a crash never leaves a half entry that loads.
#pragma once

#include "run_types.h"

#include <QDateTime>
#include <QObject>

#include <optional>

namespace swd::ui {

struct HistoryStepMeta {
    int scale = 0;
    double sigma = 0, sigmaNext = 0, ms = 0;
    QString imageFile;  // relative to the entry folder ("" when the run had no step images)
};

struct HistoryEntry {
    QString id;
    QString dir;
    QDateTime created;
    QString jobKey;  // runs of one job (SwD and full resolution of one Compare) share it
    QString label;
    QString prompt;
    quint64 seed = 0;
    QString scheduleName;
    QString modelName;
    int stepCount = 0;
    int completedSteps = 0;
    bool cancelled = false;
    RunTimings timings;
    QString recordJson;
    QString parametersText;
    QStringList savedPaths;
    QList<HistoryStepMeta> steps;

    QString imagePath() const;
    QString thumbnailPath() const;
    QImage image() const;
    QImage thumbnail() const;
    // The steps with their images, as the step strip shows them.
    QList<StepImage> loadSteps() const;
};

class HistoryStore : public QObject {
    Q_OBJECT

public:
    // `dir` default: historyDir() (AppDataLocation/history).
    explicit HistoryStore(const QString& dir = {}, QObject* parent = nullptr);

    QString dir() const { return m_dir; }
    // Stores a run (its first image, thumbnail, step images and settings). Runs without an image are not
    // kept (nullopt). Throws nothing: a write failure returns nullopt and sets lastError().
    std::optional<HistoryEntry> add(const RunResult& result, const QString& jobKey = {});
    // Newest first.
    const QList<HistoryEntry>& entries() const { return m_entries; }
    std::optional<HistoryEntry> find(const QString& id) const;
    // The entries of the entry's job (itself included), oldest first.
    QList<HistoryEntry> jobOf(const HistoryEntry& entry) const;
    bool remove(const QString& id);
    // Re-reads the folder (entries whose entry.json is missing or broken are skipped).
    void reload();
    QString lastError() const { return m_error; }

    static constexpr int kThumbnailSize = 160;
    static constexpr int kStepImageSize = 256;

Q_SIGNALS:
    void entryAdded(const swd::ui::HistoryEntry& entry);
    void entryRemoved(const QString& id);

private:
    static std::optional<HistoryEntry> readEntry(const QString& folder);

    QString m_dir;
    QList<HistoryEntry> m_entries;
    QString m_error;
};

}  // namespace swd::ui

Q_DECLARE_METATYPE(swd::ui::HistoryEntry)
