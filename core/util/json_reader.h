// The one way the core reads JSON from files and from strings it did not write: bounded, and with
// messages that name the file and the field.
//
//  - parseJson / readJsonFile refuse input over a size limit and nesting deeper than a depth limit
//    (checked while parsing, before the tree is built: deep trees overflow the stack in recursive
//    code such as dump() or copies). Syntax errors say the line and column; numbers that overflow a
//    double (1e400) are refused with the field's position, not nlohmann's raw text.
//  - JsonField reads values with type checks: integers must be whole numbers in range (32.9 or
//    4294967300 for an int is an error naming the field, never a silent truncation), doubles finite.
//    Every message reads "<file>: field \"<path>\" <problem>" with quoted values cut short.
//  - JsonProblems collects several problems and reports them together, bounded.
#pragma once

#include <nlohmann/json.hpp>

#include <climits>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace swd {

struct JsonLimits {
    std::uint64_t maxBytes = 64ull * 1024 * 1024;
    int maxDepth = 64;                     // nested arrays / objects, the outermost counting 1
    bool rejectDuplicateKeys = false;      // nlohmann keeps the last of duplicate keys silently
    const char* duplicateKeyNoun = "key";  // in the message: "<noun> 'name' appears more than once"
};

// Parses `text`; throws BadInput "<label>: ..." for invalid JSON, too deep or too large input.
nlohmann::json parseJson(std::string_view text, const std::string& label, const JsonLimits& limits = {});

// Reads a regular file (util/file_read.h: no FIFOs, folders or devices) and parses it; `what` names
// the file's role in messages ("schedule file").
nlohmann::json readJsonFile(const std::filesystem::path& path, const char* what,
                            const JsonLimits& limits = {});

// `s` with control characters escaped, cut to `maxChars` characters (then "... (N bytes)").
std::string cutForMessage(std::string_view s, std::size_t maxChars = 80);
// `s` in double quotes, cut to `maxChars` characters (then "..." and the full length) for messages.
std::string quoteForMessage(std::string_view s, std::size_t maxChars = 48);

// A short description of a value for messages: scalars as written (strings quoted and cut), arrays and
// objects by their size only. Never renders a whole tree.
std::string describeJson(const nlohmann::json& value);

// A value of a parsed document and where it came from (the file, the path of the field), so that every
// check can say exactly what is wrong where. Refers to the document; keep it alive.
class JsonField {
public:
    JsonField(const nlohmann::json& value, std::string label, std::string path = {});

    const nlohmann::json& json() const { return *m_value; }
    const std::string& label() const { return m_label; }
    const std::string& path() const { return m_path; }
    // "<file>: field \"<path>\"", or "<file>" for the document itself.
    std::string where() const;
    [[noreturn]] void fail(const std::string& problem) const;

    // Objects: a member that is present and not null.
    bool has(const std::string& key) const;
    std::optional<JsonField> find(const std::string& key) const;
    JsonField require(const std::string& key) const;  // absent or null: "missing field"
    // Arrays.
    std::size_t size() const;
    JsonField element(std::size_t index) const;
    std::vector<JsonField> elements() const;

    void requireObject(const char* what = "an object") const;
    void requireArray() const;
    std::string asString() const;
    bool asBool() const;
    double asDouble() const;  // any JSON number (always finite once parsed)
    std::int64_t asInt64(std::int64_t min = INT64_MIN, std::int64_t max = INT64_MAX) const;
    int asInt(int min = INT_MIN, int max = INT_MAX) const;
    std::uint64_t asUint64(std::uint64_t max = UINT64_MAX) const;
    std::vector<int> asIntList(int min = INT_MIN, int max = INT_MAX) const;
    std::vector<double> asDoubleList() const;

    // Optional members (absent or null: the fallback), with the same checks.
    std::string stringOr(const std::string& key, const std::string& fallback) const;
    bool boolOr(const std::string& key, bool fallback) const;
    double doubleOr(const std::string& key, double fallback) const;
    int intOr(const std::string& key, int fallback, int min = INT_MIN, int max = INT_MAX) const;
    std::uint64_t uint64Or(const std::string& key, std::uint64_t fallback) const;

private:
    const nlohmann::json* m_value;
    std::string m_label;
    std::string m_path;
};

// Several problems of one document, reported together: "<file>: 3 problems:\n  ...". At most
// `kMaxListed` are listed, then "... and N more".
class JsonProblems {
public:
    static constexpr std::size_t kMaxListed = 20;

    explicit JsonProblems(std::string label) : m_label(std::move(label)) {}

    // Runs `read`; a BadInput it throws is recorded instead of propagating. True when it succeeded.
    template <typename F>
    bool attempt(F&& read) {
        try {
            read();
            return true;
        } catch (const std::exception& e) {
            if (!recordable(e)) throw;
            add(e.what());
            return false;
        }
    }
    void add(std::string message);
    bool empty() const { return m_count == 0; }
    std::size_t count() const { return m_count; }
    // Throws one BadInput with every problem, when there are any.
    void throwIfAny() const;

private:
    static bool recordable(const std::exception& e);

    std::string m_label;
    std::vector<std::string> m_messages;  // the first kMaxListed
    std::size_t m_count = 0;
};

}  // namespace swd
