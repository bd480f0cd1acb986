#include "models/op_profile.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>

#include <sys/resource.h>

namespace swd::profile {

namespace {
std::atomic<bool> g_enabled{false};
std::mutex g_mutex;
std::map<std::string, OpStat>& stats() {
    static std::map<std::string, OpStat> s;
    return s;
}
}  // namespace

void setEnabled(bool on) {
    g_enabled = on;
}

bool enabled() {
    return g_enabled.load(std::memory_order_relaxed);
}

void reset() {
    std::lock_guard<std::mutex> lock(g_mutex);
    stats().clear();
}

std::vector<OpStat> snapshot() {
    std::lock_guard<std::mutex> lock(g_mutex);
    std::vector<OpStat> out;
    for (const auto& [name, s] : stats()) out.push_back(s);
    std::sort(out.begin(), out.end(), [](const OpStat& a, const OpStat& b) { return a.ms > b.ms; });
    return out;
}

double processCpuMs() {
    rusage r{};
    getrusage(RUSAGE_SELF, &r);
    return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e3 + (r.ru_utime.tv_usec + r.ru_stime.tv_usec) * 1e-3;
}

Scope::~Scope() {
    if (!m_name) return;
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - m_start).count();
    const double cpuMs = processCpuMs() - m_cpuStart;
    std::lock_guard<std::mutex> lock(g_mutex);
    OpStat& s = stats()[m_name];
    s.name = m_name;
    s.ms += ms;
    s.cpuMs += cpuMs;
    s.calls += 1;
    s.flops += m_flops;
}

}  // namespace swd::profile
