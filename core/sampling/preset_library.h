// The schedules users pick from: the built-in presets (presets/*.json, compiled into the program) and
// the user's own (a folder of .json files). A user preset with a built-in's id replaces it.
#pragma once

#include "sampling/schedule.h"

#include <filesystem>
#include <string>
#include <vector>

namespace swd {

class PresetLibrary {
public:
    // The presets compiled into the program.
    static PresetLibrary builtin();

    // Adds every *.json in `folder` (missing folder: nothing). A file that does not parse is skipped
    // and reported in loadErrors(), so one broken file never hides the others.
    void addFolder(const std::filesystem::path& folder);
    void add(Schedule schedule);

    const std::vector<Schedule>& all() const { return m_presets; }
    // By id, then by name (case-insensitive); nullptr when none matches.
    const Schedule* find(const std::string& idOrName) const;
    // Like find, but throws BadInput listing the known ids.
    const Schedule& get(const std::string& idOrName) const;
    const std::vector<std::string>& loadErrors() const { return m_errors; }
    std::vector<std::string> ids() const;

private:
    std::vector<Schedule> m_presets;
    std::vector<std::string> m_errors;
};

// Raw JSON text of the built-in presets as (file name, content); generated at build time.
const std::vector<std::pair<std::string, std::string>>& builtinPresetSources();

}  // namespace swd
