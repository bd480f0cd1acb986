#include "settings.h"

#include "util/kinds.h"

#include <QCoreApplication>
#include <QDir>
#include <QStandardPaths>

namespace swd::ui {

namespace {

QString ensureDir(const QString& path) {
    QDir().mkpath(path);
    return path;
}

}  // namespace

bool AppSettings::operator==(const AppSettings& o) const {
    return modelFolders == o.modelFolders && useHfCache == o.useHfCache && outputFolder == o.outputFolder &&
           outputFormat == o.outputFormat && previewMode == o.previewMode && taesdPath == o.taesdPath &&
           t5Length == o.t5Length && threads == o.threads && device == o.device && precision == o.precision &&
           modelKey == o.modelKey && adapterKey == o.adapterKey && presetId == o.presetId;
}

AppSettings AppSettings::load(QSettings& s) {
    AppSettings a;
    a.modelFolders = s.value(QStringLiteral("models/folders"), a.modelFolders).toStringList();
    a.useHfCache = s.value(QStringLiteral("models/hfCache"), a.useHfCache).toBool();
    a.outputFolder = s.value(QStringLiteral("output/folder"), outputDefault()).toString();
    a.outputFormat = s.value(QStringLiteral("output/format"), a.outputFormat).toString();
    if (!outputFormatIds().contains(a.outputFormat)) a.outputFormat = QStringLiteral("png");
    a.previewMode = s.value(QStringLiteral("generation/preview"), a.previewMode).toString();
    if (!previewModeIds().contains(a.previewMode)) a.previewMode = QStringLiteral("projection");
    a.taesdPath = s.value(QStringLiteral("generation/taesd"), a.taesdPath).toString();
    a.t5Length = qBound(0, s.value(QStringLiteral("generation/t5Length"), a.t5Length).toInt(), 512);
    a.threads = qBound(0, s.value(QStringLiteral("generation/threads"), a.threads).toInt(), 1024);
    a.device = s.value(QStringLiteral("generation/device"), a.device).toString();
    a.precision = s.value(QStringLiteral("generation/precision"), a.precision).toString();
    a.modelKey = s.value(QStringLiteral("generation/model"), a.modelKey).toString();
    a.adapterKey = s.value(QStringLiteral("generation/adapter"), a.adapterKey).toString();
    a.presetId = s.value(QStringLiteral("generation/preset"), a.presetId).toString();
    return a;
}

AppSettings AppSettings::load() {
    QSettings s;
    return load(s);
}

void AppSettings::save(QSettings& s) const {
    s.setValue(QStringLiteral("models/folders"), modelFolders);
    s.setValue(QStringLiteral("models/hfCache"), useHfCache);
    s.setValue(QStringLiteral("output/folder"), outputFolder);
    s.setValue(QStringLiteral("output/format"), outputFormat);
    s.setValue(QStringLiteral("generation/preview"), previewMode);
    s.setValue(QStringLiteral("generation/taesd"), taesdPath);
    s.setValue(QStringLiteral("generation/t5Length"), t5Length);
    s.setValue(QStringLiteral("generation/threads"), threads);
    s.setValue(QStringLiteral("generation/device"), device);
    s.setValue(QStringLiteral("generation/precision"), precision);
    s.setValue(QStringLiteral("generation/model"), modelKey);
    s.setValue(QStringLiteral("generation/adapter"), adapterKey);
    s.setValue(QStringLiteral("generation/preset"), presetId);
    s.sync();
}

void AppSettings::save() const {
    QSettings s;
    save(s);
}

QStringList previewModeIds() {
    QStringList ids;
    for (const auto& e : KindTable<PreviewMode>::entries) ids << QString::fromLatin1(e.id);
    return ids;
}

QString previewModeLabel(const QString& id) {
    if (id == QLatin1String("vae"))
        return QCoreApplication::translate("Settings", "Full VAE (exact, slowest)");
    if (id == QLatin1String("taesd")) return QCoreApplication::translate("Settings", "TAESD (fast, close)");
    if (id == QLatin1String("projection"))
        return QCoreApplication::translate("Settings", "Latent projection (instant, blurry)");
    return QCoreApplication::translate("Settings", "Off (no step images)");
}

QStringList outputFormatIds() {
    return {QStringLiteral("png"), QStringLiteral("png16"), QStringLiteral("jpg"), QStringLiteral("tiff"),
            QStringLiteral("exr")};
}

QString appDataDir() {
    return ensureDir(QStandardPaths::writableLocation(QStandardPaths::AppDataLocation));
}

QString userPresetDir() {
    return ensureDir(appDataDir() + QStringLiteral("/presets"));
}

QString historyDir() {
    return ensureDir(appDataDir() + QStringLiteral("/history"));
}

QString demoModelDir() {
    return appDataDir() + QStringLiteral("/demo-model");
}

QString outputDefault() {
    const QString pictures = QStandardPaths::writableLocation(QStandardPaths::PicturesLocation);
    if (!pictures.isEmpty()) return pictures + QStringLiteral("/SwD Studio");
    return appDataDir() + QStringLiteral("/output");
}

}  // namespace swd::ui
