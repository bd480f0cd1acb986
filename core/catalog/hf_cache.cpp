#include "catalog/hf_cache.h"

#include "util/error.h"
#include "util/file_read.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

namespace swd {

namespace fs = std::filesystem;

namespace {

std::string trim(std::string s) {
    const auto b = s.find_first_not_of(" \t\r\n");
    const auto e = s.find_last_not_of(" \t\r\n");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::optional<std::string> nonEmpty(const EnvLookup& env, const char* name) {
    auto v = env(name);
    if (v && v->empty()) return std::nullopt;
    return v;
}

}  // namespace

EnvLookup processEnvironment() {
    return [](const std::string& name) -> std::optional<std::string> {
        const char* v = std::getenv(name.c_str());
        if (!v) return std::nullopt;
        return std::string(v);
    };
}

HfCacheLocation hfHubCacheLocation(const EnvLookup& env) {
    if (auto v = nonEmpty(env, "HF_HUB_CACHE")) return {fs::path(*v), "HF_HUB_CACHE"};
    if (auto v = nonEmpty(env, "HUGGINGFACE_HUB_CACHE")) return {fs::path(*v), "HUGGINGFACE_HUB_CACHE"};
    if (auto v = nonEmpty(env, "HF_HOME")) return {fs::path(*v) / "hub", "HF_HOME/hub"};
    if (auto v = nonEmpty(env, "XDG_CACHE_HOME"))
        return {fs::path(*v) / "huggingface" / "hub", "XDG_CACHE_HOME/huggingface/hub"};
    if (auto v = nonEmpty(env, "HOME"))
        return {fs::path(*v) / ".cache" / "huggingface" / "hub", "~/.cache/huggingface/hub"};
    return {};
}

std::string HfRepo::label() const {
    if (revision.empty()) return repoId;
    return fmt::format("{}@{}", repoId, revision.substr(0, 12));
}

std::optional<std::string> hfRepoIdFromFolderName(const std::string& name) {
    const std::string head = "models--";
    if (name.compare(0, head.size(), head) != 0) return std::nullopt;
    const std::string rest = name.substr(head.size());
    const auto sep = rest.find("--");
    if (sep == std::string::npos || sep == 0 || sep + 2 >= rest.size()) return std::nullopt;
    return rest.substr(0, sep) + "/" + rest.substr(sep + 2);
}

bool isHfRepoFolder(const fs::path& dir) {
    std::error_code ec;
    return hfRepoIdFromFolderName(dir.filename().string()).has_value() &&
           fs::is_directory(dir / "snapshots", ec);
}

bool isHfCacheFolder(const fs::path& dir) {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        if (isHfRepoFolder(it->path())) return true;
    return false;
}

HfRepo readHfRepo(const fs::path& repoDir) {
    HfRepo repo;
    repo.dir = repoDir;
    repo.repoId = hfRepoIdFromFolderName(repoDir.filename().string()).value_or(repoDir.filename().string());
    std::error_code ec;

    for (fs::directory_iterator it(repoDir / "blobs", ec), end; !ec && it != end; it.increment(ec))
        if (it->path().extension() == ".incomplete") repo.incompleteBlobs.push_back(it->path());
    std::sort(repo.incompleteBlobs.begin(), repo.incompleteBlobs.end());

    std::vector<fs::path> snapshots;
    for (fs::directory_iterator it(repoDir / "snapshots", ec), end; !ec && it != end; it.increment(ec))
        if (it->is_directory(ec)) snapshots.push_back(it->path());
    std::sort(snapshots.begin(), snapshots.end());

    std::string refMain;
    if (fs::exists(repoDir / "refs" / "main", ec)) {
        // A commit hash; a FIFO or a huge file here is a damaged cache, not a reason to hang.
        try {
            const std::string text = readRegularFile(repoDir / "refs" / "main", "Hugging Face ref", 4096);
            refMain = trim(text.substr(0, text.find('\n')));
            // A revision names a folder of snapshots/, never a path out of it.
            if (refMain.find('/') != std::string::npos || refMain == "." || refMain == "..") {
                repo.problems.push_back(
                    fmt::format("refs/main holds '{}', which is not a revision", refMain));
                refMain.clear();
            }
        } catch (const Error& e) {
            repo.problems.push_back(e.what());
        }
    }
    if (!refMain.empty()) {
        if (fs::is_directory(repoDir / "snapshots" / refMain, ec)) {
            repo.revision = refMain;
            repo.revisionSource = "refs/main";
        } else {
            repo.problems.push_back(fmt::format(
                "refs/main names revision {}, but snapshots/{} does not exist (the download was interrupted)",
                refMain, refMain));
        }
    }
    if (repo.revision.empty() && !snapshots.empty()) {
        if (snapshots.size() == 1) {
            repo.revision = snapshots.front().filename().string();
            repo.revisionSource = "the only snapshot";
        } else {
            auto newest = std::max_element(snapshots.begin(), snapshots.end(),
                                           [](const fs::path& a, const fs::path& b) {
                                               std::error_code e1, e2;
                                               return fs::last_write_time(a, e1) < fs::last_write_time(b, e2);
                                           });
            repo.revision = newest->filename().string();
            repo.revisionSource = fmt::format("the newest of {} snapshots", snapshots.size());
        }
    }
    if (repo.revision.empty()) {
        repo.problems.push_back(refMain.empty() ? "no snapshot: nothing of it was downloaded"
                                                : "no snapshot folder at all");
    } else {
        repo.snapshot = repoDir / "snapshots" / repo.revision;
    }
    return repo;
}

std::vector<HfRepo> scanHfCache(const fs::path& cache) {
    std::vector<HfRepo> repos;
    std::error_code ec;
    for (fs::directory_iterator it(cache, ec), end; !ec && it != end; it.increment(ec))
        if (isHfRepoFolder(it->path())) repos.push_back(readHfRepo(it->path()));
    std::sort(repos.begin(), repos.end(),
              [](const HfRepo& a, const HfRepo& b) { return a.repoId < b.repoId; });
    return repos;
}

}  // namespace swd
