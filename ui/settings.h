// The application's settings (QSettings) and the folders it uses (QStandardPaths): model folders, output
// folder, preview mode, T5 length, threads, and the last device / precision / model choice. Tests call
// QStandardPaths::setTestModeEnabled(true) so nothing touches the user's real folders.
#pragma once

#include <QSettings>
#include <QString>
#include <QStringList>

namespace swd::ui {

struct AppSettings {
    QStringList modelFolders;                            // searched recursively for models and adapters
    bool useHfCache = true;                              // also the Hugging Face hub cache
    QString outputFolder;                                // results are written here as they finish
    QString outputFormat = QStringLiteral("png");        // png, png16, jpg, tiff, exr
    QString previewMode = QStringLiteral("projection");  // vae, taesd, projection, off
    QString taesdPath;  // TAESD3 decoder weights (madebyollin/taesd3 folder or .safetensors) for "taesd"
    int t5Length = 0;   // 0: the schedule's own; 1..512 overrides it for every run
    int threads = 0;    // 0: every hardware thread
    QString device = QStringLiteral("cpu");
    QString precision = QStringLiteral("auto");
    QString modelKey = QStringLiteral("auto");      // ModelChoice::modelKey()
    QString adapterKey = QStringLiteral("preset");  // ModelChoice::adapterKey()
    QString presetId;                               // the schedule preset last picked

    bool operator==(const AppSettings& o) const;
    bool operator!=(const AppSettings& o) const { return !(*this == o); }

    // Reads every key (missing keys keep the defaults above; the output folder defaults to outputDefault()).
    static AppSettings load(QSettings& settings);
    static AppSettings load();
    void save(QSettings& settings) const;
    void save() const;
};

// The preview modes in order, their user-facing names, and the output formats.
QStringList previewModeIds();  // vae, taesd, projection, off
QString previewModeLabel(const QString& id);
QStringList outputFormatIds();  // png, png16, jpg, tiff, exr

// Folders (created on first use).
QString appDataDir();     // AppDataLocation: history, presets
QString userPresetDir();  // <appData>/presets
QString historyDir();     // <appData>/history
QString demoModelDir();   // <appData>/demo-model
QString outputDefault();  // PicturesLocation/SwD Studio (or <appData>/output without a Pictures folder)

}  // namespace swd::ui
