// The schedule presets the editor offers: the built-in ones and the user's own, which live as JSON files
// in AppDataLocation/presets (loaded with PresetLibrary::addFolder; a user preset with a built-in's id
// replaces it). Saving writes the preset file atomically and reloads.
#pragma once

#include "sampling/preset_library.h"

#include <QString>
#include <QStringList>

namespace swd::ui {

class PresetStore {
public:
    // Built-ins plus every preset in `userFolder` (default: userPresetDir()).
    explicit PresetStore(QString userFolder = {});

    void reload();
    const std::vector<Schedule>& all() const { return m_library.all(); }
    const Schedule* find(const QString& idOrName) const;
    bool isUserPreset(const QString& id) const;
    // Files that did not load, with why.
    QStringList loadErrors() const;
    QString userFolder() const { return m_userFolder; }

    // Saves `schedule` as a user preset named `name` (its id is derived from the name: lower case, dashes).
    // Returns the id. Throws swd::Error when the file cannot be written.
    QString save(Schedule schedule, const QString& name);
    // Removes a user preset's file; false when it is not a user preset.
    bool remove(const QString& id);

    // "My schedule 2" -> "my-schedule-2".
    static QString idForName(const QString& name);

private:
    QString m_userFolder;
    PresetLibrary m_library;
    QStringList m_userIds;
    QStringList m_errors;
};

}  // namespace swd::ui
