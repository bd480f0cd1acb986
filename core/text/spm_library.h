// Access to sentencepiece through its module (text/spm_abi.h): finding and dlopen()ing libswd_spm.so with
// RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND, and a model handle with the two calls the T5 tokenizer needs.
#pragma once

#include "text/spm_abi.h"

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace swd {

class SpmLibrary {
public:
    // The module of this process, found on first use (see candidatePaths) and kept loaded. Throws an
    // Internal error listing every place it looked when there is none.
    static std::shared_ptr<const SpmLibrary> instance();
    // Loads the module at `path` (a custom install, tests). Throws naming the path and the loader's error.
    static std::shared_ptr<const SpmLibrary> load(const std::filesystem::path& path);
    // Where instance() looks, in order: $SWD_SPM_MODULE alone when set; else next to the executable,
    // ../lib/swd-studio beside the executable's folder (the installed layout), the build tree, and the
    // compile-time install prefix.
    static std::vector<std::filesystem::path> candidatePaths();

    const std::filesystem::path& path() const { return m_path; }

    SwdSpmLoadFn loadModel = nullptr;
    SwdSpmFreeFn freeModel = nullptr;
    SwdSpmEncodeFn encode = nullptr;
    SwdSpmVocabularyFn vocabulary = nullptr;

private:
    std::filesystem::path m_path;
    void* m_handle = nullptr;  // never closed: unloading a library with protobuf's static state is unsafe
};

// A loaded sentencepiece model (spiece.model).
class SentencePieceModel {
public:
    struct Piece {
        int id = 0;
        std::string text;  // normalized surface with U+2581 for spaces
    };
    struct VocabEntry {
        std::string piece;
        float score = 0.0f;
        int kind = 1;  // see SwdSpmVocabFn
    };

    // Throws BadInput naming the file when it is missing or not a sentencepiece model.
    static SentencePieceModel load(const std::filesystem::path& modelFile,
                                   std::shared_ptr<const SpmLibrary> library = nullptr);

    const std::filesystem::path& path() const { return m_path; }
    // sentencepiece's own encoding (what transformers' slow T5Tokenizer calls).
    std::vector<Piece> encode(std::string_view text) const;
    std::vector<VocabEntry> vocabulary() const;

private:
    std::filesystem::path m_path;
    std::shared_ptr<const SpmLibrary> m_library;
    std::shared_ptr<SwdSpmModel> m_model;
};

}  // namespace swd
