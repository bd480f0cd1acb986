// libFuzzer target: a user preset file, read as the app reads its preset folder at start-up
// (PresetLibrary::addFolder: the regular-file reader, the bounded JSON reader, scheduleFromJson). A bad
// file must become one load error, never a crash.
#include "sampling/preset_library.h"
#include "util/error.h"

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

std::filesystem::path folder() {
    static const std::filesystem::path dir = [] {
        std::string pattern = (std::filesystem::temp_directory_path() / "swd-fuzz-preset-XXXXXX").string();
        if (!::mkdtemp(pattern.data())) std::abort();
        return std::filesystem::path(pattern);
    }();
    return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto file = folder() / "user.json";
    {
        std::ofstream out(file, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    }
    swd::PresetLibrary library;
    library.addFolder(folder());
    if (library.all().size() + library.loadErrors().size() != 1) __builtin_trap();
    for (const auto& e : library.loadErrors())
        if (e.size() > 20000 || e.find(file.string()) == std::string::npos) __builtin_trap();
    return 0;
}
