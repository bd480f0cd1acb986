// The Hugging Face hub cache, read in place (never written): where it is, which model repositories it
// holds and which snapshot of each is current. Layout (huggingface_hub):
//   <cache>/models--<org>--<name>/refs/main            a commit hash
//   <cache>/models--<org>--<name>/snapshots/<commit>/  the files, as symlinks into ../../blobs/
//   <cache>/models--<org>--<name>/blobs/<hash>[.incomplete]
// Location: HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE (legacy), else HF_HOME/hub, else
// XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace swd {

// Reads an environment variable (tests pass their own).
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
// The process environment.
EnvLookup processEnvironment();

struct HfCacheLocation {
    std::filesystem::path path;
    std::string
        source;  // the rule that gave it: "HF_HUB_CACHE", "HF_HOME/hub", "~/.cache/huggingface/hub", ...
};

// Where the hub cache is, by the rules above (the folder need not exist). Empty path when not even
// HOME is set.
HfCacheLocation hfHubCacheLocation(const EnvLookup& env);

// One model repository of the cache and its current snapshot.
struct HfRepo {
    std::string repoId;              // "stabilityai/stable-diffusion-3.5-medium"
    std::filesystem::path dir;       // <cache>/models--stabilityai--stable-diffusion-3.5-medium
    std::string revision;            // commit hash of the snapshot used ("" when there is none)
    std::string revisionSource;      // "refs/main", "the only snapshot", "the newest of 3 snapshots"
    std::filesystem::path snapshot;  // snapshots/<revision> ("" when there is none)
    std::vector<std::filesystem::path> incompleteBlobs;  // blobs/*.incomplete: interrupted downloads
    std::vector<std::string> problems;                   // why the snapshot may be unusable

    // "stabilityai/stable-diffusion-3.5-medium@abcdef123456" (short revision).
    std::string label() const;
};

// "models--org--name" -> "org/name"; nullopt for other folder names.
std::optional<std::string> hfRepoIdFromFolderName(const std::string& folderName);
// True for a folder that looks like a hub cache (holds models--* folders).
bool isHfCacheFolder(const std::filesystem::path& dir);
// True for a models--org--name folder with a snapshots/ folder.
bool isHfRepoFolder(const std::filesystem::path& dir);

// The repository in `repoDir` (a models--org--name folder): resolves refs/main, else the only or the
// newest snapshot, and notes interrupted downloads. Never throws for a broken repository: its problems
// are listed instead.
HfRepo readHfRepo(const std::filesystem::path& repoDir);
// Every model repository of a cache folder (sorted by id); empty when the folder does not exist.
std::vector<HfRepo> scanHfCache(const std::filesystem::path& cache);

}  // namespace swd
