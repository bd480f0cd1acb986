#include "pipeline/generation_request.h"

#include "io/file_hash.h"
#include "util/error.h"
#include "util/json_reader.h"
#include "util/torch_compat.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace swd {

std::string softwareVersion() {
    return fmt::format("swd-studio {} (libtorch {})", SWD_VERSION, compat::torchVersionString());
}

PreviewMode parsePreviewMode(const std::string& name) {
    if (const auto mode = kindFromId<PreviewMode>(name)) return *mode;
    throwBadInput("unknown preview mode '{}' (expected {})", cutForMessage(name), kindIdList<PreviewMode>());
}

namespace {

constexpr const char* kRecordFormat = "swd-studio/1";

// The stored run of an image is read from the image's text; a few MB covers any prompt.
constexpr std::uint64_t kMaxRecordBytes = 4ull * 1024 * 1024;

// A1111 writes a value bare unless it holds a comma, colon or quote; then it is JSON-quoted.
std::string a1111Value(const std::string& v) {
    if (v.find_first_of(",:\"\n") == std::string::npos) return v;
    return nlohmann::json(v).dump();
}

bool isSha256(const std::string& h) {
    return h.size() == 64 && h.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
}

// A1111's "Lora hashes" splits its value at ", " and ": ", so an alias may hold neither.
std::string loraAlias(std::string name) {
    for (char& c : name)
        if (c == ',' || c == ':') c = '_';
    return name;
}

std::string formatSigma(double s) {
    return fmt::format("{:.6g}", s);
}

}  // namespace

nlohmann::json requestToJson(const GenerationRequest& r) {
    nlohmann::ordered_json j;
    j["prompt"] = r.prompt;
    j["negative_prompt"] = r.negativePrompt;
    j["seed"] = r.seed;
    j["batch_size"] = r.batchSize;
    j["device"] = r.device;
    j["precision"] = precisionName(r.precision);
    j["preview"] = previewModeName(r.preview);
    j["use_adapter"] = r.useAdapter;
    j["cfg_batched"] = r.cfgBatched;
    if (!r.label.empty()) j["label"] = r.label;
    j["schedule"] = scheduleToJson(r.schedule);
    return nlohmann::json(j);
}

GenerationRequest requestFromJson(const nlohmann::json& j, const std::string& label) {
    const JsonField in(j, label);
    in.requireObject("a generation request (a JSON object)");
    GenerationRequest r;
    r.prompt = in.stringOr("prompt", "");
    r.negativePrompt = in.stringOr("negative_prompt", "");
    r.seed = in.uint64Or("seed", 0);
    r.batchSize = in.intOr("batch_size", 1);
    if (r.batchSize < 1 || r.batchSize > 64)
        throwBadInput("{}: batch_size {} must be 1..64", label, r.batchSize);
    r.device = in.stringOr("device", "cpu");
    const auto precisionText = in.stringOr("precision", "auto");
    const auto precision = precisionFromName(precisionText);
    if (!precision)
        throwBadInput("{}: unknown precision {} (use auto, bf16, fp16 or fp32)", label,
                      quoteForMessage(precisionText));
    r.precision = *precision;
    r.preview = parsePreviewMode(in.stringOr("preview", "projection"));
    r.useAdapter = in.boolOr("use_adapter", true);
    r.cfgBatched = in.boolOr("cfg_batched", true);
    r.label = in.stringOr("label", "");
    r.schedule = scheduleFromJson(in.require("schedule").json(), label + " (schedule)");
    return r;
}

std::string imageRecordJson(const GenerationRequest& request, const RunProvenance& p) {
    nlohmann::ordered_json prov;
    prov["model"] = p.modelName;
    prov["model_identity"] = p.modelIdentity;
    prov["model_sha256"] = p.modelHash;
    prov["adapter"] = p.adapterName;
    prov["adapter_sha256"] = p.adapterHash;
    prov["version"] = p.version;
    prov["device"] = p.deviceUsed;
    prov["dtype"] = p.dtypeUsed;
    prov["image_seed"] = p.imageSeed;
    prov["total_ms"] = p.totalMs;
    nlohmann::ordered_json j;
    j["format"] = kRecordFormat;
    j["request"] = requestToJson(request);
    j["provenance"] = prov;
    return j.dump();
}

ImageRecord parseImageRecord(const std::string& text, const std::string& label) {
    JsonLimits limits;
    limits.maxBytes = kMaxRecordBytes;
    const nlohmann::json j = parseJson(text, label + " (stored run)", limits);
    const JsonField root(j, label);
    if (!j.is_object() || !j.contains("format") || !j["format"].is_string() ||
        j["format"].get_ref<const std::string&>() != kRecordFormat || !j.contains("request"))
        throwBadInput("{}: the stored JSON is not a SwD Studio run (format \"{}\" expected)", label,
                      kRecordFormat);
    ImageRecord rec;
    rec.request = requestFromJson(j["request"], label);
    if (const auto p = root.find("provenance"); p && p->json().is_object()) {
        rec.provenance.modelName = p->stringOr("model", "");
        rec.provenance.modelIdentity = p->stringOr("model_identity", "");
        rec.provenance.modelHash = p->stringOr("model_sha256", "");
        rec.provenance.adapterName = p->stringOr("adapter", "");
        rec.provenance.adapterHash = p->stringOr("adapter_sha256", "");
        rec.provenance.version = p->stringOr("version", "");
        rec.provenance.deviceUsed = p->stringOr("device", "");
        rec.provenance.dtypeUsed = p->stringOr("dtype", "");
        rec.provenance.imageSeed = p->uint64Or("image_seed", rec.request.seed);
        rec.provenance.totalMs = p->doubleOr("total_ms", 0.0);
    }
    return rec;
}

std::string a1111Parameters(const GenerationRequest& r, const RunProvenance& p) {
    const Schedule& s = r.schedule;
    std::string out = r.prompt;
    // Written whenever there is one (A1111 does), even when CFG 1 leaves it unused.
    if (!r.negativePrompt.empty()) out += "\nNegative prompt: " + r.negativePrompt;
    std::vector<std::string> sigmas;
    for (double v : s.sigmas) sigmas.push_back(formatSigma(v));
    std::vector<std::pair<std::string, std::string>> kv = {
        {"Steps", std::to_string(s.stepCount())},
        // Full resolution is A1111's "Euler" on the SD3 flow-matching schedule; scale-wise sampling has no
        // A1111 sampler, its details are our own Scales/Sigmas keys.
        {"Sampler", s.sampler == SamplerKind::ScaleWise ? "SwD scale-wise" : "Euler"},
        {"CFG scale", fmt::format("{:g}", s.guidance)},
        {"Seed", std::to_string(p.imageSeed ? p.imageSeed : r.seed)},
        {"Size", fmt::format("{}x{}", r.width(), r.height())},
    };
    if (!p.modelHash.empty()) kv.emplace_back("Model hash", shortHash(p.modelHash));
    if (!p.modelName.empty()) kv.emplace_back("Model", p.modelName);
    if (!p.adapterName.empty()) {
        // A1111/civitai: Lora hashes: "alias: hash, alias: hash" (the hash is AutoV2, as for the model).
        if (isSha256(p.adapterHash))
            kv.emplace_back("Lora hashes", loraAlias(p.adapterName) + ": " + shortHash(p.adapterHash));
        kv.emplace_back("Adapter", p.adapterName);
    }
    if (!s.name.empty()) kv.emplace_back("Schedule", s.name);
    kv.emplace_back("Scales", fmt::format("[{}]", fmt::join(s.scales, ", ")));
    kv.emplace_back("Sigmas", fmt::format("[{}]", fmt::join(sigmas, ", ")));
    if (s.steps && s.shift) kv.emplace_back("Shift", fmt::format("{:g}", *s.shift));
    kv.emplace_back("T5 length", std::to_string(s.t5Length));
    if (!p.version.empty()) kv.emplace_back("Version", p.version);
    std::string line;
    for (const auto& [k, v] : kv) line += (line.empty() ? "" : ", ") + k + ": " + a1111Value(v);
    return out + "\n" + line;
}

const std::string* A1111Parameters::find(const std::string& key) const {
    for (const auto& [k, v] : values)
        if (k == key) return &v;
    return nullptr;
}

A1111Parameters parseA1111Parameters(const std::string& text) {
    A1111Parameters out;
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start <= text.size()) {
        const auto end = text.find('\n', start);
        lines.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
        if (end == std::string::npos) break;
        start = end + 1;
    }
    // The last line holds "Key: value, Key: value" when it starts with "Steps:".
    std::string last;
    if (!lines.empty() && lines.back().rfind("Steps: ", 0) == 0) {
        last = lines.back();
        lines.pop_back();
    }
    bool negative = false;
    for (const auto& l : lines) {
        if (l.rfind("Negative prompt: ", 0) == 0) {
            negative = true;
            out.negativePrompt = l.substr(17);
        } else if (negative) {
            out.negativePrompt += "\n" + l;
        } else {
            out.prompt += (out.prompt.empty() ? "" : "\n") + l;
        }
    }
    std::size_t i = 0;
    while (i < last.size()) {
        const auto colon = last.find(": ", i);
        if (colon == std::string::npos) break;
        std::string key = last.substr(i, colon - i);
        std::size_t v = colon + 2;
        std::string value;
        if (v < last.size() && last[v] == '"') {
            // JSON-quoted: find the closing quote that is not escaped.
            std::size_t e = v + 1;
            while (e < last.size() && !(last[e] == '"' && last[e - 1] != '\\')) ++e;
            try {
                const nlohmann::json quoted = parseJson(last.substr(v, e - v + 1), "parameters");
                value = quoted.is_string() ? quoted.get<std::string>() : last.substr(v + 1, e - v - 1);
            } catch (const std::exception&) {
                value = last.substr(v + 1, e - v - 1);
            }
            i = last.find(", ", e);
        } else {
            const auto comma = last.find(", ", v);
            value = last.substr(v, comma == std::string::npos ? std::string::npos : comma - v);
            i = comma;
        }
        out.values.emplace_back(std::move(key), std::move(value));
        if (i == std::string::npos) break;
        i += 2;
    }
    return out;
}

}  // namespace swd
