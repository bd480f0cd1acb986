// The registered model families: one line per family.
#include "family/family.h"

#include "families/sd/sd_family.h"
#include "families/sd3/sd3_family.h"
#include "util/error.h"

#include <fmt/format.h>
#include <algorithm>

namespace swd {

const std::vector<const Family*>& registeredFamilies() {
    static const Sd3Family sd3;
    static const SdFamily sdxl(ModelFamily::SDXL);
    static const SdFamily sd15(ModelFamily::SD15);
    static const std::vector<const Family*> families = {&sd3, &sdxl, &sd15};
    return families;
}

const Family& familyFor(ModelFamily model) {
    for (const Family* f : registeredFamilies())
        if (f->serves(model)) return *f;
    throwUnsupported("no model family in this build runs {}", modelFamilyName(model));
}

std::vector<ModelVariant> registeredVariants() {
    std::vector<ModelVariant> all;
    for (const Family* f : registeredFamilies())
        all.insert(all.end(), f->variants().begin(), f->variants().end());
    return all;
}

const ModelVariant* findVariant(ModelFamily model) {
    for (const Family* f : registeredFamilies())
        for (const ModelVariant& v : f->variants())
            if (v.model == model) return &v;
    return nullptr;
}

const ModelVariant* findVariantByManifest(const std::string& manifestModel) {
    for (const Family* f : registeredFamilies())
        for (const ModelVariant& v : f->variants())
            if (manifestModel == v.manifestModel) return &v;
    return nullptr;
}

std::vector<ScheduleIssue> validateForFamily(const Schedule& schedule, ScheduleLimits limits) {
    const Family& family = familyFor(schedule.family);
    if (limits.maxLatentSide <= 0) limits.maxLatentSide = family.maxLatentSide(schedule.family);
    auto issues = validateSchedule(schedule, limits);
    const auto samplers = family.samplers();
    if (std::find(samplers.begin(), samplers.end(), schedule.sampler) == samplers.end()) {
        std::string offered;
        for (SamplerKind s : samplers) offered += (offered.empty() ? "" : ", ") + std::string(samplerId(s));
        issues.push_back({"sampler", -1,
                          fmt::format("{} models have no {} sampler (they offer {})", family.name(),
                                      samplerId(schedule.sampler), offered)});
    }
    return issues;
}

}  // namespace swd
