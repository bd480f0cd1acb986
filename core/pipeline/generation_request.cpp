#include "pipeline/generation_request.h"

#include "io/file_hash.h"
#include "util/error.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace swd {

namespace {

constexpr const char* kRecordFormat = "swd-studio/1";

template <typename T>
T field(const nlohmann::json& j, const char* key, T fallback, const std::string& label) {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    try {
        return it->get<T>();
    } catch (const nlohmann::json::exception&) {
        throwBadInput("{}: field \"{}\" has the wrong type ({})", label, key, it->dump());
    }
}

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
    if (!j.is_object()) throwBadInput("{}: a generation request must be a JSON object", label);
    GenerationRequest r;
    r.prompt = field<std::string>(j, "prompt", "", label);
    r.negativePrompt = field<std::string>(j, "negative_prompt", "", label);
    r.seed = field<std::uint64_t>(j, "seed", 0, label);
    r.batchSize = field<int>(j, "batch_size", 1, label);
    if (r.batchSize < 1 || r.batchSize > 64)
        throwBadInput("{}: batch_size {} must be 1..64", label, r.batchSize);
    r.device = field<std::string>(j, "device", "cpu", label);
    const auto precision = precisionFromName(field<std::string>(j, "precision", "auto", label));
    if (!precision) throwBadInput("{}: unknown precision (use auto, bf16, fp16 or fp32)", label);
    r.precision = *precision;
    r.preview = parsePreviewMode(field<std::string>(j, "preview", "projection", label));
    r.useAdapter = field<bool>(j, "use_adapter", true, label);
    r.cfgBatched = field<bool>(j, "cfg_batched", true, label);
    r.label = field<std::string>(j, "label", "", label);
    if (!j.contains("schedule")) throwBadInput("{}: missing field \"schedule\"", label);
    r.schedule = scheduleFromJson(j["schedule"], label + " (schedule)");
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
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        throwBadInput("{}: the stored run is not valid JSON: {}", label, e.what());
    }
    if (!j.is_object() || j.value("format", "") != kRecordFormat || !j.contains("request"))
        throwBadInput("{}: the stored JSON is not a SwD Studio run (format \"{}\" expected)", label,
                      kRecordFormat);
    ImageRecord rec;
    rec.request = requestFromJson(j["request"], label);
    if (j.contains("provenance") && j["provenance"].is_object()) {
        const auto& p = j["provenance"];
        rec.provenance.modelName = field<std::string>(p, "model", "", label);
        rec.provenance.modelIdentity = field<std::string>(p, "model_identity", "", label);
        rec.provenance.modelHash = field<std::string>(p, "model_sha256", "", label);
        rec.provenance.adapterName = field<std::string>(p, "adapter", "", label);
        rec.provenance.adapterHash = field<std::string>(p, "adapter_sha256", "", label);
        rec.provenance.version = field<std::string>(p, "version", "", label);
        rec.provenance.deviceUsed = field<std::string>(p, "device", "", label);
        rec.provenance.dtypeUsed = field<std::string>(p, "dtype", "", label);
        rec.provenance.imageSeed = field<std::uint64_t>(p, "image_seed", rec.request.seed, label);
        rec.provenance.totalMs = field<double>(p, "total_ms", 0.0, label);
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
                value = nlohmann::json::parse(last.substr(v, e - v + 1)).get<std::string>();
            } catch (const nlohmann::json::exception&) {
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
