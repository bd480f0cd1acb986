#include "core/test_util.h"

#include <QtTest>

#include <fstream>
#include <sstream>

namespace swd::test {

std::filesystem::path dataDir() {
    return std::filesystem::path(SWD_TEST_DATA_DIR);
}

std::filesystem::path goldenDir(const std::string& caseName) {
    return dataDir() / "golden" / caseName;
}

ScratchDir::ScratchDir() {
    if (!m_dir.isValid()) qFatal("cannot create a temporary directory");
}

std::filesystem::path ScratchDir::path() const {
    return std::filesystem::path(m_dir.path().toStdString());
}

void writeBytes(const std::filesystem::path& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string readBytes(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace swd::test
