// Wall-clock timing for benchmarks, per-step timings and ETAs.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace swd {

class Stopwatch {
public:
    Stopwatch() : m_start(std::chrono::steady_clock::now()) {}
    void restart() { m_start = std::chrono::steady_clock::now(); }
    double elapsedMs() const {
        return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - m_start).count();
    }

private:
    std::chrono::steady_clock::time_point m_start;
};

struct TimingStats {
    double minMs = 0, medianMs = 0, maxMs = 0;
    std::vector<double> samplesMs;
};

// Runs `body` `warmup` times untimed, then `repeats` times timed.
inline TimingStats timeRepeated(const std::function<void()>& body, int repeats, int warmup = 1) {
    for (int i = 0; i < warmup; ++i) body();
    TimingStats stats;
    for (int i = 0; i < std::max(1, repeats); ++i) {
        Stopwatch sw;
        body();
        stats.samplesMs.push_back(sw.elapsedMs());
    }
    auto sorted = stats.samplesMs;
    std::sort(sorted.begin(), sorted.end());
    stats.minMs = sorted.front();
    stats.maxMs = sorted.back();
    stats.medianMs = sorted[sorted.size() / 2];
    return stats;
}

}  // namespace swd
