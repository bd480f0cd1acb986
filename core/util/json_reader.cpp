#include "util/json_reader.h"

#include "util/error.h"
#include "util/file_read.h"

#include <fmt/format.h>

#include <cmath>

namespace swd {

namespace {

using nlohmann::json;

// Builds the document like nlohmann's own DOM parser, but refuses nesting beyond the limit before
// creating the deeper value, and keeps the error's byte position and token.
class BoundedBuilder {
public:
    BoundedBuilder(json& root, const JsonLimits& limits) : m_root(root), m_limits(limits) {}

    bool null() { return value(json(nullptr)); }
    bool boolean(bool v) { return value(json(v)); }
    bool number_integer(json::number_integer_t v) { return value(json(v)); }
    bool number_unsigned(json::number_unsigned_t v) { return value(json(v)); }
    bool number_float(json::number_float_t v, const json::string_t&) { return value(json(v)); }
    bool string(json::string_t& v) { return value(json(std::move(v))); }
    bool binary(json::binary_t& v) { return value(json::binary(std::move(v))); }
    bool start_object(std::size_t) { return open(json::object()); }
    bool start_array(std::size_t) { return open(json::array()); }
    bool end_object() { return close(); }
    bool end_array() { return close(); }
    bool key(json::string_t& k) {
        json& object = *m_stack.back();
        if (m_limits.rejectDuplicateKeys && object.contains(k)) {
            m_duplicate = true;
            m_duplicateKey = k;
            m_duplicatePath = pathString();
            return false;
        }
        m_member = &object[k];
        m_keys.back() = k;
        return true;
    }
    bool parse_error(std::size_t position, const std::string& lastToken, const json::exception& ex) {
        m_errorPosition = position;
        m_errorToken = lastToken;
        m_errorId = ex.id;
        m_errorText = ex.what();
        return false;
    }

    bool tooDeep() const { return m_tooDeep; }
    bool duplicate() const { return m_duplicate; }
    const std::string& duplicateKey() const { return m_duplicateKey; }
    const std::string& duplicatePath() const { return m_duplicatePath; }
    std::size_t errorPosition() const { return m_errorPosition; }
    const std::string& errorToken() const { return m_errorToken; }
    int errorId() const { return m_errorId; }
    const std::string& errorText() const { return m_errorText; }

private:
    json* place(json&& v) {
        if (m_stack.empty()) {
            m_root = std::move(v);
            return &m_root;
        }
        json& top = *m_stack.back();
        if (top.is_array()) {
            top.push_back(std::move(v));
            return &top.back();
        }
        *m_member = std::move(v);
        return m_member;
    }
    bool value(json&& v) {
        place(std::move(v));
        return true;
    }
    bool open(json&& container) {
        if (static_cast<int>(m_stack.size()) + 1 > m_limits.maxDepth) {
            m_tooDeep = true;
            return false;
        }
        m_stack.push_back(place(std::move(container)));
        m_keys.emplace_back();
        return true;
    }
    bool close() {
        m_stack.pop_back();
        m_keys.pop_back();
        return true;
    }

public:
    // Where the parser is: "weight_map.a", "scales[3]" (empty at the top level).
    std::string fieldPath() const {
        std::string path;
        for (std::size_t i = 0; i < m_stack.size(); ++i) {
            if (m_stack[i]->is_array()) {
                // An open child is already the last element; at the top the next one is being read.
                const std::size_t n = m_stack[i]->size();
                path += fmt::format("[{}]", i + 1 < m_stack.size() && n > 0 ? n - 1 : n);
            } else if (!m_keys[i].empty()) {
                if (!path.empty()) path += '.';
                path += cutForMessage(m_keys[i], 48);
            }
        }
        return path;
    }

private:
    // Path of the open object, for duplicate-key messages (keys are not kept: the top level suffices
    // for every caller so far, deeper ones are described by depth).
    std::string pathString() const {
        return m_stack.size() <= 1 ? std::string() : fmt::format("(at depth {})", m_stack.size());
    }

    json& m_root;
    const JsonLimits& m_limits;
    std::vector<json*> m_stack;
    std::vector<std::string> m_keys;  // per open container: the member being read
    json* m_member = nullptr;
    bool m_tooDeep = false;
    bool m_duplicate = false;
    std::string m_duplicateKey, m_duplicatePath;
    std::size_t m_errorPosition = 0;
    std::string m_errorToken;
    int m_errorId = 0;
    std::string m_errorText;
};

// Line and column (1-based) of a byte offset.
std::pair<std::size_t, std::size_t> lineColumn(std::string_view text, std::size_t offset) {
    offset = std::min(offset, text.size());
    std::size_t line = 1, lineStart = 0;
    for (std::size_t i = 0; i < offset; ++i)
        if (text[i] == '\n') {
            ++line;
            lineStart = i + 1;
        }
    return {line, offset - lineStart + 1};
}

// Offset of the bracket that opens nesting level `depth` (outside strings), for the depth error.
std::size_t offsetOfDepth(std::string_view text, int depth) {
    int level = 0;
    bool inString = false, escaped = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (inString) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                inString = false;
        } else if (c == '"') {
            inString = true;
        } else if (c == '[' || c == '{') {
            if (++level == depth) return i + 1;
        } else if (c == ']' || c == '}') {
            --level;
        }
    }
    return text.size();
}

// nlohmann's reason without its "[json.exception...] parse error at line L, column C: " prefix, cut.
std::string shortReason(const std::string& what) {
    std::string reason = what;
    if (const auto bracket = reason.find("] ");
        reason.rfind("[json.exception", 0) == 0 && bracket != std::string::npos)
        reason.erase(0, bracket + 2);
    if (reason.rfind("parse error", 0) == 0)
        if (const auto colon = reason.find(": "); colon != std::string::npos) reason.erase(0, colon + 2);
    constexpr std::size_t kMax = 160;
    if (reason.size() > kMax) reason = reason.substr(0, kMax) + "...";
    return reason;
}

std::string childPath(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
}

}  // namespace

std::string cutForMessage(std::string_view s, std::size_t maxChars) {
    std::string out;
    std::size_t shown = 0;
    for (std::size_t i = 0; i < s.size() && shown < maxChars; ++i, ++shown) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7f)
            out += fmt::format("\\x{:02x}", c);
        else
            out += static_cast<char>(c);
    }
    if (shown < s.size()) {
        // Do not end inside a UTF-8 sequence.
        while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
        if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xC0) out.pop_back();
        out += fmt::format("... ({} bytes)", s.size());
    }
    return out;
}

std::string quoteForMessage(std::string_view s, std::size_t maxChars) {
    return "\"" + cutForMessage(s, maxChars) + "\"";
}

std::string describeJson(const json& v) {
    switch (v.type()) {
        case json::value_t::string:
            return quoteForMessage(v.get_ref<const std::string&>());
        case json::value_t::array:
            return v.empty() ? "an empty array" : fmt::format("an array of {}", v.size());
        case json::value_t::object:
            return v.empty() ? "an empty object" : fmt::format("an object of {} fields", v.size());
        case json::value_t::binary:
            return "binary data";
        case json::value_t::discarded:
            return "nothing";
        default:
            return v.dump();  // null, boolean or number: short
    }
}

json parseJson(std::string_view text, const std::string& label, const JsonLimits& limits) {
    if (text.size() > limits.maxBytes)
        throwBadInput("{}: the JSON is {} bytes, more than the {} accepted", label, text.size(),
                      limits.maxBytes);
    json root;
    BoundedBuilder builder(root, limits);
    const bool ok = json::sax_parse(text.begin(), text.end(), &builder);
    if (ok) return root;
    // Where it went wrong, before the partial tree goes (the path points into it).
    const std::string path = builder.fieldPath();
    const std::string field = path.empty() ? "" : fmt::format(", field \"{}\"", cutForMessage(path, 160));
    root = json();  // nlohmann destroys nested values iteratively
    if (builder.tooDeep()) {
        const auto [line, column] = lineColumn(text, offsetOfDepth(text, limits.maxDepth + 1));
        throwBadInput(
            "{}: JSON nested deeper than {} levels (line {}, column {}{}); this is not a file "
            "SwD Studio wrote or reads",
            label, limits.maxDepth, line, column, field);
    }
    if (builder.duplicate())
        throwBadInput("{}: {} '{}' appears more than once{}", label, limits.duplicateKeyNoun,
                      cutForMessage(builder.duplicateKey()),
                      builder.duplicatePath().empty() ? "" : " " + builder.duplicatePath());
    const auto [line, column] =
        lineColumn(text, builder.errorPosition() > 0 ? builder.errorPosition() - 1 : 0);
    if (builder.errorId() == 406)  // out_of_range: a number beyond a double
        throwBadInput("{}: not valid JSON (line {}, column {}{}): the number {} is out of range", label, line,
                      column, field, quoteForMessage(builder.errorToken(), 32));
    throwBadInput("{}: not valid JSON (line {}, column {}{}): {}", label, line, column, field,
                  shortReason(builder.errorText()));
}

json readJsonFile(const std::filesystem::path& path, const char* what, const JsonLimits& limits) {
    return parseJson(readRegularFile(path, what, limits.maxBytes), path.string(), limits);
}

// ---------------------------------------------------------------------------------------------------
// JsonField

JsonField::JsonField(const nlohmann::json& value, std::string label, std::string path)
    : m_value(&value), m_label(std::move(label)), m_path(std::move(path)) {}

std::string JsonField::where() const {
    return m_path.empty() ? m_label : fmt::format("{}: field \"{}\"", m_label, m_path);
}

void JsonField::fail(const std::string& problem) const {
    if (m_path.empty()) throwBadInput("{}: the document {}", m_label, problem);
    throwBadInput("{} {}", where(), problem);
}

void JsonField::requireObject(const char* what) const {
    if (!m_value->is_object())
        fail(fmt::format("has the wrong type: {} is needed, found {}", what, describeJson(*m_value)));
}

void JsonField::requireArray() const {
    if (!m_value->is_array())
        fail(fmt::format("has the wrong type: an array is needed, found {}", describeJson(*m_value)));
}

bool JsonField::has(const std::string& key) const {
    if (!m_value->is_object()) return false;
    const auto it = m_value->find(key);
    return it != m_value->end() && !it->is_null();
}

std::optional<JsonField> JsonField::find(const std::string& key) const {
    requireObject();
    const auto it = m_value->find(key);
    if (it == m_value->end() || it->is_null()) return std::nullopt;
    return JsonField(*it, m_label, childPath(m_path, key));
}

JsonField JsonField::require(const std::string& key) const {
    if (auto f = find(key)) return *f;
    throwBadInput("{}: missing field \"{}\"", m_label, childPath(m_path, key));
}

std::size_t JsonField::size() const {
    requireArray();
    return m_value->size();
}

JsonField JsonField::element(std::size_t index) const {
    requireArray();
    if (index >= m_value->size()) fail(fmt::format("has no entry {} (it has {})", index, m_value->size()));
    return JsonField((*m_value)[index], m_label, fmt::format("{}[{}]", m_path, index));
}

std::vector<JsonField> JsonField::elements() const {
    requireArray();
    std::vector<JsonField> out;
    out.reserve(m_value->size());
    for (std::size_t i = 0; i < m_value->size(); ++i)
        out.emplace_back((*m_value)[i], m_label, fmt::format("{}[{}]", m_path, i));
    return out;
}

std::string JsonField::asString() const {
    if (!m_value->is_string())
        fail(fmt::format("has the wrong type: a string is needed, found {}", describeJson(*m_value)));
    return m_value->get<std::string>();
}

bool JsonField::asBool() const {
    if (!m_value->is_boolean())
        fail(fmt::format("has the wrong type: true or false is needed, found {}", describeJson(*m_value)));
    return m_value->get<bool>();
}

double JsonField::asDouble() const {
    if (!m_value->is_number())
        fail(fmt::format("has the wrong type: a number is needed, found {}", describeJson(*m_value)));
    const double v = m_value->get<double>();
    if (!std::isfinite(v)) fail(fmt::format("{} is not a finite number", describeJson(*m_value)));
    return v;
}

std::int64_t JsonField::asInt64(std::int64_t min, std::int64_t max) const {
    const auto outOfRange = [&] {
        fail(fmt::format("{} is out of range ({} to {})", describeJson(*m_value), min, max));
    };
    if (m_value->is_number_unsigned()) {
        const auto u = m_value->get<std::uint64_t>();
        if (max < 0 || u > static_cast<std::uint64_t>(max)) outOfRange();
        const auto v = static_cast<std::int64_t>(u);
        if (v < min) outOfRange();
        return v;
    }
    if (m_value->is_number_integer()) {
        const auto v = m_value->get<std::int64_t>();
        if (v < min || v > max) outOfRange();
        return v;
    }
    if (m_value->is_number_float()) {
        const double d = m_value->get<double>();
        if (!std::isfinite(d) || d != std::floor(d))
            fail(fmt::format("{} is not a whole number (an integer is needed)", describeJson(*m_value)));
        // Doubles beyond +-2^63 cannot be converted; within it, compare as integers.
        if (d < -9223372036854775808.0 || d >= 9223372036854775808.0) outOfRange();
        const auto v = static_cast<std::int64_t>(d);
        if (v < min || v > max) outOfRange();
        return v;
    }
    fail(fmt::format("has the wrong type: an integer is needed, found {}", describeJson(*m_value)));
}

int JsonField::asInt(int min, int max) const {
    return static_cast<int>(asInt64(min, max));
}

std::uint64_t JsonField::asUint64(std::uint64_t max) const {
    if (m_value->is_number_unsigned()) {
        const auto u = m_value->get<std::uint64_t>();
        if (u > max) fail(fmt::format("{} is out of range (0 to {})", describeJson(*m_value), max));
        return u;
    }
    if (m_value->is_number_integer() || m_value->is_number_float()) {
        const std::int64_t v = asInt64(0, INT64_MAX);
        if (static_cast<std::uint64_t>(v) > max)
            fail(fmt::format("{} is out of range (0 to {})", describeJson(*m_value), max));
        return static_cast<std::uint64_t>(v);
    }
    fail(fmt::format("has the wrong type: a non-negative integer is needed, found {}",
                     describeJson(*m_value)));
}

std::vector<int> JsonField::asIntList(int min, int max) const {
    std::vector<int> out;
    for (const auto& e : elements()) out.push_back(e.asInt(min, max));
    return out;
}

std::vector<double> JsonField::asDoubleList() const {
    std::vector<double> out;
    for (const auto& e : elements()) out.push_back(e.asDouble());
    return out;
}

std::string JsonField::stringOr(const std::string& key, const std::string& fallback) const {
    const auto f = find(key);
    return f ? f->asString() : fallback;
}

bool JsonField::boolOr(const std::string& key, bool fallback) const {
    const auto f = find(key);
    return f ? f->asBool() : fallback;
}

double JsonField::doubleOr(const std::string& key, double fallback) const {
    const auto f = find(key);
    return f ? f->asDouble() : fallback;
}

int JsonField::intOr(const std::string& key, int fallback, int min, int max) const {
    const auto f = find(key);
    return f ? f->asInt(min, max) : fallback;
}

std::uint64_t JsonField::uint64Or(const std::string& key, std::uint64_t fallback) const {
    const auto f = find(key);
    return f ? f->asUint64() : fallback;
}

// ---------------------------------------------------------------------------------------------------
// JsonProblems

bool JsonProblems::recordable(const std::exception& e) {
    const auto* err = dynamic_cast<const Error*>(&e);
    return err && err->kind() == ErrorKind::BadInput;
}

void JsonProblems::add(std::string message) {
    ++m_count;
    if (m_messages.size() >= kMaxListed) return;
    const std::string prefix = m_label + ": ";
    if (message.rfind(prefix, 0) == 0) message.erase(0, prefix.size());
    constexpr std::size_t kMaxMessage = 400;
    if (message.size() > kMaxMessage) message = message.substr(0, kMaxMessage) + "...";
    m_messages.push_back(std::move(message));
}

void JsonProblems::throwIfAny() const {
    if (m_count == 0) return;
    if (m_count == 1) throwBadInput("{}: {}", m_label, m_messages.front());
    std::string list;
    for (const auto& m : m_messages) list += "\n  " + m;
    if (m_count > m_messages.size()) list += fmt::format("\n  ... and {} more", m_count - m_messages.size());
    throwBadInput("{}: {} problems:{}", m_label, m_count, list);
}

}  // namespace swd
