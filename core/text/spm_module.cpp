// The sentencepiece module (target swd_spm): a MODULE library with a C ABI (text/spm_abi.h) around
// Debian's libsentencepiece. It is never linked into a libtorch process; spm_library.cpp dlopen()s it with
// RTLD_LOCAL | RTLD_DEEPBIND so that sentencepiece resolves protobuf to its own copy (see
// shared/spec/build-environment.md, finding 1). No libtorch or swd_core header may be included here.
#include "text/spm_abi.h"

#include <sentencepiece_processor.h>

#include <cstring>
#include <exception>
#include <memory>
#include <string>

struct SwdSpmModel {
    sentencepiece::SentencePieceProcessor processor;
};

namespace {

void putError(char* error, int errorCap, const std::string& message) {
    if (!error || errorCap <= 0) return;
    const std::size_t n = std::min<std::size_t>(message.size(), static_cast<std::size_t>(errorCap) - 1);
    std::memcpy(error, message.data(), n);
    error[n] = '\0';
}

}  // namespace

#define SWD_SPM_EXPORT extern "C" __attribute__((visibility("default")))

SWD_SPM_EXPORT int swd_spm_abi_version(void) {
    return SWD_SPM_ABI_VERSION;
}

SWD_SPM_EXPORT SwdSpmModel* swd_spm_load(const char* path, char* error, int errorCap) {
    try {
        auto model = std::make_unique<SwdSpmModel>();
        const auto status = model->processor.Load(path);
        if (!status.ok()) {
            putError(error, errorCap, status.ToString());
            return nullptr;
        }
        return model.release();
    } catch (const std::exception& e) {
        putError(error, errorCap, e.what());
    } catch (...) {
        putError(error, errorCap, "unknown exception in sentencepiece");
    }
    return nullptr;
}

SWD_SPM_EXPORT void swd_spm_free(SwdSpmModel* model) {
    delete model;
}

SWD_SPM_EXPORT int swd_spm_encode(const SwdSpmModel* model, const char* text, size_t textBytes,
                                  SwdSpmPieceFn onPiece, void* context, char* error, int errorCap) {
    try {
        sentencepiece::ImmutableSentencePieceText spt;
        const auto status = model->processor.Encode(absl::string_view(text, textBytes), spt.mutable_proto());
        if (!status.ok()) {
            putError(error, errorCap, status.ToString());
            return -1;
        }
        for (const auto& piece : spt.pieces())
            onPiece(context, static_cast<int>(piece.id()), piece.piece().data(), piece.piece().size());
        return 0;
    } catch (const std::exception& e) {
        putError(error, errorCap, e.what());
    } catch (...) {
        putError(error, errorCap, "unknown exception in sentencepiece");
    }
    return -1;
}

SWD_SPM_EXPORT int swd_spm_vocabulary(const SwdSpmModel* model, SwdSpmVocabFn onEntry, void* context) {
    const auto& p = model->processor;
    const int n = p.GetPieceSize();
    for (int id = 0; id < n; ++id) {
        const std::string& piece = p.IdToPiece(id);
        int kind = 1;
        if (p.IsUnknown(id))
            kind = 2;
        else if (p.IsControl(id))
            kind = 3;
        else if (p.IsUnused(id))
            kind = 5;
        else if (p.IsByte(id))
            kind = 6;
        onEntry(context, id, piece.data(), piece.size(), p.GetScore(id), kind);
    }
    return n;
}
