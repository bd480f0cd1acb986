// swd convert FILE.pkl --out FILE.safetensors: a safetensors copy of a pickled SiD generator (read by the
// restricted pickle reader, nothing from the file runs), with the run's metadata in __metadata__ so the
// copy says where it came from and how it samples.
#include "catalog/model_discovery.h"
#include "cli_common.h"
#include "io/file_hash.h"
#include "io/safetensors.h"
#include "io/tensor_store.h"
#include "util/error.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <optional>
#include <regex>

namespace swd::cli {

namespace fs = std::filesystem;

namespace {

struct ConvertArgs {
    std::string input, output, baseRepo, dtype;
    std::optional<int> tInit, steps;
    bool force = false;
};

std::optional<at::ScalarType> parseConvertDtype(const std::string& value) {
    if (value.empty()) return std::nullopt;
    if (value == "fp16" || value == "float16") return at::kHalf;
    if (value == "bf16" || value == "bfloat16") return at::kBFloat16;
    if (value == "fp32" || value == "float32") return at::kFloat;
    throw CLI::ValidationError("--dtype", "expected fp16, bf16 or fp32, got " + value);
}

// The released files carry t_init and the step count in their names ("..._t625_8806_v2.pkl",
// "..._2step_6553.pkl"); used when the options do not say.
std::optional<int> numberFromName(const std::string& name, const std::regex& pattern) {
    std::smatch m;
    if (!std::regex_search(name, m, pattern)) return std::nullopt;
    return std::stoi(m[1].str());
}

std::map<std::string, std::string> runMetadata(const ConvertArgs& a, const fs::path& in,
                                               const PickleCheckpoint& ckpt) {
    const std::string name = in.filename().string();
    const auto tInit = a.tInit ? a.tInit : numberFromName(name, std::regex("_t(\\d{1,3})_"));
    const auto steps = a.steps ? a.steps : numberFromName(name, std::regex("(\\d{1,2})step"));
    std::map<std::string, std::string> meta = {
        {"format", "pt"},
        {"sid.source_file", name},
        {"sid.source_sha256", fileSha256(in)},
        {"sid.pickle_key", ckpt.key},
        {"sid.module_class", ckpt.moduleClass},
        {"sid.source_dtype", ckpt.dtype},
        {"converted_by", "swd " SWD_VERSION},
    };
    if (tInit) meta["sid.t_init"] = std::to_string(*tInit);
    if (steps) meta["sid.steps"] = std::to_string(*steps);
    if (!a.baseRepo.empty()) meta["sid.base_repo"] = a.baseRepo;
    return meta;
}

int convertPickle(const ConvertArgs& a) {
    const fs::path in(a.input), out(a.output);
    requireExistingPath(in);
    if (!isPickleCheckpointPath(in))
        throwBadInput("{}: convert reads pickled SiD generators (.pkl); safetensors files need no conversion",
                      in.string());
    if (out.extension() != ".safetensors")
        throwBadInput("--out {}: the output must be a .safetensors file", out.string());
    std::error_code ec;
    if (fs::exists(out, ec) && !a.force)
        throwBadInput("--out {}: exists already; pass --force to replace it", out.string());
    const auto dtype = parseConvertDtype(a.dtype);

    PickleCheckpoint ckpt = readPickleCheckpoint(in);
    if (dtype)
        for (auto& [name, t] : ckpt.tensors)
            if (t.is_floating_point()) t = t.to(*dtype);
    const auto meta = runMetadata(a, in, ckpt);
    saveSafetensors(out, ckpt.tensors, meta);
    fmt::print("{}: {} tensors of {} (key '{}', {}) written as {} to {}\n", in.string(), ckpt.tensors.size(),
               ckpt.moduleClass, ckpt.key, ckpt.dtype, dtype ? a.dtype : std::string("stored dtype"),
               out.string());
    for (const auto& [key, value] : meta)
        if (key.rfind("sid.", 0) == 0) fmt::print("  {} = {}\n", key, value);
    return 0;
}

}  // namespace

void addConvertCommand(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "convert",
        "Write a safetensors copy of a pickled SiD generator (.pkl): the UNet's state dict with diffusers "
        "names, plus the run metadata. The pickle is read by SwD Studio's own restricted reader, which "
        "never runs code from the file");
    auto args = std::make_shared<ConvertArgs>();
    cmd->add_option("FILE", args->input, "the generator pickle ({'ema' | 'G': UNet2DConditionModel})")
        ->required();
    cmd->add_option("--out", args->output, "the .safetensors file to write")->required();
    cmd->add_option(
           "--t-init", args->tInit,
           "the generator's t_init, stored as sid.t_init (default: from a '_t625_' in the file name)")
        ->check(CLI::Range(1, 999));
    cmd->add_option("--steps", args->steps,
                    "the number of steps it was trained for, stored as sid.steps (default: from a '2step' in "
                    "the file name)")
        ->check(CLI::Range(1, 64));
    cmd->add_option(
           "--base", args->baseRepo,
           "the base model's repository, stored as sid.base_repo (e.g. runwayml/stable-diffusion-v1-5)")
        ->check([](const std::string& v) {
            const bool ok =
                !v.empty() && v.size() <= 200 && std::all_of(v.begin(), v.end(), [](unsigned char c) {
                    return std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.';
                });
            return ok ? std::string() : std::string("expected a repository id such as owner/name");
        });
    cmd->add_option("--dtype", args->dtype,
                    "store floating tensors as fp16, bf16 or fp32 (default: as stored)")
        ->check(CLI::IsMember({"fp16", "bf16", "fp32", "float16", "bfloat16", "float32"}));
    cmd->add_flag("--force", args->force, "replace --out when it exists");
    setAction(cmd, [args] { return convertPickle(*args); });
}

}  // namespace swd::cli
