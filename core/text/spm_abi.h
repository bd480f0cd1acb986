// The C interface of the sentencepiece module (core/text/spm_module.cpp, target swd_spm). Debian's
// libsentencepiece carries its own protobuf, which crashes a process that also loads libtorch's
// protobuf; so sentencepiece lives in a small MODULE that spm_library.cpp dlopen()s with RTLD_LOCAL |
// RTLD_DEEPBIND and talks to only through these plain C functions (no C++ types cross the boundary).
#pragma once

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// Bumped whenever a signature below changes; the loader refuses a module of another version.
#define SWD_SPM_ABI_VERSION 1

typedef struct SwdSpmModel SwdSpmModel;

// Called once per piece of an encoding: its id and its text (the normalized surface, with U+2581 for
// spaces; for an unknown piece the characters it covers).
typedef void (*SwdSpmPieceFn)(void* context, int id, const char* piece, size_t pieceBytes);
// Called once per vocabulary entry by swd_spm_vocabulary. kind: 1 normal (or user defined), 2 unknown,
// 3 control, 5 unused, 6 byte.
typedef void (*SwdSpmVocabFn)(void* context, int id, const char* piece, size_t pieceBytes, float score,
                              int kind);

typedef int (*SwdSpmAbiVersionFn)(void);
// Loads a model; returns NULL and writes a message to `error` (NUL-terminated, at most errorCap bytes).
typedef SwdSpmModel* (*SwdSpmLoadFn)(const char* path, char* error, int errorCap);
typedef void (*SwdSpmFreeFn)(SwdSpmModel* model);
// Encodes UTF-8 text; 0 on success, -1 with a message in `error`.
typedef int (*SwdSpmEncodeFn)(const SwdSpmModel* model, const char* text, size_t textBytes,
                              SwdSpmPieceFn onPiece, void* context, char* error, int errorCap);
// Lists every vocabulary entry in id order; returns the vocabulary size.
typedef int (*SwdSpmVocabularyFn)(const SwdSpmModel* model, SwdSpmVocabFn onEntry, void* context);

#ifdef __cplusplus
}
#endif
