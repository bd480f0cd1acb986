// Helpers shared by the test suites.
#pragma once

#include <QString>
#include <QTemporaryDir>

#include <filesystem>
#include <functional>
#include <string>

namespace swd::test {

// tests/data of the source tree.
std::filesystem::path dataDir();
std::filesystem::path goldenDir(const std::string& caseName);

// A scratch folder removed at the end of the test.
class ScratchDir {
public:
    ScratchDir();
    std::filesystem::path path() const;
    std::filesystem::path file(const std::string& name) const { return path() / name; }

private:
    QTemporaryDir m_dir;
};

// Writes raw bytes to a file.
void writeBytes(const std::filesystem::path& path, const std::string& bytes);
std::string readBytes(const std::filesystem::path& path);

// Makes a FIFO (named pipe) at `path`; fails the process when it cannot.
void makeFifo(const std::filesystem::path& path);

// Runs `body`, which must not block on the FIFO at `fifo`. If it is still running after `seconds`, a
// watchdog opens and closes the FIFO's other end until it returns, so that a regression fails the
// test instead of hanging it. Returns true when the watchdog had to step in.
bool blockedOnFifo(const std::filesystem::path& fifo, double seconds, const std::function<void()>& body);

// JSON nested `depth` levels deep: [[[...]]] (or {"a":{"a":...}} when `objects`).
std::string deepJson(std::size_t depth, bool objects = false);

// Runs `body` and returns the message of the exception it throws ("" when it does not throw).
template <typename F>
std::string errorOf(F&& body) {
    try {
        body();
    } catch (const std::exception& e) {
        return e.what();
    }
    return {};
}

}  // namespace swd::test

// Checks that `body` throws and that the message contains every given fragment.
#define SWD_EXPECT_ERROR(body, ...)                                                              \
    do {                                                                                         \
        const std::string swdMessage_ = ::swd::test::errorOf([&] { body; });                     \
        QVERIFY2(!swdMessage_.empty(), "expected an error, none was thrown");                    \
        for (const char* swdFragment_ : {__VA_ARGS__})                                           \
            QVERIFY2(swdMessage_.find(swdFragment_) != std::string::npos,                        \
                     qPrintable(QString::fromStdString("message '" + swdMessage_ + "' lacks '" + \
                                                       swdFragment_ + "'")));                    \
    } while (0)
