// Golden cases: reference outputs of the Python implementations (diffusers, transformers, SwD's own code)
// on tiny random-weight models, one folder per case with a case.json (format: tests/data/golden/README.md).
// The runner dispatches on the case's "kind" and reports one line per compared tensor.
#pragma once

#include "io/tensor_store.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace swd {

struct Tolerance {
    double atol = 0.0;
    double rtol = 0.0;
};

struct TensorComparison {
    bool pass = false;
    double maxAbsError = 0.0;
    double worstExcess = 0.0;  // max over elements of |got − expected| − (atol + rtol·|expected|)
    std::string problem;       // shape / dtype mismatch or non-finite values, empty otherwise
};

// Elementwise |got − expected| <= atol + rtol·|expected|, computed in float64. NaN anywhere fails.
TensorComparison compareTensors(const at::Tensor& got, const at::Tensor& expected, Tolerance tolerance);

struct GoldenOptions {
    std::filesystem::path tokenizersDir;  // empty: <case folder>/../../tokenizers
    std::string device = "cpu";
};

class GoldenCase {
public:
    static GoldenCase load(const std::filesystem::path& dir, const GoldenOptions& options = {});

    const std::filesystem::path& dir() const { return m_dir; }
    const nlohmann::json& json() const { return m_json; }
    const std::string& kind() const { return m_kind; }
    const GoldenOptions& options() const { return m_options; }
    std::string name() const { return m_dir.filename().string(); }

    // case.json -> key -> {atol, rtol}.
    Tolerance tolerance(const char* key = "tolerance") const;
    // A safetensors file of the case ("inputs.safetensors", "outputs.safetensors", ...).
    TensorStore file(const std::string& fileName) const;
    // A path field of case.json such as "../components (tokenizers: shared/tokenizers)", resolved against
    // the case folder (the parenthesised note is dropped).
    std::filesystem::path pathField(const char* key) const;
    std::filesystem::path tokenizersDir() const;

private:
    std::filesystem::path m_dir;
    nlohmann::json m_json;
    std::string m_kind;
    GoldenOptions m_options;
};

struct GoldenRun {
    std::string name;
    bool pass = false;
    double maxAbsError = 0.0;
    Tolerance tolerance;
    std::string note;
};

struct GoldenReport {
    std::filesystem::path dir;
    std::string kind;
    std::vector<GoldenRun> runs;
    std::string error;  // set when the case could not run at all (counts as a failure)

    bool passed() const;
    // Adds a run comparing `got` against `expected`.
    bool check(const std::string& name, const at::Tensor& got, const at::Tensor& expected,
               Tolerance tolerance);
    // Adds a run that passes when `ok`, e.g. for exact id lists; `detail` says what differed.
    bool checkCondition(const std::string& name, bool ok, const std::string& detail);
};

using GoldenKindRunner = std::function<void(const GoldenCase&, GoldenReport&)>;

struct GoldenKind {
    const char* kind;
    const char* what;
    GoldenKindRunner run;
};

// Every kind this build can check (see golden_kinds.cpp).
const std::vector<GoldenKind>& goldenKinds();

// Loads and runs one case. Never throws: errors become report.error (an unknown kind is an error).
GoldenReport runGoldenCase(const std::filesystem::path& dir, const GoldenOptions& options = {});

// One line per run: "PASS  case  run  max_abs_err=...  atol=... rtol=...".
std::string formatGoldenReport(const GoldenReport& report);

}  // namespace swd
