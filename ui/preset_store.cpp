#include "preset_store.h"

#include "settings.h"

#include <QDir>
#include <QFile>
#include <QRegularExpression>

namespace swd::ui {

PresetStore::PresetStore(QString userFolder)
    : m_userFolder(userFolder.isEmpty() ? userPresetDir() : std::move(userFolder)) {
    reload();
}

void PresetStore::reload() {
    m_library = PresetLibrary::builtin();
    PresetLibrary user;
    user.addFolder(m_userFolder.toStdString());
    m_userIds.clear();
    for (const Schedule& s : user.all()) {
        m_userIds << QString::fromStdString(s.id);
        m_library.add(s);
    }
    // Keep the user library's load errors: PresetLibrary::add does not carry them over.
    m_errors.clear();
    for (const auto& e : user.loadErrors()) m_errors << QString::fromStdString(e);
}

const Schedule* PresetStore::find(const QString& idOrName) const {
    return m_library.find(idOrName.toStdString());
}

bool PresetStore::isUserPreset(const QString& id) const {
    return m_userIds.contains(id);
}

QStringList PresetStore::loadErrors() const {
    return m_errors;
}

QString PresetStore::save(Schedule schedule, const QString& name) {
    const QString id = idForName(name);
    schedule.id = id.toStdString();
    schedule.name = name.trimmed().toStdString();
    QDir().mkpath(m_userFolder);
    saveScheduleFile(schedule, QDir(m_userFolder).filePath(id + QStringLiteral(".json")).toStdString());
    reload();
    return id;
}

bool PresetStore::remove(const QString& id) {
    if (!isUserPreset(id)) return false;
    const bool ok = QFile::remove(QDir(m_userFolder).filePath(id + QStringLiteral(".json")));
    reload();
    return ok;
}

QString PresetStore::idForName(const QString& name) {
    QString id = name.trimmed().toLower();
    id.replace(QRegularExpression(QStringLiteral("[^a-z0-9.]+")), QStringLiteral("-"));
    id.remove(QRegularExpression(QStringLiteral("^-+|-+$")));
    return id.isEmpty() ? QStringLiteral("preset") : id;
}

}  // namespace swd::ui
