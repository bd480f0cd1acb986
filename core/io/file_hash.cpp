#include "io/file_hash.h"

#include "util/error.h"
#include "util/file_read.h"
#include "util/json_reader.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <cctype>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <vector>

namespace swd {

namespace fs = std::filesystem;

namespace {

bool isSha256Hex(const std::string& s) {
    return s.size() == 64 && std::all_of(s.begin(), s.end(), [](unsigned char c) {
               return std::isdigit(c) || (c >= 'a' && c <= 'f');
           });
}

std::string cacheKey(const fs::path& path) {
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    const auto mtime = fs::last_write_time(path, ec).time_since_epoch().count();
    return fmt::format("{}|{}|{}", fs::absolute(path).string(), size, static_cast<long long>(mtime));
}

std::string hashContent(const fs::path& path) {
    requireRegularFile(path, "file to hash");  // a FIFO would block the stream below
    std::ifstream in(path, std::ios::binary);
    if (!in) throwBadInput("{}: cannot open to compute its hash", path.string());
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
    std::vector<char> buffer(8 << 20);
    while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        if (in.gcount() > 0) EVP_DigestUpdate(ctx, buffer.data(), static_cast<std::size_t>(in.gcount()));
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(ctx, digest, &length);
    EVP_MD_CTX_free(ctx);
    std::string hex;
    for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
    return hex;
}

}  // namespace

std::string fileSha256(const fs::path& path, const fs::path& cacheFile) {
    std::error_code ec;
    // Hugging Face cache: snapshots/<rev>/file -> ../../blobs/<sha256>.
    const fs::path target = fs::is_symlink(path, ec) ? fs::canonical(path, ec) : path;
    if (!ec && target.parent_path().filename() == "blobs" && isSha256Hex(target.filename().string()))
        return target.filename().string();

    static std::mutex mutex;
    static std::map<std::string, std::string> memory;
    const std::string key = cacheKey(path);
    {
        std::lock_guard<std::mutex> lock(mutex);
        if (auto it = memory.find(key); it != memory.end()) return it->second;
    }
    nlohmann::json disk = nlohmann::json::object();
    if (!cacheFile.empty()) {
        std::error_code exists;
        if (fs::exists(cacheFile, exists)) {
            try {
                disk = readJsonFile(cacheFile, "hash cache");
            } catch (const Error&) {
                disk = nlohmann::json::object();  // a damaged cache is rebuilt
            }
        }
        if (disk.is_object() && disk.contains(key) && disk[key].is_string())
            return disk[key].get<std::string>();
    }
    const std::string hash = hashContent(path);
    {
        std::lock_guard<std::mutex> lock(mutex);
        memory[key] = hash;
    }
    if (!cacheFile.empty()) {
        if (!disk.is_object()) disk = nlohmann::json::object();
        disk[key] = hash;
        fs::create_directories(cacheFile.parent_path(), ec);
        const fs::path tmp = cacheFile.string() + ".tmp";
        std::ofstream(tmp) << disk.dump(1);
        fs::rename(tmp, cacheFile, ec);
    }
    return hash;
}

std::string shortHash(const std::string& sha256) {
    return sha256.substr(0, 10);
}

}  // namespace swd
