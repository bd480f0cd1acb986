// Process-wide settings that decide CPU speed on the machines this runs on, and memory readings.
#pragma once

#include <cstdint>
#include <string>

namespace swd {

struct RuntimeOptions {
    int threads = 0;              // 0: every hardware thread (libtorch starts with 1 on small VMs)
    bool keepFreedMemory = true;  // keep freed blocks in the process instead of returning them to the OS
};

// Sets libtorch's intra-op threads and the allocator policy. Freed memory that glibc returns to the
// kernel must be faulted in again (~2.7 s/GB on these VMs), which dominates naive attention; keeping it
// in the process is what made diffusers 2x faster in ../shared/spec/cpu-performance.md.
void configureRuntime(const RuntimeOptions& options = {});

int runtimeThreads();

// Gives the free memory inside the heap back to the OS now (malloc_trim). With keepFreedMemory nothing
// else does: freeing large models (e.g. the text encoders after encoding) would leave RSS unchanged.
void returnFreedMemory();

// Resident set size of this process, now and at its peak (from /proc/self/status), in bytes.
std::uint64_t currentRssBytes();
std::uint64_t peakRssBytes();
// Resets the kernel's peak-RSS counter (VmHWM) where the kernel allows it; returns false otherwise.
bool resetPeakRss();

std::string formatBytes(std::uint64_t bytes);

// The inference libraries this build runs on, for --version and bug reports:
// "libtorch 1.13.0 (CPU), oneDNN fast paths".
std::string inferenceLibrariesDescription();

}  // namespace swd
