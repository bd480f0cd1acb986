// Golden kind "tokenizers": the ids of the three SD3 tokenizers for every prompt of the case, exactly:
// CLIP-L and CLIP-G (77), T5 at 256 and 512 with the pipeline's fast tokenizer and with sentencepiece.
#include "golden/golden_components.h"
#include "golden/golden_kinds.h"

#include "text/clip_tokenizer.h"
#include "text/t5_tokenizer.h"

#include <fmt/format.h>

namespace swd {

namespace {

// Compares one id tensor [N, L] with the tokenizer's output for every prompt; `exempt` prompts may differ
// (documented tie-break cases) and are reported in the note.
void checkIds(GoldenReport& report, const std::string& name, const std::vector<std::string>& prompts,
              const at::Tensor& expected,
              const std::function<std::vector<std::int64_t>(const std::string&)>& encode,
              const std::vector<bool>& exempt = {}) {
    std::string failures, exemptNote;
    int failed = 0;
    const at::Tensor e = expected.to(at::kLong).contiguous();
    for (std::size_t i = 0; i < prompts.size(); ++i) {
        const auto got = encode(prompts[i]);
        const auto row = e[static_cast<std::int64_t>(i)];
        const std::vector<std::int64_t> want(row.data_ptr<std::int64_t>(),
                                             row.data_ptr<std::int64_t>() + row.numel());
        if (got == want) continue;
        std::size_t at = 0;
        while (at < got.size() && at < want.size() && got[at] == want[at]) ++at;
        const std::string where = fmt::format("prompt {} differs at position {} ({} vs {})", i, at,
                                              at < got.size() ? std::to_string(got[at]) : "end",
                                              at < want.size() ? std::to_string(want[at]) : "end");
        if (i < exempt.size() && exempt[i]) {
            exemptNote += (exemptNote.empty() ? "" : "; ") + where;
            continue;
        }
        if (failed++ < 3) failures += (failures.empty() ? "" : "; ") + where;
    }
    std::string note =
        failed ? fmt::format("{} of {} prompts differ: {}", failed, prompts.size(), failures) : "";
    if (!exemptNote.empty())
        note += (note.empty() ? "" : "; ") +
                fmt::format("documented tie-break case (fast tokenizer differs from sentencepiece): {}",
                            exemptNote);
    report.runs.push_back({fmt::format("{} ({} prompts, exact)", name, prompts.size()),
                           failed == 0,
                           static_cast<double>(failed),
                           {},
                           note});
}

}  // namespace

void checkTokenizersCase(const GoldenCase& c, GoldenReport& report) {
    const CaseTokenizers tokenizers = loadCaseTokenizers(c);
    const ClipTokenizer& clipL = tokenizers.clipL;
    const ClipTokenizer& clipG = tokenizers.clipG;
    const T5Tokenizer& t5 = tokenizers.t5;
    std::vector<std::string> prompts;
    std::vector<bool> tieCase;
    for (const auto& p : c.json().at("prompts")) {
        prompts.push_back(p.at("text").get<std::string>());
        tieCase.push_back(!p.at("t5").value("slow_equals_fast", true));
    }
    const TensorStore ids = c.file("ids.safetensors");
    checkIds(report, "clip_l.input_ids", prompts, ids.get("clip_l.input_ids"),
             [&](const std::string& p) { return clipL.encode(p); });
    checkIds(report, "clip_g.input_ids", prompts, ids.get("clip_g.input_ids"),
             [&](const std::string& p) { return clipG.encode(p); });
    for (int length : {256, 512}) {
        const std::string suffix = "input_ids_" + std::to_string(length);
        checkIds(report, "t5_slow." + suffix, prompts, ids.get("t5_slow." + suffix),
                 [&](const std::string& p) { return t5.encode(p, length, T5Tokenizer::Mode::Slow); });
        checkIds(
            report, "t5." + suffix, prompts, ids.get("t5." + suffix),
            [&](const std::string& p) { return t5.encode(p, length, T5Tokenizer::Mode::Fast); }, tieCase);
    }
}

}  // namespace swd
