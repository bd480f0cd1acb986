// Direct oneDNN calls for the CPU fast path of the models (matmuls with fused post-ops, batched attention
// matmuls, softmax). libtorch 1.13 reaches oneDNN only through at::linear / at::matmul, which can neither
// fuse bias + GELU or gate + residual into the matmul nor write fp32 results from bf16 inputs; calling
// the library libtorch already loads (libdnnl.so.2) does both. Internal to core/models.
#pragma once

#include <ATen/ATen.h>

#include <string>

namespace swd::dnnl_backend {

// True when this build has oneDNN (SWD_HAVE_ONEDNN) and it runs `dtype` fast on this CPU: fp32 always,
// bf16 where the CPU has AVX-512 (oneDNN's bf16 kernels; native on AVX512-BF16).
bool usable(at::ScalarType dtype);
bool compiledIn();
// The instruction set oneDNN picked (e.g. "avx512_core_bf16"), for benchmark reports.
std::string cpuIsa();

}  // namespace swd::dnnl_backend

#if SWD_HAVE_ONEDNN
#include <dnnl.hpp>

#include <functional>

namespace swd::dnnl_backend {

dnnl::engine& engine();
// The stream of the calling thread (oneDNN streams are not shared between threads).
dnnl::stream& stream();

dnnl::memory::data_type dataType(at::ScalarType type);
// A plain memory descriptor with the sizes and strides of `t` (any strides, no copy).
dnnl::memory::desc describe(const at::Tensor& t);
dnnl::memory::desc describe(at::IntArrayRef sizes, at::IntArrayRef strides, at::ScalarType type);
// A memory object over the data of `t` (no copy; `t` must outlive its use).
dnnl::memory wrap(const dnnl::memory::desc& desc, const at::Tensor& t);

// Primitives by a caller-built key (shapes, strides, types, post-ops), so that the same matmul is created
// once per shape instead of on every call. Per thread; bounded.
dnnl::primitive cachedPrimitive(const std::string& key, const std::function<dnnl::primitive()>& make);

}  // namespace swd::dnnl_backend
#endif
