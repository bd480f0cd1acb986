// Opening files the user names (models, schedules, presets, configs) without trusting what they are:
// the path is checked with stat() before open(), opened with O_NONBLOCK so a FIFO swapped in between
// cannot block, checked again with fstat(), and read only up to a size limit. Every failure is a
// BadInput naming the file.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <string>

namespace swd {

// A file descriptor closed on destruction.
class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : m_fd(fd) {}
    ~UniqueFd();
    UniqueFd(UniqueFd&& other) noexcept : m_fd(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept;
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;

    int get() const { return m_fd; }
    int release();

private:
    int m_fd = -1;
};

// Opens `path` for reading when it is a regular file (symlinks are followed). `what` names the file's
// role in messages ("schedule file", "checkpoint index"). Fills `st` from fstat() of the open file.
// Refuses folders, FIFOs, devices and sockets without blocking on them.
UniqueFd openRegularFile(const std::filesystem::path& path, const char* what, struct stat* st);

// The whole content of a regular file of at most `maxBytes` bytes.
std::string readRegularFile(const std::filesystem::path& path, const char* what, std::uint64_t maxBytes);

// Throws BadInput unless `path` is a regular file (following symlinks); for checks before handing a path
// to a library that opens it itself.
void requireRegularFile(const std::filesystem::path& path, const char* what);

}  // namespace swd
