#include "util/device.h"

#include "util/error.h"
#include "util/runtime.h"

#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <fmt/format.h>

#if defined(SWD_WITH_CUDA)
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace swd {

namespace {
int cudaDeviceCount() {
    return at::hasCUDA() ? at::detail::getCUDAHooks().getNumGPUs() : 0;
}
}  // namespace

bool cudaAvailable() {
    return at::hasCUDA() && cudaDeviceCount() > 0;
}

const char* dtypeName(at::ScalarType type) {
    switch (type) {
        case at::kBFloat16:
            return "bf16";
        case at::kHalf:
            return "fp16";
        case at::kFloat:
            return "fp32";
        default:
            return "other";
    }
}

at::Device parseDevice(const std::string& name) {
    if (name.empty() || name == "cpu") return at::Device(at::kCPU);
    if (name.rfind("cuda", 0) == 0) {
        if (!at::hasCUDA())
            throwUnsupported(
                "device '{}' was requested, but this build of libtorch has no CUDA support; use "
                "--device cpu, or build SwD Studio against a CUDA libtorch (see the README)",
                name);
        if (cudaDeviceCount() == 0)
            throwUnsupported("device '{}' was requested, but no CUDA GPU is visible to this process", name);
        try {
            const at::Device d(name);
            if (d.index() >= static_cast<int>(cudaDeviceCount()))
                throwUnsupported("device '{}' does not exist: this machine has {} CUDA GPU(s)", name,
                                 cudaDeviceCount());
            return d;
        } catch (const c10::Error&) {
            throwBadInput("'{}' is not a device; use cpu, cuda or cuda:N", name);
        }
    }
    throwBadInput("'{}' is not a device; use cpu, cuda or cuda:N", name);
}

std::string deviceDescription(const at::Device& device) {
    if (device.is_cpu()) return fmt::format("cpu ({} threads)", runtimeThreads());
    return device.str();
}

#if defined(SWD_WITH_CUDA)
std::uint64_t gpuPeakBytes(const at::Device& device) {
    if (!device.is_cuda()) return 0;
    const auto stats =
        c10::cuda::CUDACachingAllocator::getDeviceStats(device.index() < 0 ? 0 : device.index());
    return static_cast<std::uint64_t>(
        stats.allocated_bytes[static_cast<std::size_t>(c10::cuda::CUDACachingAllocator::StatType::AGGREGATE)]
            .peak);
}

void resetGpuPeak(const at::Device& device) {
    if (device.is_cuda())
        c10::cuda::CUDACachingAllocator::resetPeakStats(device.index() < 0 ? 0 : device.index());
}
#else
std::uint64_t gpuPeakBytes(const at::Device&) {
    return 0;
}

void resetGpuPeak(const at::Device&) {}
#endif

at::ScalarType componentDtype(Precision precision, const at::Device& device, Component component) {
    const bool cpu = device.is_cpu();
    switch (precision) {
        case Precision::FP32:
            return at::kFloat;
        case Precision::BF16:
            return at::kBFloat16;
        case Precision::FP16:
            if (cpu)
                throwUnsupported(
                    "fp16 cannot run on the CPU with this libtorch (no fp16 CPU kernels); use bf16 or fp32");
            return component == Component::TextEncoderT5 ? at::kBFloat16 : at::kHalf;
        case Precision::Auto:
            break;
    }
    return at::kBFloat16;
}

}  // namespace swd
