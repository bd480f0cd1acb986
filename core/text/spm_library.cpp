#include "text/spm_library.h"

#include "util/error.h"
#include "util/file_read.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>

namespace swd {

namespace fs = std::filesystem;

#ifndef SWD_SPM_MODULE_NAME
#define SWD_SPM_MODULE_NAME "libswd_spm.so"
#endif
#ifndef SWD_SPM_INSTALL_DIR
#define SWD_SPM_INSTALL_DIR "lib/swd-studio"  // relative to the install prefix
#endif

std::vector<fs::path> SpmLibrary::candidatePaths() {
    if (const char* env = std::getenv("SWD_SPM_MODULE"); env && *env) return {fs::path(env)};
    std::vector<fs::path> out;
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        out.push_back(exe.parent_path() / SWD_SPM_MODULE_NAME);
        out.push_back(
            (exe.parent_path() / ".." / SWD_SPM_INSTALL_DIR / SWD_SPM_MODULE_NAME).lexically_normal());
    }
#ifdef SWD_SPM_BUILD_PATH
    out.emplace_back(SWD_SPM_BUILD_PATH);
#endif
#ifdef SWD_SPM_INSTALL_PATH
    out.emplace_back(SWD_SPM_INSTALL_PATH);
#endif
    return out;
}

std::shared_ptr<const SpmLibrary> SpmLibrary::load(const fs::path& path) {
    std::error_code ec;
    if (!fs::exists(path, ec))
        throwInternal(
            "{}: the sentencepiece module does not exist (build the swd_spm target, or install the "
            "package that provides it)",
            path.string());
    dlerror();
#ifdef SWD_SPM_ISOLATED_NAMESPACE
    // Sanitizer builds: ASan refuses RTLD_DEEPBIND, so the (uninstrumented) module gets a link-map
    // namespace of its own instead, where it and sentencepiece see only their own protobuf.
    void* handle = ::dlmopen(LM_ID_NEWLM, path.c_str(), RTLD_NOW | RTLD_LOCAL);
#else
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
#endif
    if (!handle) {
        const char* why = dlerror();
        throwInternal("{}: cannot load the sentencepiece module: {}", path.string(),
                      why ? why : "unknown error");
    }
    auto lib = std::shared_ptr<SpmLibrary>(new SpmLibrary());
    lib->m_path = path;
    lib->m_handle = handle;
    auto sym = [&](const char* name) {
        void* p = ::dlsym(handle, name);
        if (!p)
            throwInternal(
                "{}: the sentencepiece module lacks '{}' (a module from another build? rebuild swd_spm)",
                path.string(), name);
        return p;
    };
    const auto version = reinterpret_cast<SwdSpmAbiVersionFn>(sym("swd_spm_abi_version"));
    if (version() != SWD_SPM_ABI_VERSION)
        throwInternal(
            "{}: the sentencepiece module has interface version {}, this program needs {}; rebuild or "
            "reinstall swd_spm together with the program",
            path.string(), version(), SWD_SPM_ABI_VERSION);
    lib->loadModel = reinterpret_cast<SwdSpmLoadFn>(sym("swd_spm_load"));
    lib->freeModel = reinterpret_cast<SwdSpmFreeFn>(sym("swd_spm_free"));
    lib->encode = reinterpret_cast<SwdSpmEncodeFn>(sym("swd_spm_encode"));
    lib->vocabulary = reinterpret_cast<SwdSpmVocabularyFn>(sym("swd_spm_vocabulary"));
    return lib;
}

std::shared_ptr<const SpmLibrary> SpmLibrary::instance() {
    static std::mutex mutex;
    static std::shared_ptr<const SpmLibrary> loaded;
    std::lock_guard<std::mutex> lock(mutex);
    if (loaded) return loaded;
    std::string tried;
    for (const auto& candidate : candidatePaths()) {
        std::error_code ec;
        if (!fs::exists(candidate, ec)) {
            tried += "\n  " + candidate.string() + " (absent)";
            continue;
        }
        try {
            loaded = load(candidate);
            return loaded;
        } catch (const Error& e) {
            tried += "\n  " + candidate.string() + " (" + e.what() + ")";
        }
    }
    throwInternal(
        "the sentencepiece module {} (needed for the T5 tokenizer) was not found; looked at:{}\nBuild the "
        "swd_spm target, install the package (it puts the module in lib/swd-studio), or set "
        "SWD_SPM_MODULE to its path",
        SWD_SPM_MODULE_NAME, tried);
}

SentencePieceModel SentencePieceModel::load(const fs::path& modelFile,
                                            std::shared_ptr<const SpmLibrary> library) {
    std::error_code ec;
    if (!fs::exists(modelFile, ec))
        throwBadInput(
            "{}: no such file; the T5 tokenizer needs spiece.model (from the model's tokenizer_3/ folder)",
            modelFile.string());
    if (fs::is_directory(modelFile, ec))
        throwBadInput("{}: is a folder; pass the spiece.model file inside it", modelFile.string());
    requireRegularFile(modelFile, "SentencePiece model");  // sentencepiece would block on a FIFO
    if (!library) library = SpmLibrary::instance();
    char error[1024] = {0};
    SwdSpmModel* model = library->loadModel(modelFile.c_str(), error, sizeof error);
    if (!model)
        throwBadInput(
            "{}: not a readable SentencePiece model ({}); expected T5's spiece.model: download "
            "tokenizer_3/spiece.model again",
            modelFile.string(), error);
    SentencePieceModel out;
    out.m_path = modelFile;
    out.m_library = library;
    const auto freeFn = library->freeModel;
    out.m_model = std::shared_ptr<SwdSpmModel>(model, [freeFn](SwdSpmModel* m) { freeFn(m); });
    return out;
}

std::vector<SentencePieceModel::Piece> SentencePieceModel::encode(std::string_view text) const {
    std::vector<Piece> pieces;
    char error[1024] = {0};
    auto onPiece = [](void* context, int id, const char* piece, size_t bytes) {
        static_cast<std::vector<Piece>*>(context)->push_back(Piece{id, std::string(piece, bytes)});
    };
    if (m_library->encode(m_model.get(), text.data(), text.size(), onPiece, &pieces, error, sizeof error) !=
        0)
        throwBadInput("{}: sentencepiece could not encode the prompt: {}", m_path.string(), error);
    return pieces;
}

std::vector<SentencePieceModel::VocabEntry> SentencePieceModel::vocabulary() const {
    std::vector<VocabEntry> entries;
    auto onEntry = [](void* context, int id, const char* piece, size_t bytes, float score, int kind) {
        auto& v = *static_cast<std::vector<VocabEntry>*>(context);
        if (static_cast<std::size_t>(id) >= v.size()) v.resize(static_cast<std::size_t>(id) + 1);
        v[static_cast<std::size_t>(id)] = VocabEntry{std::string(piece, bytes), score, kind};
    };
    m_library->vocabulary(m_model.get(), onEntry, &entries);
    return entries;
}

}  // namespace swd
