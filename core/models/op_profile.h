// Wall-clock time per operation kind inside the models (matmul variants, attention parts, norms), for
// `swd bench transformer --profile`. CPU ops run synchronously, so scoped timers measure them exactly.
// Off by default; a disabled scope costs one branch.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace swd::profile {

void setEnabled(bool on);
bool enabled();
void reset();

struct OpStat {
    std::string name;
    double ms = 0;     // wall clock
    double cpuMs = 0;  // CPU time of the whole process (all threads) while the scope ran
    long calls = 0;
    double flops = 0;  // floating-point operations counted by the scope (matmuls), 0 otherwise
};
// Every kind recorded since reset(), longest first.
std::vector<OpStat> snapshot();

// CPU time this process has used so far (user + system, all threads), in ms. With OMP_WAIT_POLICY=passive
// it counts work only, which makes it a measure of efficiency that other processes on the machine do not
// disturb much.
double processCpuMs();

class Scope {
public:
    explicit Scope(const char* name, double flops = 0.0) {
        if (enabled()) {
            m_name = name;
            m_flops = flops;
            m_cpuStart = processCpuMs();
            m_start = std::chrono::steady_clock::now();
        }
    }
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

private:
    const char* m_name = nullptr;
    double m_flops = 0;
    double m_cpuStart = 0;
    std::chrono::steady_clock::time_point m_start;
};

// Runs `body` inside a scope named `name` and returns what it returns.
template <typename F>
auto timed(const char* name, F&& body) {
    Scope scope(name);
    return body();
}

}  // namespace swd::profile
