#include "core/test_util.h"

#include <QtTest>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

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

void makeFifo(const std::filesystem::path& path) {
    if (::mkfifo(path.c_str(), 0600) != 0) qFatal("cannot create the FIFO %s", path.c_str());
}

bool blockedOnFifo(const std::filesystem::path& fifo, double seconds, const std::function<void()>& body) {
    std::mutex mutex;
    std::condition_variable done;
    bool finished = false;
    std::atomic<bool> fired{false};
    std::thread watchdog([&] {
        std::unique_lock<std::mutex> lock(mutex);
        if (done.wait_for(lock, std::chrono::duration<double>(seconds), [&] { return finished; })) return;
        fired = true;
        // O_RDWR never blocks on a FIFO; opening it releases a reader blocked in open(), closing it
        // ends a blocked read.
        while (!finished) {
            lock.unlock();
            const int fd = ::open(fifo.c_str(), O_RDWR | O_NONBLOCK);
            if (fd >= 0) ::close(fd);
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            lock.lock();
        }
    });
    try {
        body();
    } catch (...) {
        {
            std::lock_guard<std::mutex> lock(mutex);
            finished = true;
        }
        done.notify_all();
        watchdog.join();
        throw;
    }
    {
        std::lock_guard<std::mutex> lock(mutex);
        finished = true;
    }
    done.notify_all();
    watchdog.join();
    return fired;
}

std::string deepJson(std::size_t depth, bool objects) {
    std::string s;
    s.reserve(depth * (objects ? 7 : 2));
    for (std::size_t i = 0; i < depth; ++i) s += objects ? "{\"a\":" : "[";
    s += "1";
    for (std::size_t i = 0; i < depth; ++i) s += objects ? "}" : "]";
    return s;
}

}  // namespace swd::test
