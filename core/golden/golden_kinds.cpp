#include "golden/golden_kinds.h"

namespace swd {

const std::vector<GoldenKind>& goldenKinds() {
    static const std::vector<GoldenKind> kinds = {
        {"scheduler", "flow-matching sigma grids and the Euler step", &checkSchedulerCase},
        {"vae", "SD3 VAE (AutoencoderKL) decode and encode", &checkVaeCase},
    };
    return kinds;
}

}  // namespace swd
