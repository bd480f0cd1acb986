#include "kernels/dnnl_backend.h"

#include "util/error.h"

#include <unordered_map>

namespace swd::dnnl_backend {

#if SWD_HAVE_ONEDNN

bool compiledIn() {
    return true;
}

bool usable(at::ScalarType dtype) {
    if (dtype == at::kFloat) return true;
    if (dtype != at::kBFloat16) return false;
    static const bool bf16 = [] {
        const auto isa = dnnl::get_effective_cpu_isa();
        return isa == dnnl::cpu_isa::avx512_core || isa == dnnl::cpu_isa::avx512_core_vnni ||
               isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx;
    }();
    return bf16;
}

std::string cpuIsa() {
    switch (dnnl::get_effective_cpu_isa()) {
        case dnnl::cpu_isa::sse41:
            return "sse41";
        case dnnl::cpu_isa::avx:
            return "avx";
        case dnnl::cpu_isa::avx2:
            return "avx2";
        case dnnl::cpu_isa::avx2_vnni:
            return "avx2_vnni";
        case dnnl::cpu_isa::avx512_core:
            return "avx512_core";
        case dnnl::cpu_isa::avx512_core_vnni:
            return "avx512_core_vnni";
        case dnnl::cpu_isa::avx512_core_bf16:
            return "avx512_core_bf16";
        case dnnl::cpu_isa::avx512_core_amx:
            return "avx512_core_amx";
        default:
            return "other";
    }
}

dnnl::engine& engine() {
    static dnnl::engine e(dnnl::engine::kind::cpu, 0);
    return e;
}

dnnl::stream& stream() {
    thread_local dnnl::stream s(engine());
    return s;
}

dnnl::memory::data_type dataType(at::ScalarType type) {
    switch (type) {
        case at::kFloat:
            return dnnl::memory::data_type::f32;
        case at::kBFloat16:
            return dnnl::memory::data_type::bf16;
        case at::kHalf:
            return dnnl::memory::data_type::f16;
        default:
            throwInternal("oneDNN backend: no oneDNN data type for {}", c10::toString(type));
    }
}

dnnl::memory::desc describe(at::IntArrayRef sizes, at::IntArrayRef strides, at::ScalarType type) {
    return dnnl::memory::desc(dnnl::memory::dims(sizes.begin(), sizes.end()), dataType(type),
                              dnnl::memory::dims(strides.begin(), strides.end()));
}

dnnl::memory::desc describe(const at::Tensor& t) {
    return describe(t.sizes(), t.strides(), t.scalar_type());
}

dnnl::memory wrap(const dnnl::memory::desc& desc, const at::Tensor& t) {
    return dnnl::memory(desc, engine(), t.data_ptr());
}

dnnl::primitive cachedPrimitive(const std::string& key, const std::function<dnnl::primitive()>& make) {
    thread_local std::unordered_map<std::string, dnnl::primitive> cache;
    const auto it = cache.find(key);
    if (it != cache.end()) return it->second;
    if (cache.size() >= 4096) cache.clear();
    dnnl::primitive p = make();
    cache.emplace(key, p);
    return p;
}

#else

bool compiledIn() {
    return false;
}

bool usable(at::ScalarType) {
    return false;
}

std::string cpuIsa() {
    return "none (built without oneDNN)";
}

#endif

}  // namespace swd::dnnl_backend
