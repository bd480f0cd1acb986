#include "catalog/manifest.h"

#include "util/error.h"

#include <array>
#include <cctype>
#include <sstream>

namespace swd {

namespace {

bool isDigits(const std::string& s) {
    if (s.empty()) return false;
    for (char c : s)
        if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    return true;
}

// "a.{0-2,5}.b" -> a.0.b, a.1.b, a.2.b, a.5.b
std::vector<std::string> expandName(const std::string& name, const std::string& where) {
    const auto open = name.find('{');
    if (open == std::string::npos) return {name};
    const auto close = name.find('}', open);
    if (close == std::string::npos) throwInternal("{}: unbalanced '{{' in '{}'", where, name);
    const std::string head = name.substr(0, open), tail = name.substr(close + 1);
    std::vector<std::string> out;
    std::stringstream list(name.substr(open + 1, close - open - 1));
    std::string part;
    while (std::getline(list, part, ',')) {
        const auto dash = part.find('-');
        try {
            const int lo = std::stoi(part.substr(0, dash));
            const int hi = dash == std::string::npos ? lo : std::stoi(part.substr(dash + 1));
            if (hi < lo) throwInternal("{}: empty range '{}' in '{}'", where, part, name);
            for (int i = lo; i <= hi; ++i) out.push_back(head + std::to_string(i) + tail);
        } catch (const std::logic_error&) {
            throwInternal("{}: bad index range '{}' in '{}'", where, part, name);
        }
    }
    return out;
}

std::vector<std::int64_t> parseShape(const std::string& text, const std::string& where) {
    std::vector<std::int64_t> shape;
    if (text == "-") return shape;
    std::stringstream ss(text);
    std::string dim;
    while (std::getline(ss, dim, ',')) {
        if (!isDigits(dim)) throwInternal("{}: bad shape '{}'", where, text);
        shape.push_back(std::stoll(dim));
    }
    return shape;
}

}  // namespace

const ManifestTensor* Manifest::find(const std::string& name) const {
    const auto it = m_index.find(name);
    return it == m_index.end() ? nullptr : &tensors[it->second];
}

std::size_t Manifest::requiredCount() const {
    std::size_t n = 0;
    for (const auto& t : tensors) n += t.optional ? 0 : 1;
    return n;
}

Manifest parseManifest(const std::string& text, const std::string& label) {
    Manifest m;
    std::stringstream in(text);
    std::string line;
    int lineNo = 0;
    bool haveKind = false, haveLayout = false;
    while (std::getline(in, line)) {
        ++lineNo;
        const std::string where = label + ":" + std::to_string(lineNo);
        if (line.empty() || line[0] == '#') continue;
        std::stringstream fields(line);
        std::string first;
        fields >> first;
        if (first[0] == '@') {
            const std::string key = first.substr(1);
            std::string value;
            std::getline(fields >> std::ws, value);
            if (key == "id")
                m.id = value;
            else if (key == "model")
                m.model = value;
            else if (key == "name")
                m.name = value;
            else if (key == "prefix")
                m.prefix = value;
            else if (key == "params")
                m.params = std::stoull(value);
            else if (key == "rank")
                m.rank = std::stoi(value);
            else if (key == "kind") {
                const auto k = componentKindFromId(value);
                if (!k) throwInternal("{}: unknown kind '{}'", where, value);
                m.kind = *k;
                haveKind = true;
            } else if (key == "layout") {
                const auto l = weightLayoutFromId(value);
                if (!l) throwInternal("{}: unknown layout '{}'", where, value);
                m.layout = *l;
                haveLayout = true;
            } else {
                throwInternal("{}: unknown header field '@{}'", where, key);
            }
            continue;
        }
        std::string shapeText, flag;
        fields >> shapeText >> flag;
        if (shapeText.empty()) throwInternal("{}: expected 'NAME SHAPE [?]', found '{}'", where, line);
        const auto shape = parseShape(shapeText, where);
        for (auto& name : expandName(first, where)) {
            if (m.m_index.count(name)) throwInternal("{}: tensor '{}' listed twice", where, name);
            m.m_index.emplace(name, m.tensors.size());
            m.tensors.push_back({std::move(name), shape, flag == "?"});
        }
    }
    if (m.id.empty() || !haveKind || !haveLayout || m.tensors.empty())
        throwInternal("{}: a manifest needs @id, @kind, @layout and at least one tensor", label);
    return m;
}

const std::vector<Manifest>& builtinManifests() {
    static const std::vector<Manifest> manifests = [] {
        std::vector<Manifest> out;
        for (const auto& [file, text] : builtinManifestSources()) out.push_back(parseManifest(text, file));
        return out;
    }();
    return manifests;
}

const Manifest* findManifest(const std::string& id) {
    for (const auto& m : builtinManifests())
        if (m.id == id) return &m;
    return nullptr;
}

std::string structureTemplate(const std::string& name) {
    std::string out;
    out.reserve(name.size());
    std::size_t start = 0;
    while (start <= name.size()) {
        auto dot = name.find('.', start);
        if (dot == std::string::npos) dot = name.size();
        const std::string part = name.substr(start, dot - start);
        if (!out.empty() || start > 0) out += '.';
        out += isDigits(part) ? "#" : part;
        start = dot + 1;
    }
    return out;
}

}  // namespace swd
