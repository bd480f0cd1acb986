#include "util/file_read.h"

#include "util/error.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace swd {

namespace {

const char* fileKind(mode_t mode) {
    if (S_ISDIR(mode)) return "a folder";
    if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
    if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}

[[noreturn]] void throwNotRegular(const std::filesystem::path& path, const char* what, mode_t mode) {
    throwBadInput("{}: is {}, not a {} (a regular file is needed)", path.string(), fileKind(mode), what);
}

}  // namespace

UniqueFd::~UniqueFd() {
    if (m_fd >= 0) ::close(m_fd);
}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
        if (m_fd >= 0) ::close(m_fd);
        m_fd = other.release();
    }
    return *this;
}

int UniqueFd::release() {
    const int fd = m_fd;
    m_fd = -1;
    return fd;
}

void requireRegularFile(const std::filesystem::path& path, const char* what) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        const int err = errno;
        throwBadInput("{}: cannot open the {} ({})", path.string(), what, std::strerror(err));
    }
    if (!S_ISREG(st.st_mode)) throwNotRegular(path, what, st.st_mode);
}

UniqueFd openRegularFile(const std::filesystem::path& path, const char* what, struct stat* st) {
    requireRegularFile(path, what);
    // O_NONBLOCK: if a FIFO replaced the file since stat(), open() returns at once instead of waiting
    // for a writer; fstat() below then refuses it.
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (fd.get() < 0) {
        const int err = errno;
        throwBadInput("{}: cannot open the {} ({})", path.string(), what, std::strerror(err));
    }
    if (::fstat(fd.get(), st) != 0) {
        const int err = errno;
        throwBadInput("{}: cannot read the {} ({})", path.string(), what, std::strerror(err));
    }
    if (!S_ISREG(st->st_mode)) throwNotRegular(path, what, st->st_mode);
    const int flags = ::fcntl(fd.get(), F_GETFL);
    if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) {
        const int err = errno;
        throwInternal("{}: cannot clear O_NONBLOCK ({})", path.string(), std::strerror(err));
    }
    return fd;
}

std::string readRegularFile(const std::filesystem::path& path, const char* what, std::uint64_t maxBytes) {
    struct stat st {};
    const UniqueFd fd = openRegularFile(path, what, &st);
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (size > maxBytes)
        throwBadInput("{}: the {} is {} bytes, more than the {} bytes accepted; is it the right file?",
                      path.string(), what, size, maxBytes);
    std::string out;
    out.resize(static_cast<std::size_t>(size));
    std::size_t done = 0;
    // Reads at most the size fstat() reported (+1 to notice a file that grew past the limit).
    while (true) {
        if (done == out.size()) {
            if (out.size() >= maxBytes) {
                char probe;
                const ssize_t n = ::read(fd.get(), &probe, 1);
                if (n > 0)
                    throwBadInput("{}: the {} grew past the {} bytes accepted while it was read",
                                  path.string(), what, maxBytes);
                if (n == 0) break;
                if (errno == EINTR) continue;
                const int err = errno;
                throwBadInput("{}: cannot read the {} ({})", path.string(), what, std::strerror(err));
            }
            out.resize(std::min<std::uint64_t>(maxBytes, out.size() + 65536));
        }
        const ssize_t n = ::read(fd.get(), out.data() + done, out.size() - done);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            const int err = errno;
            throwBadInput("{}: cannot read the {} ({})", path.string(), what, std::strerror(err));
        }
        done += static_cast<std::size_t>(n);
    }
    out.resize(done);
    return out;
}

}  // namespace swd
