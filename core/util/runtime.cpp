#include "util/runtime.h"

#include "util/torch_compat.h"

#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <malloc.h>

#include <climits>
#include <cstdint>
#include <fstream>
#include <string>
#include <thread>

namespace swd {

void configureRuntime(const RuntimeOptions& options) {
    int threads = options.threads;
    if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    at::set_num_threads(threads);
    if (options.keepFreedMemory) {
        // Large tensors would otherwise be mmap'd and unmapped on every allocation.
        mallopt(M_MMAP_MAX, 0);
        mallopt(M_TRIM_THRESHOLD, INT32_MAX);  // the largest value mallopt takes (2 GiB)
        mallopt(M_TOP_PAD, 64 * 1024 * 1024);
    }
}

void returnFreedMemory() {
    malloc_trim(0);
}

int runtimeThreads() {
    return at::get_num_threads();
}

namespace {
std::uint64_t readStatusKb(const char* key) {
    std::ifstream in("/proc/self/status");
    std::string line;
    const std::string prefix = std::string(key) + ":";
    while (std::getline(in, line)) {
        if (line.rfind(prefix, 0) == 0) return std::stoull(line.substr(prefix.size())) * 1024;
    }
    return 0;
}
}  // namespace

std::uint64_t currentRssBytes() {
    return readStatusKb("VmRSS");
}

std::uint64_t peakRssBytes() {
    return readStatusKb("VmHWM");
}

bool resetPeakRss() {
    std::ofstream out("/proc/self/clear_refs");
    if (!out) return false;
    out << "5";
    return static_cast<bool>(out);
}

std::string formatBytes(std::uint64_t bytes) {
    const double b = static_cast<double>(bytes);
    if (b >= 1024.0 * 1024 * 1024) return fmt::format("{:.2f} GiB", b / (1024.0 * 1024 * 1024));
    if (b >= 1024.0 * 1024) return fmt::format("{:.1f} MiB", b / (1024.0 * 1024));
    if (b >= 1024.0) return fmt::format("{:.1f} KiB", b / 1024.0);
    return fmt::format("{} B", bytes);
}

}  // namespace swd

namespace swd {

std::string inferenceLibrariesDescription() {
#ifdef SWD_WITH_CUDA
    const char* device = "CUDA";
#else
    const char* device = "CPU only";
#endif
#ifdef SWD_HAVE_ONEDNN
    const char* fastPath = ", oneDNN CPU kernels";
#else
    const char* fastPath = "";
#endif
    return fmt::format("libtorch {} ({}){}", compat::torchVersionString(), device, fastPath);
}

}  // namespace swd
