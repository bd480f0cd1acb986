// Content hashes of model files for the run's metadata (which exact weights made an image).
#pragma once

#include <filesystem>
#include <string>

namespace swd {

// SHA-256 of a file's content, lower-case hex. Files in a Hugging Face cache are stored as blobs named
// by their SHA-256, so those cost nothing; other files are hashed once and remembered (per path, size
// and modification time) for the life of the process and in `cacheFile` when given.
std::string fileSha256(const std::filesystem::path& path, const std::filesystem::path& cacheFile = {});

// The first 10 hex digits, as A1111 shows model hashes.
std::string shortHash(const std::string& sha256);

}  // namespace swd
