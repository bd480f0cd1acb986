#include "io/pickle_reader.h"

#include "util/error.h"
#include "util/file_read.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <sys/mman.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

namespace swd {

namespace {

// ---- opcodes ---------------------------------------------------------------------------------------

// Every opcode of protocols 0–5 (CPython's Lib/pickletools.py), so a refusal names what it refused.
const char* opcodeName(std::uint8_t op) {
    struct Entry {
        int code;
        const char* name;
    };
    // clang-format off
    static constexpr Entry kOpcodes[] = {
        {'(', "MARK"}, {'.', "STOP"}, {'0', "POP"}, {'1', "POP_MARK"}, {'2', "DUP"}, {'F', "FLOAT"},
        {'I', "INT"}, {'J', "BININT"}, {'K', "BININT1"}, {'L', "LONG"}, {'M', "BININT2"}, {'N', "NONE"},
        {'P', "PERSID"}, {'Q', "BINPERSID"}, {'R', "REDUCE"}, {'S', "STRING"}, {'T', "BINSTRING"},
        {'U', "SHORT_BINSTRING"}, {'V', "UNICODE"}, {'X', "BINUNICODE"}, {'a', "APPEND"}, {'b', "BUILD"},
        {'c', "GLOBAL"}, {'d', "DICT"}, {'}', "EMPTY_DICT"}, {'e', "APPENDS"}, {'g', "GET"}, {'h', "BINGET"},
        {'i', "INST"}, {'j', "LONG_BINGET"}, {'l', "LIST"}, {']', "EMPTY_LIST"}, {'o', "OBJ"}, {'p', "PUT"},
        {'q', "BINPUT"}, {'r', "LONG_BINPUT"}, {'s', "SETITEM"}, {'t', "TUPLE"}, {')', "EMPTY_TUPLE"},
        {'u', "SETITEMS"}, {'G', "BINFLOAT"}, {0x80, "PROTO"}, {0x81, "NEWOBJ"}, {0x82, "EXT1"},
        {0x83, "EXT2"}, {0x84, "EXT4"}, {0x85, "TUPLE1"}, {0x86, "TUPLE2"}, {0x87, "TUPLE3"},
        {0x88, "NEWTRUE"}, {0x89, "NEWFALSE"}, {0x8a, "LONG1"}, {0x8b, "LONG4"}, {'B', "BINBYTES"},
        {'C', "SHORT_BINBYTES"}, {0x8c, "SHORT_BINUNICODE"}, {0x8d, "BINUNICODE8"}, {0x8e, "BINBYTES8"},
        {0x8f, "EMPTY_SET"}, {0x90, "ADDITEMS"}, {0x91, "FROZENSET"}, {0x92, "NEWOBJ_EX"},
        {0x93, "STACK_GLOBAL"}, {0x94, "MEMOIZE"}, {0x95, "FRAME"}, {0x96, "BYTEARRAY8"},
        {0x97, "NEXT_BUFFER"}, {0x98, "READONLY_BUFFER"}
    };
    // clang-format on
    for (const Entry& e : kOpcodes)
        if (e.code == op) return e.name;
    return "unknown opcode";
}

// ---- values ----------------------------------------------------------------------------------------

enum class VKind : std::uint8_t {
    None,
    Bool,
    Int,
    BigInt,
    Float,
    Str,
    Bytes,
    Tuple,
    List,
    Dict,
    Set,
    Global,
    Object,
    Storage,
    Tensor
};

const char* kindName(VKind k) {
    static constexpr const char* kNames[] = {"None", "bool",   "int",    "long int", "float",
                                             "str",  "bytes",  "tuple",  "list",     "dict",
                                             "set",  "global", "object", "storage",  "tensor"};
    return kNames[static_cast<int>(k)];
}

// What an allowed global is. Nothing here is ever called: REDUCE/NEWOBJ/BUILD interpret these.
enum class GKind : std::uint8_t {
    OrderedDict,
    Reconstructor,
    Object,
    Set,
    FrozenSet,
    RebuildTensorV2,
    RebuildTensor,
    RebuildParameter,
    RebuildParameterWithState,
    LoadFromBytes,
    StorageType,
    Dtype,
    TorchSize,
    ModuleClass
};

struct Value {
    VKind kind = VKind::None;
    GKind global = GKind::Object;  // Global
    bool flag = false;             // Bool; Tensor: it is a Parameter
    std::int64_t i = 0;            // Int; Tensor / Storage: index into the side tables; dtype of a global
    double f = 0;                  // Float
    std::string s;                 // Str; Global: "module.name"
    const std::uint8_t* bytes = nullptr;  // Bytes, BigInt: a span of the input
    std::size_t nbytes = 0;
    std::vector<Value*> items;  // Tuple, List, Set; Dict / Object: key, value, key, value, ...
    Value* cls = nullptr;       // Object: its class (a Global)
    Value* args = nullptr;      // Object: constructor arguments (kept, never used to call)
    Value* state = nullptr;     // Object: the BUILD state
};

struct TensorRec {
    std::shared_ptr<PickleStorage> storage;
    std::vector<std::int64_t> shape, strides;
    std::int64_t offset = 0;
};

// The storages a legacy blob's persistent ids name, by key, waiting for their data.
struct LegacyBlob {
    std::map<std::string, Value*> storages;
};

bool isIdentifier(const std::string& s) {
    if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
    return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isalnum(c) || c == '_'; });
}

bool isDottedPath(const std::string& s) {
    std::size_t start = 0;
    while (true) {
        const auto dot = s.find('.', start);
        if (!isIdentifier(s.substr(start, dot == std::string::npos ? std::string::npos : dot - start)))
            return false;
        if (dot == std::string::npos) return true;
        start = dot + 1;
    }
}

bool startsWith(const std::string& s, const char* prefix) {
    return s.rfind(prefix, 0) == 0;
}

const std::map<std::string, StDtype>& storageTypes() {
    static const std::map<std::string, StDtype> kTypes = {
        {"FloatStorage", StDtype::F32},     {"DoubleStorage", StDtype::F64}, {"HalfStorage", StDtype::F16},
        {"BFloat16Storage", StDtype::BF16}, {"LongStorage", StDtype::I64},   {"IntStorage", StDtype::I32},
        {"ShortStorage", StDtype::I16},     {"CharStorage", StDtype::I8},    {"ByteStorage", StDtype::U8},
        {"BoolStorage", StDtype::BOOL}};
    return kTypes;
}

const std::map<std::string, StDtype>& torchDtypes() {
    static const std::map<std::string, StDtype> kDtypes = {
        {"float32", StDtype::F32}, {"float", StDtype::F32},     {"float16", StDtype::F16},
        {"half", StDtype::F16},    {"bfloat16", StDtype::BF16}, {"float64", StDtype::F64},
        {"double", StDtype::F64},  {"int64", StDtype::I64},     {"long", StDtype::I64},
        {"int32", StDtype::I32},   {"int", StDtype::I32},       {"int16", StDtype::I16},
        {"int8", StDtype::I8},     {"uint8", StDtype::U8},      {"bool", StDtype::BOOL}};
    return kDtypes;
}

// The allow-list. Module classes are only ever inert records, so any class name under the two
// prefixes is accepted; their constructors, __setstate__ and methods never run.
std::optional<GKind> classifyGlobal(const std::string& module, const std::string& name, StDtype* dtype) {
    if (!isDottedPath(module) || !isIdentifier(name)) return std::nullopt;
    if (module == "collections" && name == "OrderedDict") return GKind::OrderedDict;
    if (module == "copyreg" && name == "_reconstructor") return GKind::Reconstructor;
    if (module == "builtins" || module == "__builtin__") {
        if (name == "object") return GKind::Object;
        if (name == "set") return GKind::Set;
        if (name == "frozenset") return GKind::FrozenSet;
        return std::nullopt;
    }
    if (module == "torch._utils") {
        if (name == "_rebuild_tensor_v2") return GKind::RebuildTensorV2;
        if (name == "_rebuild_tensor") return GKind::RebuildTensor;
        if (name == "_rebuild_parameter") return GKind::RebuildParameter;
        if (name == "_rebuild_parameter_with_state") return GKind::RebuildParameterWithState;
        return std::nullopt;
    }
    if (module == "torch.storage" && name == "_load_from_bytes") return GKind::LoadFromBytes;
    if (module == "torch") {
        if (auto it = storageTypes().find(name); it != storageTypes().end()) {
            *dtype = it->second;
            return GKind::StorageType;
        }
        if (auto it = torchDtypes().find(name); it != torchDtypes().end()) {
            *dtype = it->second;
            return GKind::Dtype;
        }
        if (name == "Size") return GKind::TorchSize;
        return std::nullopt;
    }
    // A class by convention starts with a capital letter; the packages' functions do not get in.
    const bool classLike = std::isupper(static_cast<unsigned char>(name[0])) != 0;
    if (classLike && (startsWith(module, "torch.nn.modules.") || startsWith(module, "diffusers.")))
        return GKind::ModuleClass;
    return std::nullopt;
}

// Longest dotted tensor name accepted (real ones are below 100 characters).
constexpr std::size_t kMaxNameChars = 1024;
constexpr std::uint8_t kLegacyMagic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
constexpr std::int64_t kLegacyProtocol = 1001;

bool mulOverflows(std::uint64_t a, std::uint64_t b, std::uint64_t* out) {
    return __builtin_mul_overflow(a, b, out);
}

// ---- the VM ----------------------------------------------------------------------------------------

class Parser {
public:
    Parser(const std::uint8_t* base, std::size_t size, std::string label, const PickleLimits& limits)
        : m_base(base), m_size(size), m_label(std::move(label)), m_limits(limits) {}

    // Runs one pickle from `*p` to its STOP (not past `end`); `*p` ends after the STOP.
    Value* run(const std::uint8_t** p, const std::uint8_t* end, int depth, LegacyBlob* blob);

    PickleStateDict extract(Value* top);
    std::size_t offsetOf(const std::uint8_t* p) const { return static_cast<std::size_t>(p - m_base); }

    template <typename... Args>
    [[noreturn]] void fail(const std::uint8_t* at, fmt::format_string<Args...> format, Args&&... args) const {
        throwBadInput(
            "{}: at byte {}{}: {}; the file is damaged or was crafted, it is not a checkpoint this "
            "reader can use",
            m_label, offsetOf(at),
            m_blobAt ? fmt::format(" (in the storage blob at byte {})", *m_blobAt) : "",
            fmt::format(format, std::forward<Args>(args)...));
    }

private:
    struct Run {
        const std::uint8_t* p;
        const std::uint8_t* start;
        const std::uint8_t* end;
        const std::uint8_t* op = nullptr;  // start of the current opcode
        std::vector<Value*> stack;
        std::vector<std::size_t> marks;
        std::vector<Value*> memo;
        int depth = 0;
        LegacyBlob* blob = nullptr;
    };

    bool step(Run& r);
    bool stepObjects(Run& r, std::uint8_t op);
    Value* make(VKind kind);
    void chargeCopy(Run& r, std::size_t items);
    const std::uint8_t* take(Run& r, std::uint64_t n);
    std::uint64_t readLE(Run& r, int n);
    void push(Run& r, Value* v);
    Value* pop(Run& r);
    Value* top(Run& r);
    std::vector<Value*> popMark(Run& r);
    void pushString(Run& r, std::uint8_t op);
    void pushLong(Run& r, int lengthBytes);
    void memoGet(Run& r, std::uint64_t index);
    void memoPut(Run& r, std::uint64_t index);
    void pushGlobal(Run& r, const std::string& module, const std::string& name);
    void reduce(Run& r);
    void newObject(Run& r, Value* cls, Value* args);
    void build(Run& r);
    void setItems(Run& r, Value* target, const std::vector<Value*>& kv);
    void appendItems(Run& r, Value* target, const std::vector<Value*>& items, bool set);
    void persistentLoad(Run& r);
    Value* rebuildTensor(Run& r, const Value* args, bool v2);
    Value* loadFromBytes(Run& r, const Value* args);
    void readBlobData(const std::uint8_t* p, const std::uint8_t* end, Value* keys, LegacyBlob& blob);
    Value* expect(Run& r, Value* v, VKind kind, const char* what);
    std::int64_t expectInt(Run& r, Value* v, const char* what);
    std::vector<std::int64_t> expectInts(Run& r, Value* v, const char* what);

    // extraction
    std::vector<std::pair<std::string, const Value*>> orderedItems(const Value* mapping, const char* what);
    const Value* lookup(const Value* mapping, const std::string& key);
    void walkModule(const Value* module, const std::string& prefix, int depth, PickleStateDict& out);
    void addTensor(const Value* v, const std::string& name, PickleStateDict& out);
    std::string globalName(const Value* v) const { return v && v->kind == VKind::Global ? v->s : "?"; }

    const std::uint8_t* m_base;
    std::size_t m_size;
    std::string m_label;
    PickleLimits m_limits;
    std::deque<Value> m_arena;  // every value; pointers stay valid, cycles cannot leak
    std::vector<TensorRec> m_tensors;
    std::vector<std::shared_ptr<PickleStorage>> m_storages;
    std::set<std::string> m_globals;
    std::optional<std::size_t> m_blobAt;  // offset of the blob being read, for messages
    std::set<std::string> m_names;        // tensor names given out
    std::size_t m_moduleVisits = 0;
    std::uint64_t m_work = 0;         // items scanned while extracting (bounds crafted graphs)
    std::uint64_t m_tensorBytes = 0;  // bytes of the views made so far
    std::uint64_t m_copied = 0;       // items copied by REDUCE (set(list), OrderedDict(pairs))
    Value* m_none = nullptr;
};

Value* Parser::make(VKind kind) {
    if (m_arena.size() >= m_limits.maxValues)
        throwBadInput(
            "{}: more than {} objects; a model checkpoint has far fewer, so the file was crafted "
            "or is not a checkpoint",
            m_label, m_limits.maxValues);
    m_arena.emplace_back();
    m_arena.back().kind = kind;
    return &m_arena.back();
}

// A memoized list can be passed to set() or OrderedDict() again and again; each call copies it.
void Parser::chargeCopy(Run& r, std::size_t items) {
    m_copied += items;
    if (m_copied > m_limits.maxValues)
        fail(r.op, "REDUCE copies more than {} items in total", m_limits.maxValues);
}

const std::uint8_t* Parser::take(Run& r, std::uint64_t n) {
    const auto left = static_cast<std::uint64_t>(r.end - r.p);
    if (n > left)
        throwBadInput(
            "{}: {} at byte {}{} needs {} bytes, but only {} remain in the {}: the file is truncated "
            "(an incomplete download: fetch it again) or the length field is corrupt or crafted",
            m_label, opcodeName(*r.op), offsetOf(r.op),
            m_blobAt ? fmt::format(" (in the storage blob at byte {})", *m_blobAt) : "", n, left,
            m_blobAt ? "storage blob" : "file");
    const std::uint8_t* at = r.p;
    r.p += n;
    return at;
}

std::uint64_t Parser::readLE(Run& r, int n) {
    const std::uint8_t* b = take(r, static_cast<std::uint64_t>(n));
    std::uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | b[i];
    return v;
}

void Parser::push(Run& r, Value* v) {
    if (r.stack.size() >= m_limits.maxStack) fail(r.op, "the stack grows past {} values", m_limits.maxStack);
    r.stack.push_back(v);
}

Value* Parser::pop(Run& r) {
    const std::size_t floor = r.marks.empty() ? 0 : r.marks.back();
    if (r.stack.size() <= floor) fail(r.op, "{} needs a value, but the stack is empty", opcodeName(*r.op));
    Value* v = r.stack.back();
    r.stack.pop_back();
    return v;
}

Value* Parser::top(Run& r) {
    Value* v = pop(r);
    r.stack.push_back(v);
    return v;
}

std::vector<Value*> Parser::popMark(Run& r) {
    if (r.marks.empty()) fail(r.op, "{} without a MARK", opcodeName(*r.op));
    const std::size_t m = r.marks.back();
    r.marks.pop_back();
    std::vector<Value*> items(r.stack.begin() + static_cast<std::ptrdiff_t>(m), r.stack.end());
    r.stack.resize(m);
    return items;
}

Value* Parser::expect(Run& r, Value* v, VKind kind, const char* what) {
    if (v->kind != kind)
        fail(r.op, "{} expects {} ({}), found a {}", opcodeName(*r.op), what, kindName(kind),
             kindName(v->kind));
    return v;
}

std::int64_t Parser::expectInt(Run& r, Value* v, const char* what) {
    return expect(r, v, VKind::Int, what)->i;
}

std::vector<std::int64_t> Parser::expectInts(Run& r, Value* v, const char* what) {
    expect(r, v, VKind::Tuple, what);
    std::vector<std::int64_t> out;
    for (Value* item : v->items) out.push_back(expectInt(r, item, what));
    return out;
}

void Parser::pushString(Run& r, std::uint8_t op) {
    std::uint64_t n = 0;
    switch (op) {
        case 0x8c:
        case 'C':
        case 'U':
            n = readLE(r, 1);
            break;
        case 'X':
        case 'B':
        case 'T':
            n = readLE(r, 4);
            break;
        default:
            n = readLE(r, 8);
            break;  // BINUNICODE8, BINBYTES8, BYTEARRAY8
    }
    const std::uint8_t* data = take(r, n);
    const bool text = op == 0x8c || op == 'X' || op == 0x8d || op == 'U' || op == 'T';
    Value* v = make(text ? VKind::Str : VKind::Bytes);
    if (text)
        v->s.assign(reinterpret_cast<const char*>(data), n);
    else {
        v->bytes = data;
        v->nbytes = n;
    }
    push(r, v);
}

// LONG1 / LONG4: little-endian two's complement. Up to 8 bytes is an int; longer ones are kept as bytes
// (the legacy magic number is 10 bytes) and only compared.
void Parser::pushLong(Run& r, int lengthBytes) {
    const std::uint64_t n = readLE(r, lengthBytes);
    const std::uint8_t* b = take(r, n);
    Value* v = make(n <= 8 ? VKind::Int : VKind::BigInt);
    if (n <= 8) {
        std::uint64_t u = 0;
        for (std::uint64_t k = 0; k < n; ++k) u |= static_cast<std::uint64_t>(b[k]) << (8 * k);
        if (n > 0 && n < 8 && (b[n - 1] & 0x80)) u |= ~std::uint64_t(0) << (8 * n);  // sign-extend
        v->i = static_cast<std::int64_t>(u);
    } else {
        v->bytes = b;
        v->nbytes = n;
    }
    push(r, v);
}

void Parser::memoGet(Run& r, std::uint64_t index) {
    if (index >= r.memo.size() || !r.memo[index])
        fail(r.op, "{} reads memo entry {}, which was never stored (the memo holds {})", opcodeName(*r.op),
             index, r.memo.size());
    push(r, r.memo[index]);
}

void Parser::memoPut(Run& r, std::uint64_t index) {
    // Picklers number memo entries densely, one per opcode at most; a huge sparse index would only cost
    // memory, so the limit is also the pickle's length.
    const std::uint64_t limit =
        std::min<std::uint64_t>(m_limits.maxMemo, static_cast<std::uint64_t>(r.end - r.start));
    if (index >= limit) fail(r.op, "memo index {} is beyond the limit {}", index, limit);
    if (index >= r.memo.size()) r.memo.resize(index + 1, nullptr);
    r.memo[index] = top(r);
}

void Parser::pushGlobal(Run& r, const std::string& module, const std::string& name) {
    StDtype dtype = StDtype::F32;
    const auto kind = classifyGlobal(module, name, &dtype);
    if (!kind)
        throwBadInput(
            "{}: refused global '{}.{}' at byte {}{}: it is not on this reader's allow-list (torch tensor, "
            "parameter and storage rebuild functions, storage types and dtypes, collections.OrderedDict, "
            "copyreg._reconstructor, builtins object/set, and classes under torch.nn.modules. and "
            "diffusers.); nothing from the file was run. The file may be built to execute code when Python "
            "unpickles it: do not open it with pickle or torch.load",
            m_label, module, name, offsetOf(r.op),
            m_blobAt ? fmt::format(" (in the storage blob at byte {})", *m_blobAt) : "");
    Value* v = make(VKind::Global);
    v->global = *kind;
    v->s = module + "." + name;
    v->i = static_cast<std::int64_t>(dtype);
    m_globals.insert(v->s);
    push(r, v);
}

// One opcode. Returns false at STOP.
bool Parser::step(Run& r) {
    if (r.p >= r.end)
        throwBadInput(
            "{}: truncated: the pickle ends at byte {}{} without its STOP opcode; the download is "
            "incomplete or the file is damaged: fetch it again",
            m_label, offsetOf(r.p),
            m_blobAt ? fmt::format(" (in the storage blob at byte {})", *m_blobAt) : "");
    r.op = r.p;
    const std::uint8_t op = *r.p++;
    switch (op) {
        case 0x80: {  // PROTO
            const auto proto = readLE(r, 1);
            if (proto < 2 || proto > 5) fail(r.op, "pickle protocol {} is not supported (2 to 5 are)", proto);
            return true;
        }
        case 0x95: {  // FRAME: only a read-ahead hint, but its length must fit
            const std::uint64_t n = readLE(r, 8);
            const std::uint8_t* here = r.p;
            take(r, n);
            r.p = here;
            return true;
        }
        case '.':
            return false;
        case 'N':
            push(r, m_none);
            return true;
        case 0x88:
        case 0x89: {
            Value* v = make(VKind::Bool);
            v->flag = op == 0x88;
            push(r, v);
            return true;
        }
        case 'J':
        case 'K':
        case 'M': {
            Value* v = make(VKind::Int);
            const std::uint64_t u = readLE(r, op == 'J' ? 4 : op == 'K' ? 1 : 2);
            v->i = op == 'J' ? static_cast<std::int32_t>(u) : static_cast<std::int64_t>(u);
            push(r, v);
            return true;
        }
        case 0x8a:
            pushLong(r, 1);
            return true;
        case 0x8b:
            pushLong(r, 4);
            return true;
        case 'G': {  // big-endian double
            const std::uint8_t* b = take(r, 8);
            std::uint64_t u = 0;
            for (int k = 0; k < 8; ++k) u = (u << 8) | b[k];
            Value* v = make(VKind::Float);
            std::memcpy(&v->f, &u, 8);
            push(r, v);
            return true;
        }
        case 0x8c:
        case 'X':
        case 0x8d:
        case 'C':
        case 'B':
        case 0x8e:
        case 0x96:
        case 'U':
        case 'T':
            pushString(r, op);
            return true;
        case '(':
            if (r.marks.size() >= m_limits.maxMarks)
                fail(r.op, "more than {} nested MARKs", m_limits.maxMarks);
            r.marks.push_back(r.stack.size());
            return true;
        case '0':
            pop(r);
            return true;
        case '1':
            popMark(r);
            return true;
        case '2':
            push(r, top(r));
            return true;
        case 'h':
            memoGet(r, readLE(r, 1));
            return true;
        case 'j':
            memoGet(r, readLE(r, 4));
            return true;
        case 'q':
            memoPut(r, readLE(r, 1));
            return true;
        case 'r':
            memoPut(r, readLE(r, 4));
            return true;
        case 0x94:
            memoPut(r, r.memo.size());
            return true;
        default:
            return stepObjects(r, op);
    }
}

// Containers, globals and the object opcodes.
bool Parser::stepObjects(Run& r, std::uint8_t op) {
    switch (op) {
        case ')':
        case 't':
        case 0x85:
        case 0x86:
        case 0x87: {
            Value* v = make(VKind::Tuple);
            if (op == 't') {
                v->items = popMark(r);
            } else {
                v->items.resize(op == ')' ? 0 : op - 0x84);
                for (auto it = v->items.rbegin(); it != v->items.rend(); ++it) *it = pop(r);
            }
            push(r, v);
            return true;
        }
        case ']':
        case 'l':
        case '}':
        case 'd':
        case 0x8f:
        case 0x91: {
            const VKind kind = (op == ']' || op == 'l')   ? VKind::List
                               : (op == '}' || op == 'd') ? VKind::Dict
                                                          : VKind::Set;
            Value* v = make(kind);
            if (op == 'd' || op == 'l' || op == 0x91) {
                auto items = popMark(r);
                if (op == 'd')
                    setItems(r, v, items);
                else
                    v->items = std::move(items);
            }
            push(r, v);
            return true;
        }
        case 'a': {
            Value* item = pop(r);
            appendItems(r, top(r), {item}, false);
            return true;
        }
        case 'e': {
            auto items = popMark(r);
            appendItems(r, top(r), items, false);
            return true;
        }
        case 0x90: {
            auto items = popMark(r);
            appendItems(r, top(r), items, true);
            return true;
        }
        case 's': {
            Value* value = pop(r);
            Value* key = pop(r);
            setItems(r, top(r), {key, value});
            return true;
        }
        case 'u': {
            auto items = popMark(r);
            setItems(r, top(r), items);
            return true;
        }
        case 'c': {
            auto line = [&]() {
                const std::uint8_t* start = r.p;
                const std::uint8_t* stop = static_cast<const std::uint8_t*>(std::memchr(
                    start, '\n', static_cast<std::size_t>(std::min<std::ptrdiff_t>(r.end - start, 512))));
                if (!stop) fail(r.op, "GLOBAL without a newline-terminated name");
                r.p = stop + 1;
                return std::string(reinterpret_cast<const char*>(start),
                                   static_cast<std::size_t>(stop - start));
            };
            const std::string module = line();
            pushGlobal(r, module, line());
            return true;
        }
        case 0x93: {
            Value* name = expect(r, pop(r), VKind::Str, "the global's name");
            Value* module = expect(r, pop(r), VKind::Str, "the global's module");
            pushGlobal(r, module->s, name->s);
            return true;
        }
        case 'R':
            reduce(r);
            return true;
        case 0x81: {
            Value* args = pop(r);
            newObject(r, pop(r), args);
            return true;
        }
        case 0x92: {
            pop(r);  // kwargs: kept nowhere, nothing is called with them
            Value* args = pop(r);
            newObject(r, pop(r), args);
            return true;
        }
        case 'b':
            build(r);
            return true;
        case 'Q':
            persistentLoad(r);
            return true;
        default:
            fail(r.op,
                 "refused opcode {} (0x{:02x}): this reader takes only the opcodes of torch module "
                 "pickles (protocols 2 to 5)",
                 opcodeName(op), op);
    }
}

Value* Parser::run(const std::uint8_t** p, const std::uint8_t* end, int depth, LegacyBlob* blob) {
    if (!m_none) m_none = make(VKind::None);
    Run r;
    r.p = *p;
    r.start = *p;
    r.end = end;
    r.depth = depth;
    r.blob = blob;
    while (step(r)) {
    }
    *p = r.p;
    if (r.stack.size() != 1 || !r.marks.empty())
        fail(r.op, "STOP with {} values and {} open MARKs on the stack (a pickle ends with one value)",
             r.stack.size(), r.marks.size());
    return r.stack.back();
}

void Parser::setItems(Run& r, Value* target, const std::vector<Value*>& kv) {
    if (kv.size() % 2 != 0) fail(r.op, "{} with an odd number of values ({})", opcodeName(*r.op), kv.size());
    // An Object here is an inert record of a dict subclass (diffusers' FrozenDict): its items are kept,
    // no __setitem__ runs. Duplicate keys are resolved when the items are read (the last one wins).
    if (target->kind != VKind::Dict && target->kind != VKind::Object)
        fail(r.op, "{} on a {} (only dicts take items)", opcodeName(*r.op), kindName(target->kind));
    target->items.insert(target->items.end(), kv.begin(), kv.end());
}

void Parser::appendItems(Run& r, Value* target, const std::vector<Value*>& items, bool set) {
    const VKind want = set ? VKind::Set : VKind::List;
    if (target->kind != want)
        fail(r.op, "{} on a {} (only {}s take them; anything else would call a method)", opcodeName(*r.op),
             kindName(target->kind), kindName(want));
    target->items.insert(target->items.end(), items.begin(), items.end());
}

// REDUCE: `callable(*args)`, interpreted for the allow-listed globals; nothing is called.
void Parser::reduce(Run& r) {
    Value* args = expect(r, pop(r), VKind::Tuple, "an argument tuple");
    Value* callable = pop(r);
    if (callable->kind != VKind::Global)
        fail(r.op, "REDUCE calls a {} (only allow-listed globals are interpreted)", kindName(callable->kind));
    const auto& a = args->items;
    Value* result = nullptr;
    switch (callable->global) {
        case GKind::OrderedDict:
            result = make(VKind::Dict);
            if (a.size() == 1 && a[0]->kind == VKind::List) {  // OrderedDict([(k, v), ...])
                chargeCopy(r, a[0]->items.size());
                for (Value* pair : a[0]->items) {
                    if (pair->kind != VKind::Tuple || pair->items.size() != 2)
                        fail(r.op, "OrderedDict() item is not a (key, value) pair");
                    setItems(r, result, pair->items);
                }
            } else if (!a.empty()) {
                fail(r.op, "OrderedDict() with {} arguments", a.size());
            }
            break;
        case GKind::Set:
        case GKind::FrozenSet:
            result = make(VKind::Set);
            if (a.size() == 1 && (a[0]->kind == VKind::List || a[0]->kind == VKind::Tuple)) {
                chargeCopy(r, a[0]->items.size());
                result->items = a[0]->items;
            } else if (!a.empty())
                fail(r.op, "{}() with unexpected arguments", callable->s);
            break;
        case GKind::Reconstructor:  // copyreg._reconstructor(cls, object, None): an empty instance
            if (a.size() != 3 || a[0]->kind != VKind::Global || a[1]->kind != VKind::Global ||
                a[1]->global != GKind::Object || a[2]->kind != VKind::None)
                fail(r.op, "copyreg._reconstructor with arguments other than (class, object, None)");
            newObject(r, a[0], make(VKind::Tuple));
            return;
        case GKind::ModuleClass:  // e.g. FrozenDict(): an inert record
            newObject(r, callable, args);
            return;
        case GKind::RebuildTensorV2:
            result = rebuildTensor(r, args, true);
            break;
        case GKind::RebuildTensor:
            result = rebuildTensor(r, args, false);
            break;
        case GKind::RebuildParameter:
        case GKind::RebuildParameterWithState: {
            const std::size_t want = callable->global == GKind::RebuildParameter ? 3 : 4;
            if (a.size() != want) fail(r.op, "{} takes {} arguments, got {}", callable->s, want, a.size());
            expect(r, a[0], VKind::Tensor, "the parameter's data");
            result = make(VKind::Tensor);
            result->i = a[0]->i;
            result->flag = true;
            break;
        }
        case GKind::LoadFromBytes:
            result = loadFromBytes(r, args);
            break;
        case GKind::TorchSize:  // torch.Size((d0, d1, ...)) is a tuple
            if (a.size() != 1) fail(r.op, "torch.Size takes one tuple");
            result = expect(r, a[0], VKind::Tuple, "the sizes");
            break;
        default:
            fail(r.op, "REDUCE would call '{}', which this reader never calls", callable->s);
    }
    push(r, result);
}

// NEWOBJ / copyreg: an instance of an allow-listed class, as an inert record (or a dict for
// OrderedDict and its subclasses, an empty object for builtins.object).
void Parser::newObject(Run& r, Value* cls, Value* args) {
    if (cls->kind != VKind::Global)
        fail(r.op, "{} of a {} (a class was expected)", opcodeName(*r.op), kindName(cls->kind));
    if (cls->global == GKind::OrderedDict) {
        push(r, make(VKind::Dict));
        return;
    }
    if (cls->global == GKind::Set || cls->global == GKind::FrozenSet) {
        push(r, make(VKind::Set));
        return;
    }
    if (cls->global != GKind::ModuleClass && cls->global != GKind::Object)
        fail(r.op, "{} would construct '{}', which is not a class this reader makes records of",
             opcodeName(*r.op), cls->s);
    Value* v = make(VKind::Object);
    v->cls = cls;
    v->args = args;
    push(r, v);
}

// BUILD: the instance's state (its __dict__), kept in the record; __setstate__ never runs.
void Parser::build(Run& r) {
    Value* state = pop(r);
    Value* target = top(r);
    if (target->kind == VKind::Dict) return;  // an OrderedDict's own attributes: not needed
    if (target->kind != VKind::Object)
        fail(r.op, "BUILD on a {} (only records of allow-listed classes take a state)",
             kindName(target->kind));
    // (dict, slots) from objects with __slots__: the dict part is the state.
    if (state->kind == VKind::Tuple && state->items.size() == 2) state = state->items[0];
    target->state = state;
}

// BINPERSID inside a legacy blob: ('storage', StorageType, key, location, numel, view_metadata).
void Parser::persistentLoad(Run& r) {
    Value* pid = pop(r);
    if (!r.blob) fail(r.op, "BINPERSID (a persistent id) outside a storage blob");
    if (pid->kind != VKind::Tuple || pid->items.size() != 6 || pid->items[0]->kind != VKind::Str ||
        pid->items[0]->s != "storage")
        fail(r.op, "persistent id is not ('storage', type, key, location, size, view)");
    const auto& a = pid->items;
    if (a[1]->kind != VKind::Global || a[1]->global != GKind::StorageType)
        fail(r.op, "persistent id names a {} instead of a storage type", kindName(a[1]->kind));
    const std::string key = expect(r, a[2], VKind::Str, "the storage key")->s;
    expect(r, a[3], VKind::Str, "the storage location");
    const std::int64_t numel = expectInt(r, a[4], "the storage size");
    if (a[5]->kind != VKind::None)
        fail(r.op, "storage '{}' is a view of another storage (torch < 0.4 files), which is not supported",
             key);
    if (numel < 0) fail(r.op, "storage '{}' has a negative size {}", key, numel);
    auto found = r.blob->storages.find(key);
    if (found != r.blob->storages.end()) {
        push(r, found->second);
        return;
    }
    Value* v = make(VKind::Storage);
    auto storage = std::make_shared<PickleStorage>();
    storage->dtype = static_cast<StDtype>(a[1]->i);
    storage->numel = static_cast<std::uint64_t>(numel);
    storage->key = key;
    v->i = static_cast<std::int64_t>(m_storages.size());
    m_storages.push_back(std::move(storage));
    r.blob->storages.emplace(key, v);
    push(r, v);
}

// torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]) and
// _rebuild_tensor(storage, offset, size, stride): a view, checked to lie inside its storage.
Value* Parser::rebuildTensor(Run& r, const Value* args, bool v2) {
    const auto& a = args->items;
    if (v2 ? (a.size() != 6 && a.size() != 7) : a.size() != 4)
        fail(r.op, "{} with {} arguments", v2 ? "_rebuild_tensor_v2" : "_rebuild_tensor", a.size());
    const Value* st = expect(r, a[0], VKind::Storage, "the tensor's storage");
    TensorRec t;
    t.storage = m_storages[static_cast<std::size_t>(st->i)];
    t.offset = expectInt(r, a[1], "the storage offset");
    t.shape = expectInts(r, a[2], "the sizes");
    t.strides = expectInts(r, a[3], "the strides");
    if (t.shape.size() != t.strides.size() || t.shape.size() > 32)
        fail(r.op, "tensor with {} sizes and {} strides", t.shape.size(), t.strides.size());
    std::uint64_t numel = 1, last = 0;
    bool overflow = t.offset < 0;
    for (std::size_t d = 0; d < t.shape.size() && !overflow; ++d) {
        if (t.shape[d] < 0 || t.strides[d] < 0) fail(r.op, "tensor with a negative size or stride");
        const auto size = static_cast<std::uint64_t>(t.shape[d]);
        std::uint64_t reach = 0;
        overflow = mulOverflows(numel, size, &numel) ||
                   (size > 0 && (mulOverflows(size - 1, static_cast<std::uint64_t>(t.strides[d]), &reach) ||
                                 __builtin_add_overflow(last, reach, &last)));
    }
    const auto offset = static_cast<std::uint64_t>(std::max<std::int64_t>(t.offset, 0));
    if (overflow || __builtin_add_overflow(last, offset, &last) ||
        (numel > 0 ? last >= t.storage->numel : offset > t.storage->numel))
        fail(r.op,
             "tensor view (offset {}, sizes ({}), strides ({})) reaches outside its storage '{}' of {} "
             "elements",
             t.offset, fmt::join(t.shape, ", "), fmt::join(t.strides, ", "), t.storage->key,
             t.storage->numel);
    // Stride-0 views could expand a few bytes into gigabytes once made contiguous.
    m_tensorBytes += numel * stDtypeSize(t.storage->dtype);
    if (m_tensorBytes > 2 * static_cast<std::uint64_t>(m_size) + (1u << 20))
        fail(r.op, "the tensors' views add up to {} bytes, far more than the {}-byte file holds",
             m_tensorBytes, m_size);
    Value* v = make(VKind::Tensor);
    v->i = static_cast<std::int64_t>(m_tensors.size());
    m_tensors.push_back(std::move(t));
    return v;
}

// torch.storage._load_from_bytes(b): b is a legacy torch.save stream — pickles of the magic number, the
// protocol version and the system info, then the object (with persistent ids for its storages), then the
// list of storage keys, then per key its element count (int64) and raw bytes.
Value* Parser::loadFromBytes(Run& r, const Value* args) {
    if (args->items.size() != 1) fail(r.op, "_load_from_bytes takes one bytes argument");
    const Value* blobBytes = expect(r, args->items[0], VKind::Bytes, "the storage blob");
    if (r.depth + 1 > m_limits.maxBlobNesting)
        fail(r.op, "a storage blob inside a storage blob (nesting deeper than {})", m_limits.maxBlobNesting);
    const auto savedBlobAt = m_blobAt;
    m_blobAt = offsetOf(blobBytes->bytes);
    const std::uint8_t* p = blobBytes->bytes;
    const std::uint8_t* end = p + blobBytes->nbytes;
    const std::uint8_t* start = p;
    const Value* magic = run(&p, end, r.depth + 1, nullptr);
    if (magic->kind != VKind::BigInt || magic->nbytes != sizeof(kLegacyMagic) ||
        std::memcmp(magic->bytes, kLegacyMagic, sizeof(kLegacyMagic)) != 0)
        fail(start, "the storage blob does not start with torch.save's legacy magic number");
    const Value* protocol = run(&p, end, r.depth + 1, nullptr);
    if (protocol->kind != VKind::Int || protocol->i != kLegacyProtocol)
        fail(start, "the storage blob has torch.save protocol {} (1001 expected)",
             protocol->kind == VKind::Int ? std::to_string(protocol->i) : kindName(protocol->kind));
    Value* sysInfo = run(&p, end, r.depth + 1, nullptr);
    if (sysInfo->kind != VKind::Dict)
        fail(start, "the storage blob's system info is a {}", kindName(sysInfo->kind));
    if (const Value* little = lookup(sysInfo, "little_endian");
        little && !(little->kind == VKind::Bool && little->flag))
        fail(start, "the storage blob was written on a big-endian machine, which is not supported");
    LegacyBlob blob;
    Value* result = run(&p, end, r.depth + 1, &blob);
    Value* keys = run(&p, end, r.depth + 1, nullptr);
    readBlobData(p, end, keys, blob);
    if (result->kind != VKind::Storage)
        fail(start, "the storage blob holds a {} instead of a storage", kindName(result->kind));
    m_blobAt = savedBlobAt;
    return result;
}

void Parser::readBlobData(const std::uint8_t* p, const std::uint8_t* end, Value* keys, LegacyBlob& blob) {
    if (keys->kind != VKind::List) fail(p, "the storage blob's key list is a {}", kindName(keys->kind));
    std::set<std::string> seen;
    for (const Value* key : keys->items) {
        if (key->kind != VKind::Str) fail(p, "a storage key is a {}", kindName(key->kind));
        auto found = blob.storages.find(key->s);
        if (found == blob.storages.end() || !seen.insert(key->s).second)
            fail(p, "storage key '{}' is unknown or listed twice", key->s);
        PickleStorage& st = *m_storages[static_cast<std::size_t>(found->second->i)];
        std::uint64_t numel = 0, bytes = 0;
        if (end - p < 8) fail(p, "storage '{}' has no element count (the blob ends)", key->s);
        for (int k = 7; k >= 0; --k) numel = (numel << 8) | p[k];
        if (numel != st.numel)
            fail(p, "storage '{}' holds {} elements, but its persistent id says {}", key->s, numel, st.numel);
        if (mulOverflows(numel, stDtypeSize(st.dtype), &bytes) ||
            bytes > static_cast<std::uint64_t>(end - p - 8))
            fail(p, "storage '{}' needs {} elements of {} bytes, but only {} bytes remain", key->s, numel,
                 stDtypeSize(st.dtype), end - p - 8);
        st.data = p + 8;
        p += 8 + bytes;
    }
    if (seen.size() != blob.storages.size())
        fail(p, "the storage blob lists fewer keys than it has storages");
    if (p != end) fail(p, "{} unexpected bytes after the storage data", end - p);
}

// ---- from the object graph to the state dict ------------------------------------------------------------

const Value* Parser::lookup(const Value* mapping, const std::string& key) {
    const auto& items = mapping->items;
    m_work += items.size();
    if (m_work > 64ull * m_limits.maxValues)
        throwBadInput(
            "{}: the module graph is too large to walk (shared or cyclic records?); the file was "
            "crafted or is not a checkpoint",
            m_label);
    for (std::size_t k = items.size(); k >= 2; k -= 2)  // the last assignment wins, as in a dict
        if (items[k - 2]->kind == VKind::Str && items[k - 2]->s == key) return items[k - 1];
    return nullptr;
}

// A dict's items in insertion order of their first key, with the last value of duplicate keys.
std::vector<std::pair<std::string, const Value*>> Parser::orderedItems(const Value* mapping,
                                                                       const char* what) {
    std::vector<std::pair<std::string, const Value*>> out;
    std::unordered_map<std::string, std::size_t> position;
    m_work += mapping->items.size();
    for (std::size_t k = 0; k + 1 < mapping->items.size(); k += 2) {
        const Value* key = mapping->items[k];
        if (key->kind != VKind::Str)
            throwBadInput("{}: {} has a {} key where names are expected", m_label, what, kindName(key->kind));
        auto [it, fresh] = position.emplace(key->s, out.size());
        if (fresh)
            out.emplace_back(key->s, mapping->items[k + 1]);
        else
            out[it->second].second = mapping->items[k + 1];
    }
    return out;
}

void Parser::addTensor(const Value* v, const std::string& name, PickleStateDict& out) {
    if (v->kind != VKind::Tensor)
        throwBadInput("{}: '{}' is a {}, not a tensor", m_label, name, kindName(v->kind));
    if (name.size() > kMaxNameChars)
        throwBadInput("{}: tensor name '{}...' is longer than {} characters", m_label, name.substr(0, 80),
                      kMaxNameChars);
    if (!m_names.insert(name).second) throwBadInput("{}: tensor name '{}' appears twice", m_label, name);
    const TensorRec& rec = m_tensors[static_cast<std::size_t>(v->i)];
    if (!rec.storage->data && rec.storage->numel > 0)
        throwBadInput("{}: tensor '{}' has a storage without data", m_label, name);
    PickleTensor t;
    t.name = name;
    t.dtype = rec.storage->dtype;
    t.shape = rec.shape;
    t.strides = rec.strides;
    t.offset = rec.offset;
    t.storage = rec.storage;
    out.tensors.push_back(std::move(t));
}

// Module.state_dict(): own _parameters, then _buffers that are persistent, then each of _modules under
// "name.", skipping None entries.
void Parser::walkModule(const Value* module, const std::string& prefix, int depth, PickleStateDict& out) {
    const std::string where = prefix.empty() ? std::string("the top module") : "module '" + prefix + "'";
    if (depth > m_limits.maxModuleDepth || ++m_moduleVisits > m_limits.maxModuleVisits ||
        prefix.size() > kMaxNameChars)
        throwBadInput("{}: {} is nested too deep or the module graph is too large ({} levels, {} visits)",
                      m_label, where, depth, m_moduleVisits);
    if (module->kind != VKind::Object || !module->cls || module->cls->global != GKind::ModuleClass)
        throwBadInput("{}: {} is a {}, not a torch.nn / diffusers module", m_label, where,
                      module->kind == VKind::Object ? globalName(module->cls) : kindName(module->kind));
    const Value* state = module->state;
    const Value* params = state && state->kind == VKind::Dict ? lookup(state, "_parameters") : nullptr;
    const Value* buffers = params ? lookup(state, "_buffers") : nullptr;
    const Value* children = buffers ? lookup(state, "_modules") : nullptr;
    if (!children || params->kind != VKind::Dict || buffers->kind != VKind::Dict ||
        children->kind != VKind::Dict)
        throwBadInput(
            "{}: {} ({}) has no _parameters / _buffers / _modules dicts in its state; it is not a "
            "pickled torch module",
            m_label, where, globalName(module->cls));
    for (const auto& [name, v] : orderedItems(params, "_parameters"))
        if (v->kind != VKind::None) addTensor(v, prefix + name, out);
    std::set<std::string> nonPersistent;
    if (const Value* np = lookup(state, "_non_persistent_buffers_set"); np && np->kind == VKind::Set)
        for (const Value* n : np->items)
            if (n->kind == VKind::Str) nonPersistent.insert(n->s);
    for (const auto& [name, v] : orderedItems(buffers, "_buffers"))
        if (v->kind != VKind::None && !nonPersistent.count(name)) addTensor(v, prefix + name, out);
    for (const auto& [name, v] : orderedItems(children, "_modules"))
        if (v->kind != VKind::None) walkModule(v, prefix + name + ".", depth + 1, out);
}

PickleStateDict Parser::extract(Value* top) {
    PickleStateDict out;
    const Value* module = top;
    if (top->kind == VKind::Dict) {
        module = nullptr;
        for (const char* key : {"ema", "G"})
            if (const Value* v = lookup(top, key)) {
                module = v;
                out.key = key;
                break;
            }
        if (!module) {
            const auto items = orderedItems(top, "the top-level dict");
            const bool stateDict =
                !items.empty() && std::all_of(items.begin(), items.end(), [](const auto& kv) {
                    return kv.second->kind == VKind::Tensor;
                });
            if (!stateDict) {
                std::vector<std::string> keys;
                for (const auto& kv : items) keys.push_back("'" + kv.first.substr(0, 40) + "'");
                if (keys.size() > 12) keys.resize(12);
                throwBadInput(
                    "{}: the top-level dict has no 'ema' or 'G' entry (its keys: {}); a SiD generator "
                    "pickle holds {{'ema': UNet2DConditionModel}}",
                    m_label, fmt::join(keys, ", "));
            }
            for (const auto& [name, v] : items) addTensor(v, name, out);
        }
    }
    if (module) {
        out.moduleClass = module->kind == VKind::Object ? globalName(module->cls) : kindName(module->kind);
        walkModule(module, "", 0, out);
    }
    if (out.tensors.empty()) throwBadInput("{}: the module holds no tensors", m_label);
    out.globals.assign(m_globals.begin(), m_globals.end());
    return out;
}

}  // namespace

// ---- public API -------------------------------------------------------------------------------------

std::uint64_t PickleTensor::numel() const {
    std::uint64_t n = 1;
    for (auto d : shape) n *= static_cast<std::uint64_t>(d);
    return n;
}

const char* torchDtypeName(StDtype dtype) {
    switch (dtype) {
        case StDtype::F64:
            return "float64";
        case StDtype::F32:
            return "float32";
        case StDtype::F16:
            return "float16";
        case StDtype::BF16:
            return "bfloat16";
        case StDtype::I64:
            return "int64";
        case StDtype::I32:
            return "int32";
        case StDtype::I16:
            return "int16";
        case StDtype::I8:
            return "int8";
        case StDtype::U8:
            return "uint8";
        case StDtype::BOOL:
            return "bool";
        default:
            return stDtypeName(dtype);
    }
}

std::string stateDictDtype(const PickleStateDict& dict) {
    std::vector<std::string> names;
    for (const auto& t : dict.tensors)
        if (std::find(names.begin(), names.end(), torchDtypeName(t.dtype)) == names.end())
            names.emplace_back(torchDtypeName(t.dtype));
    if (names.size() == 1) return names.front();
    return fmt::format("mixed ({})", fmt::join(names, ", "));
}

bool pickleGlobalAllowed(const std::string& module, const std::string& name) {
    StDtype dtype{};
    return classifyGlobal(module, name, &dtype).has_value();
}

PickleStateDict parsePickleStateDict(const std::uint8_t* data, std::size_t size, const std::string& label,
                                     const PickleLimits& limits) {
    Parser parser(data, size, label, limits);
    const std::uint8_t* p = data;
    Value* top = parser.run(&p, data + size, 0, nullptr);
    if (p != data + size)
        parser.fail(p, "{} bytes after the pickle's STOP; a checkpoint is exactly one pickle",
                    data + size - p);
    return parser.extract(top);
}

PickleStateDict readPickleStateDict(const std::filesystem::path& path, const PickleLimits& limits) {
    const std::string label = path.string();
    struct stat st {};
    UniqueFd fd = openRegularFile(path, "pickle checkpoint", &st);
    if (st.st_size <= 0) throwBadInput("{}: the file is empty; fetch it again", label);
    const auto size = static_cast<std::size_t>(st.st_size);
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (map == MAP_FAILED) throwBadInput("{}: cannot map the file ({})", label, std::strerror(errno));
    std::shared_ptr<const void> mapping(map, [size](const void* m) { ::munmap(const_cast<void*>(m), size); });
    PickleStateDict out = parsePickleStateDict(static_cast<const std::uint8_t*>(map), size, label, limits);
    out.keepAlive = std::move(mapping);
    return out;
}

bool isPickleCheckpointPath(const std::filesystem::path& path) {
    std::string ext = path.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    return ext == ".pkl" || ext == ".pickle";
}

}  // namespace swd
