// Golden kind "sid_pickle": SiD generator checkpoints as their authors release them (a pickled
// `{'ema' | 'G': UNet2DConditionModel}`), read by the restricted pickle reader. Per file, case.json
// `files` gives the key, the dtype and the tensor count; the tensors must equal the expected
// safetensors (the module's state_dict(), stored as F32) exactly: names, shapes and values.
#include "golden/golden_kinds.h"

#include "io/tensor_store.h"

#include <fmt/format.h>

#include <set>

namespace swd {

void checkSidPickleCase(const GoldenCase& c, GoldenReport& report) {
    for (const auto& [fileName, spec] : c.json().at("files").items()) {
        const PickleCheckpoint ckpt = readPickleCheckpoint(c.dir() / fileName);
        const std::string key = spec.at("key").get<std::string>();
        const std::string dtype = spec.at("dtype").get<std::string>();
        const auto count = spec.at("tensors").get<std::size_t>();
        report.checkCondition(fileName + " key", ckpt.key == key,
                              fmt::format("key '{}', expected '{}'", ckpt.key, key));
        report.checkCondition(fileName + " dtype", ckpt.dtype == dtype,
                              fmt::format("dtype {}, expected {}", ckpt.dtype, dtype));
        report.checkCondition(fileName + " tensors", ckpt.tensors.size() == count,
                              fmt::format("{} tensors, expected {}", ckpt.tensors.size(), count));

        const TensorStore expected = c.file(spec.at("expected").get<std::string>());
        std::set<std::string> got;
        std::vector<std::string> missing, mismatched;
        for (const auto& [name, tensor] : ckpt.tensors) {
            got.insert(name);
            if (!expected.has(name)) {
                missing.push_back(name);
                continue;
            }
            const at::Tensor want = expected.get(name);
            const at::Tensor mine = tensor.to(at::kFloat);  // fp16 -> F32 is exact
            if (mine.sizes() != want.sizes() || !at::equal(mine, want.to(at::kFloat)))
                mismatched.push_back(name);
        }
        std::vector<std::string> extra;
        for (const auto& name : expected.names())
            if (!got.count(name)) extra.push_back(name);
        auto first = [](const std::vector<std::string>& v) { return v.empty() ? std::string() : v.front(); };
        report.checkCondition(
            fileName + " names", missing.empty() && extra.empty(),
            fmt::format("{} not in the expected file (first '{}'), {} expected but not read "
                        "(first '{}')",
                        missing.size(), first(missing), extra.size(), first(extra)));
        report.checkCondition(fileName + " values", mismatched.empty(),
                              fmt::format("{} tensors differ in shape or value (first '{}')",
                                          mismatched.size(), first(mismatched)));
    }
}

}  // namespace swd
