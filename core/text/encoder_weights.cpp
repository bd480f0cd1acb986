#include "text/encoder_weights.h"

#include "kernels/dnnl_backend.h"
#include "util/error.h"
#include "util/json_reader.h"

#include <fstream>

namespace swd {

namespace fs = std::filesystem;

TensorStore openTextEncoderWeights(const fs::path& path, const std::string& prefix) {
    std::error_code ec;
    if (path.empty()) throwBadInput("text encoder: no weights path given");
    if (!fs::exists(path, ec))
        throwBadInput(
            "{}: no such file or folder (expected a text encoder: a transformers folder with "
            "model.safetensors, a .safetensors file, or an all-in-one checkpoint)",
            path.string());
    TensorStore store = TensorStore::open(path);
    if (prefix.empty()) return store;
    TensorStore view = store.withPrefix(prefix);
    if (view.empty())
        throwBadInput(
            "{}: holds no tensor under '{}'; this checkpoint does not bundle that text encoder (pass "
            "the encoder's own file instead)",
            path.string(), prefix);
    return view;
}

std::optional<nlohmann::json> readEncoderConfigJson(const fs::path& path) {
    std::error_code ec;
    if (!fs::is_directory(path, ec)) return std::nullopt;
    const fs::path file = path / "config.json";
    if (!fs::exists(file, ec)) return std::nullopt;
    nlohmann::json json = readJsonFile(file, "model config");
    if (!json.is_object()) throwBadInput("{}: expected a JSON object (the model config)", file.string());
    return json;
}

std::int64_t jsonInt(const nlohmann::json& json, const char* key, const std::string& origin) {
    const auto it = json.find(key);
    if (it == json.end() || !it->is_number_integer() || it->get<std::int64_t>() <= 0)
        throwBadInput("{}: needs a positive integer \"{}\"{}", origin, key,
                      it == json.end() ? "" : fmt::format(", found {}", describeJson(*it)));
    return it->get<std::int64_t>();
}

double jsonNumber(const nlohmann::json& json, const char* key, double fallback, const std::string& origin) {
    const auto it = json.find(key);
    if (it == json.end()) return fallback;
    if (!it->is_number())
        throwBadInput("{}: \"{}\" must be a number, found {}", origin, key, describeJson(*it));
    return it->get<double>();
}

at::Tensor loadEncoderWeight(const TensorStore& store, const std::string& name, at::IntArrayRef shape,
                             at::ScalarType dtype, at::Device device) {
    at::Tensor t = store.get(name, shape);
    if (!at::isFloatingType(t.scalar_type()))
        throwBadInput("{}: tensor '{}' has dtype {}, expected floating-point weights",
                      store.fileOf(name).string(), store.prefix() + name, c10::toString(t.scalar_type()));
    if (t.scalar_type() == dtype && t.device() == device) return t;
    return t.to(device, dtype);
}

std::int64_t countIndexedChildren(const TensorStore& store, const std::string& prefix) {
    const auto children = store.children(prefix);
    std::int64_t n = 0;
    for (const auto& c : children) {
        if (c != std::to_string(n))
            throwBadInput(
                "{}: the entries under '{}' should be numbered 0, 1, 2, ...; found '{}' where {} was "
                "expected (an incomplete or foreign checkpoint)",
                store.describe(), store.prefix() + prefix, c, n);
        ++n;
    }
    return n;
}

MatmulBackend encoderMatmulBackend(at::ScalarType dtype, at::Device device) {
    return device.is_cpu() && dnnl_backend::usable(dtype) ? MatmulBackend::OneDnn : MatmulBackend::Aten;
}

at::ScalarType checkComputeDtype(at::ScalarType dtype, at::Device device, const char* what) {
    if (dtype == at::kFloat || dtype == at::kBFloat16) return dtype;
    if (dtype == at::kHalf && device.is_cuda()) return dtype;
    if (dtype == at::kHalf)
        throwUnsupported("{}: fp16 has no CPU compute in this libtorch; use bf16 or fp32", what);
    throwUnsupported("{}: compute dtype {} is not supported; use bf16 or fp32", what, c10::toString(dtype));
}

}  // namespace swd
