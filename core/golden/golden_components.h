// The tiny model set of the golden pipeline cases (the case's "components" folder) loaded in fp32, as
// the sampling-engine kinds (sd3_pipeline, swd_sampling) run it.
#pragma once

#include "golden/golden_case.h"
#include "models/mmdit.h"
#include "models/vae.h"
#include "text/clip_tokenizer.h"
#include "text/sd3_conditioner.h"
#include "text/t5_tokenizer.h"

#include <memory>

namespace swd {

struct GoldenComponents {
    std::unique_ptr<Sd3Conditioner> text;
    std::unique_ptr<MMDiT> transformer;
    std::unique_ptr<AutoencoderKl> vae;
};

GoldenComponents loadGoldenComponents(const GoldenCase& c);

// The real CLIP and T5 tokenizers the case names (its tokenizers folder).
struct CaseTokenizers {
    ClipTokenizer clipL;
    ClipTokenizer clipG;
    T5Tokenizer t5;
};
CaseTokenizers loadCaseTokenizers(const GoldenCase& c);

// The ids the conditioner's tokenizers give for `prompt`, checked against the case's stored ids
// (`<prefix>.clip_l.input_ids` etc. in inputs.safetensors) when present.
void checkGoldenTokenIds(const GoldenCase& c, GoldenReport& report, const Sd3Conditioner& text,
                         const std::string& prompt, const std::string& prefix, int t5Length);

}  // namespace swd
