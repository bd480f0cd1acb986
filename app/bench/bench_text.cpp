// swd bench text: the SD3 prompt embedding on the real CLIP-L, OpenCLIP bigG and T5-XXL architectures
// (random weights, loaded through TensorStore like a checkpoint): the time to encode one prompt, per encoder
// and for the whole conditioner, and the resident memory.
#include "catalog/model_set.h"
#include "cli_common.h"
#include "fixtures/random_weights.h"
#include "models/op_profile.h"
#include "text/sd3_conditioner.h"
#include "util/error.h"
#include "util/runtime.h"
#include "util/stopwatch.h"

#include <c10/core/InferenceMode.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace swd::cli {

namespace {}  // namespace

void addBenchTextCommand(CLI::App& bench) {
    auto* cmd = bench.add_subcommand(
        "text",
        "SD3 prompt embedding (real CLIP-L, bigG and T5-XXL architectures, random weights): time to "
        "encode one prompt and resident memory");
    struct Args {
        std::string dtype = "bf16";
        std::vector<int> t5Lengths = {77, 256};
        int repeats = 3;
        bool noT5 = false;
        std::string prompt =
            "a photo of an astronaut riding a horse on mars, highly detailed, dramatic light, 8k";
        std::string tokenizers;
        bool profile = false;
    };
    auto args = std::make_shared<Args>();
    cmd->add_option("--dtype", args->dtype, "bf16 (fast CPU path) or fp32");
    cmd->add_option("--t5-length", args->t5Lengths,
                    "T5 token counts to time (the pipeline uses 256, SwD 512; "
                    "stable-diffusion.cpp feeds T5 77)")
        ->check(CLI::Range(1, 512));
    cmd->add_option("--repeats", args->repeats, "timed runs after one warm-up")->check(CLI::Range(1, 100));
    cmd->add_flag("--no-t5", args->noT5, "leave T5 out (its part of the context is zeros)");
    cmd->add_option("--prompt", args->prompt, "the prompt to encode");
    cmd->add_flag("--profile", args->profile, "print where the time of one more run of each length went");
    cmd->add_option(
        "--tokenizers", args->tokenizers,
        "folder with clip/vocab.json, clip/merges.txt, t5/spiece.model (default: the shipped ones)");
    setAction(cmd, [args] {
        const at::ScalarType dtype = parseBenchDtype(args->dtype);
        TextEncoderPaths paths;
        if (!args->tokenizers.empty()) {
            const std::filesystem::path dir = args->tokenizers;
            paths.clipVocab = dir / "clip" / "vocab.json";
            paths.clipMerges = dir / "clip" / "merges.txt";
            paths.t5Spiece = dir / "t5" / "spiece.model";
        } else if (const auto shipped = findBundledTokenizers()) {
            paths.clipVocab = shipped->clipVocab;
            paths.clipMerges = shipped->clipMerges;
            paths.t5Spiece = shipped->t5Spiece;
        } else {
            throwBadInput("bench text: no tokenizer files found; pass --tokenizers DIR");
        }
        fmt::print("SD3 text encoders (CLIP-L 768x12, bigG 1280x32{}), random weights, {}, {} threads\n",
                   args->noT5 ? ", no T5" : ", T5-XXL 4096x24", args->dtype, runtimeThreads());

        const auto rss0 = currentRssBytes();
        Stopwatch build;
        TextEncoderWeights weights;
        weights.clipL = randomWeightStore(ClipTextModel::parameterShapes(ClipTextConfig::clipL(), 768), dtype,
                                          1, "random CLIP-L");
        weights.clipG = randomWeightStore(ClipTextModel::parameterShapes(ClipTextConfig::clipG(), 1280),
                                          dtype, 2, "random CLIP-G");
        if (!args->noT5)
            weights.t5 = randomWeightStore(T5Encoder::parameterShapes(T5EncoderConfig::t5xxl()), dtype, 3,
                                           "random T5-XXL");
        const double buildMs = build.elapsedMs();
        Stopwatch load;
        Sd3Conditioner conditioner(paths, weights, dtype, at::kCPU, !args->noT5);
        const double loadMs = load.elapsedMs();
        conditioner.setCacheCapacity(0);  // every call runs the encoders
        fmt::print("random weights {:.1f} s, conditioner ready in {:.2f} s; parameters {}; RSS {} (+{})\n",
                   buildMs / 1000.0, loadMs / 1000.0, formatBytes(conditioner.parameterBytes()),
                   formatBytes(currentRssBytes()), formatBytes(currentRssBytes() - rss0));

        c10::InferenceMode guard;
        const std::vector<std::string> prompt = {args->prompt};
        for (int length : args->t5Lengths) {
            resetPeakRss();
            const auto base = currentRssBytes();
            std::vector<Sd3Conditioner::Timings> parts;
            const double cpu0 = profile::processCpuMs();
            const auto stats = timeRepeated(
                [&] {
                    conditioner.encode(prompt, length);
                    parts.push_back(conditioner.lastTimings());
                },
                args->repeats, 1);
            const double cpuPerRun = (profile::processCpuMs() - cpu0) / (args->repeats + 1);
            parts.erase(parts.begin());  // the warm-up
            Sd3Conditioner::Timings median;
            auto med = [&](double Sd3Conditioner::Timings::*field) {
                std::vector<double> v;
                for (const auto& p : parts) v.push_back(p.*field);
                std::sort(v.begin(), v.end());
                return v[v.size() / 2];
            };
            profile::setEnabled(args->profile);
            profile::reset();
            const PromptEmbedding e = conditioner.encode(prompt, length);
            profile::setEnabled(false);
            fmt::print(
                "encode one prompt, T5 length {:>3}: min {:.0f} ms  median {:.0f} ms  max {:.0f} ms  "
                "(median: "
                "tokenize {:.1f}, CLIP-L {:.0f}, CLIP-G {:.0f}, T5 {:.0f} ms)  context {}  peak RSS {} (+{} "
                "over {}); CPU time {:.0f} ms per run\n",
                length, stats.minMs, stats.medianMs, stats.maxMs, med(&Sd3Conditioner::Timings::tokenizeMs),
                med(&Sd3Conditioner::Timings::clipLMs), med(&Sd3Conditioner::Timings::clipGMs),
                med(&Sd3Conditioner::Timings::t5Ms), shapeToString(e.context.sizes()),
                formatBytes(peakRssBytes()), formatBytes(peakRssBytes() - base), formatBytes(base),
                cpuPerRun);
            if (args->profile)
                for (const auto& op : profile::snapshot())
                    fmt::print("    {:<58} {:>8.1f} ms {:>6} calls{}\n", op.name, op.ms, op.calls,
                               op.flops > 0 ? fmt::format("  {:.0f} GFLOP/s", op.flops / op.ms / 1e6) : "");
        }
        return 0;
    });
}

}  // namespace swd::cli
