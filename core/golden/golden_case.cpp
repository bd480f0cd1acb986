#include "golden/golden_case.h"

#include "util/error.h"
#include "util/json_reader.h"

#include <fmt/format.h>

#include <fstream>

namespace swd {

namespace fs = std::filesystem;

TensorComparison compareTensors(const at::Tensor& got, const at::Tensor& expected, Tolerance tolerance) {
    TensorComparison result;
    if (!got.defined() || !expected.defined()) {
        result.problem = "tensor missing";
        return result;
    }
    if (got.sizes() != expected.sizes()) {
        result.problem = fmt::format("shape {} differs from the expected {}", shapeToString(got.sizes()),
                                     shapeToString(expected.sizes()));
        return result;
    }
    const auto g = got.detach().to(at::kCPU, at::kDouble);
    const auto e = expected.detach().to(at::kCPU, at::kDouble);
    if (g.numel() == 0) {
        result.pass = true;
        return result;
    }
    const auto diff = (g - e).abs();
    if (!diff.isfinite().all().item<bool>()) {
        result.problem = "non-finite values";
        result.maxAbsError = std::numeric_limits<double>::infinity();
        return result;
    }
    result.maxAbsError = diff.max().item<double>();
    result.worstExcess = (diff - (tolerance.atol + tolerance.rtol * e.abs())).max().item<double>();
    result.pass = result.worstExcess <= 0.0;
    return result;
}

GoldenCase GoldenCase::load(const fs::path& dir, const GoldenOptions& options) {
    GoldenCase c;
    c.m_dir = fs::absolute(dir).lexically_normal();
    if (c.m_dir.filename().empty()) c.m_dir = c.m_dir.parent_path();
    c.m_options = options;
    const fs::path jsonPath = c.m_dir / "case.json";
    std::error_code ec;
    if (!fs::exists(jsonPath, ec))
        throwBadInput("{}: no case.json (is this a golden case folder?)", c.m_dir.string());
    c.m_json = readJsonFile(jsonPath, "golden case");
    if (!c.m_json.is_object() || !c.m_json.contains("kind") || !c.m_json["kind"].is_string())
        throwBadInput("{}: needs a \"kind\" string", jsonPath.string());
    c.m_kind = c.m_json["kind"].get<std::string>();
    return c;
}

Tolerance GoldenCase::tolerance(const char* key) const {
    const auto it = m_json.find(key);
    if (it == m_json.end() || !it->is_object() || !it->contains("atol"))
        throwBadInput("{}/case.json: no \"{}\" with atol/rtol", m_dir.string(), key);
    Tolerance t;
    t.atol = (*it)["atol"].get<double>();
    t.rtol = it->value("rtol", 0.0);
    return t;
}

TensorStore GoldenCase::file(const std::string& fileName) const {
    return TensorStore::openFile(m_dir / fileName);
}

fs::path GoldenCase::pathField(const char* key) const {
    const auto it = m_json.find(key);
    if (it == m_json.end() || !it->is_string())
        throwBadInput("{}/case.json: no \"{}\" path", m_dir.string(), key);
    std::string value = it->get<std::string>();
    const auto paren = value.find(" (");
    if (paren != std::string::npos) value = value.substr(0, paren);
    while (!value.empty() && value.back() == ' ') value.pop_back();
    return (m_dir / value).lexically_normal();
}

fs::path GoldenCase::tokenizersDir() const {
    if (!m_options.tokenizersDir.empty()) return m_options.tokenizersDir;
    return (m_dir.parent_path().parent_path() / "tokenizers").lexically_normal();
}

bool GoldenReport::passed() const {
    if (!error.empty() || runs.empty()) return false;
    for (const auto& r : runs)
        if (!r.pass) return false;
    return true;
}

bool GoldenReport::check(const std::string& name, const at::Tensor& got, const at::Tensor& expected,
                         Tolerance tolerance) {
    const auto cmp = compareTensors(got, expected, tolerance);
    runs.push_back({name, cmp.pass, cmp.maxAbsError, tolerance, cmp.problem});
    return cmp.pass;
}

bool GoldenReport::checkCondition(const std::string& name, bool ok, const std::string& detail) {
    runs.push_back({name, ok, ok ? 0.0 : 1.0, {}, ok ? std::string() : detail});
    return ok;
}

GoldenReport runGoldenCase(const fs::path& dir, const GoldenOptions& options) {
    GoldenReport report;
    report.dir = dir;
    try {
        const GoldenCase c = GoldenCase::load(dir, options);
        report.dir = c.dir();
        report.kind = c.kind();
        const GoldenKind* kind = nullptr;
        for (const auto& k : goldenKinds())
            if (c.kind() == k.kind) kind = &k;
        if (!kind) {
            std::string known;
            for (const auto& k : goldenKinds()) known += std::string(known.empty() ? "" : ", ") + k.kind;
            report.error = fmt::format("unknown golden kind '{}' (this build checks: {})", c.kind(), known);
            return report;
        }
        kind->run(c, report);
        if (report.runs.empty() && report.error.empty()) report.error = "the case compared nothing";
    } catch (const std::exception& e) {
        report.error = e.what();
    }
    return report;
}

std::string formatGoldenReport(const GoldenReport& report) {
    std::string out;
    const std::string caseName = report.dir.filename().string();
    for (const auto& r : report.runs) {
        out += fmt::format("{}  {}  {}  max_abs_err={:.3g}  atol={:.3g} rtol={:.3g}{}\n",
                           r.pass ? "PASS" : "FAIL", caseName, r.name, r.maxAbsError, r.tolerance.atol,
                           r.tolerance.rtol, r.note.empty() ? "" : "  (" + r.note + ")");
    }
    if (!report.error.empty()) out += fmt::format("FAIL  {}  {}\n", caseName, report.error);
    return out;
}

}  // namespace swd
