// A model set of a real architecture (SD3.5 Medium or Large) with random weights in memory, for
// benchmarks: every component at its real size, loaded through the same loaders as checkpoints.
#pragma once

#include "models/mmdit_config.h"
#include "pipeline/engine.h"

namespace swd {

struct RandomModel {
    ModelSet set;                                 // tokenizers (shipped ones) and the family
    std::shared_ptr<const ModelWeights> weights;  // for EngineOptions::weights
};

// The modules SwD's LoraConfig targets in a transformer of this config ("to_q", "to_k", "to_v",
// "to_out.0", "net.0.proj", "net.2": attn, attn2 of MMDiT-X blocks, ff and ff_context), with the
// (out, in) shape of each.
std::vector<std::pair<std::string, std::pair<std::int64_t, std::int64_t>>> swdAdapterModules(
    const MMDiTConfig& config);

// `withT5` false leaves T5-XXL out (its context part is zeros). `adapterRank` > 0 adds a random SwD-style
// adapter of that rank on SwD's target modules.
RandomModel makeRandomModel(ModelFamily family, at::ScalarType dtype, bool withT5 = true,
                            int adapterRank = 0);

}  // namespace swd
