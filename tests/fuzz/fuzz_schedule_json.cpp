// libFuzzer target: schedule JSON text through the bounded reader, scheduleFromJson and
// validateSchedule. Any input must end in a Schedule or a BadInput whose message stays bounded; a
// schedule that validates must survive a JSON round trip unchanged.
#include "sampling/schedule.h"
#include "util/error.h"
#include "util/json_reader.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        swd::JsonLimits limits;
        limits.maxBytes = swd::kMaxScheduleFileBytes;
        const swd::Schedule s = swd::scheduleFromJson(swd::parseJson(text, "fuzz.json", limits), "fuzz.json");
        const auto issues = swd::validateSchedule(s);
        if (swd::formatScheduleIssues(issues).size() > 20000) __builtin_trap();
        if (issues.empty()) {
            const swd::Schedule back = swd::scheduleFromJson(swd::scheduleToJson(s), "round trip");
            if (back.scales != s.scales || back.sigmas != s.sigmas || back.t5Length != s.t5Length)
                __builtin_trap();
        }
    } catch (const swd::Error& e) {
        // Messages quote values cut short and list at most 20 problems.
        if (std::string_view(e.what()).size() > 20000) __builtin_trap();
    }
    return 0;
}
