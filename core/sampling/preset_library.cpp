#include "sampling/preset_library.h"

#include "util/error.h"
#include "util/json_reader.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>

namespace swd {

namespace {
std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}
}  // namespace

PresetLibrary PresetLibrary::builtin() {
    PresetLibrary library;
    for (const auto& [file, text] : builtinPresetSources()) {
        const std::string label = "built-in preset " + file;
        Schedule s = scheduleFromJson(parseJson(text, label), label);
        if (s.id.empty()) s.id = std::filesystem::path(file).stem().string();
        library.add(std::move(s));
    }
    return library;
}

void PresetLibrary::addFolder(const std::filesystem::path& folder) {
    std::error_code ec;
    if (!std::filesystem::is_directory(folder, ec)) return;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(folder, ec))
        if (entry.path().extension() == ".json") files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
        try {
            add(loadScheduleFile(file.string()));
        } catch (const std::exception& e) {
            m_errors.push_back(e.what());
        }
    }
}

void PresetLibrary::add(Schedule schedule) {
    for (auto& existing : m_presets) {
        if (existing.id == schedule.id) {
            existing = std::move(schedule);
            return;
        }
    }
    m_presets.push_back(std::move(schedule));
}

const Schedule* PresetLibrary::find(const std::string& idOrName) const {
    for (const auto& s : m_presets)
        if (s.id == idOrName) return &s;
    const std::string wanted = lower(idOrName);
    for (const auto& s : m_presets)
        if (lower(s.id) == wanted || lower(s.name) == wanted) return &s;
    return nullptr;
}

const Schedule& PresetLibrary::get(const std::string& idOrName) const {
    if (const Schedule* s = find(idOrName)) return *s;
    throwBadInput("unknown preset '{}'; known presets: {}", idOrName, fmt::join(ids(), ", "));
}

std::vector<std::string> PresetLibrary::ids() const {
    std::vector<std::string> out;
    for (const auto& s : m_presets) out.push_back(s.id);
    return out;
}

}  // namespace swd
