// Shared loading helpers of the text encoders: opening a checkpoint in any of the layouts SD3 models ship
// in (transformers folder with config.json, sharded index, single file, all-in-one file with a prefix),
// reading config.json, and taking a weight with its expected shape in the compute dtype.
#pragma once

#include "io/tensor_store.h"
#include "models/linear.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace swd {

// The weights under `prefix` of a folder (its config.json is read separately), an index json, a single
// .safetensors file or an all-in-one checkpoint. Throws BadInput when the path is missing or when
// nothing lies under the prefix.
TensorStore openTextEncoderWeights(const std::filesystem::path& path, const std::string& prefix);

// config.json of a transformers folder (`path` is the folder), or nullopt for files and folders without
// one. Throws BadInput naming the file when it is not valid JSON.
std::optional<nlohmann::json> readEncoderConfigJson(const std::filesystem::path& path);

// A json field as an integer / number, with an error naming the file and field.
std::int64_t jsonInt(const nlohmann::json& json, const char* key, const std::string& origin);
double jsonNumber(const nlohmann::json& json, const char* key, double fallback, const std::string& origin);

// The tensor `name` checked against `shape` (error names the file, tensor and both shapes), converted to
// `dtype` on `device`. Zero-copy when the file already holds that dtype on the CPU.
at::Tensor loadEncoderWeight(const TensorStore& store, const std::string& name, at::IntArrayRef shape,
                             at::ScalarType dtype, at::Device device);

// The number of entries below `prefix` that are consecutive indices 0..n-1 (e.g. the encoder layers);
// throws BadInput when an index is missing.
std::int64_t countIndexedChildren(const TensorStore& store, const std::string& prefix);

// The matmul backend of the text encoders: oneDNN directly on the CPU where it runs `dtype` (fp32 outputs
// from bf16 inputs, the residual add fused into the matmul), ATen otherwise (CUDA, builds without oneDNN).
MatmulBackend encoderMatmulBackend(at::ScalarType dtype, at::Device device);

// The compute dtype a caller asked for, checked: bf16 or fp32 (fp16 only on CUDA). `what` names the model.
at::ScalarType checkComputeDtype(at::ScalarType dtype, at::Device device, const char* what);

}  // namespace swd
