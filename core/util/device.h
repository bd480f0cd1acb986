// Devices and precisions: parsing what users type, checking what this build can run, and the safe
// default dtype of each component on each device.
#pragma once

#include "util/kinds.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <string>

namespace swd {

const char* dtypeName(at::ScalarType type);  // "bf16", "fp16", "fp32", else "other": for run records

enum class Component { Transformer, TextEncoderClip, TextEncoderT5, Vae };

// "cpu", "cuda", "cuda:1". Throws Unsupported when CUDA is asked of a build or machine without it,
// BadInput for anything else that is not a device.
at::Device parseDevice(const std::string& name);
bool cudaAvailable();
std::string deviceDescription(const at::Device& device);  // "cpu (2 threads)", "cuda:0 (NVIDIA H100 ...)"

// Peak bytes the CUDA caching allocator handed out on `device` since the last reset (0 on the CPU or in a
// build without CUDA), and the reset.
std::uint64_t gpuPeakBytes(const at::Device& device);
void resetGpuPeak(const at::Device& device);

// The dtype a component runs in. Auto: bf16 on CPU (oneDNN; libtorch has no fp16 CPU kernels), bf16 on
// CUDA where supported, else fp16. FP16 on the CPU is refused (Unsupported). T5 never runs in fp16
// (its activations overflow): fp16 becomes bf16, or fp32 where bf16 is unavailable.
at::ScalarType componentDtype(Precision precision, const at::Device& device, Component component);

}  // namespace swd
