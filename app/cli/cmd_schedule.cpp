// swd schedule validate FILE
#include "cli_common.h"
#include "family/family.h"
#include "sampling/schedule.h"
#include "util/error.h"

#include <fmt/format.h>

namespace swd::cli {

void addScheduleCommand(CLI::App& app) {
    auto* schedule = app.add_subcommand("schedule", "Work with schedule files (the preset JSON format)");
    schedule->require_subcommand(1);
    auto* validate = schedule->add_subcommand(
        "validate", "Check a schedule file; exit 0 when it can run, 2 with every problem listed");
    auto file = std::make_shared<std::string>();
    validate->add_option("FILE", *file, "schedule JSON file")->required();
    setAction(validate, [file] {
        Schedule s;
        try {
            s = loadScheduleFile(*file);
        } catch (const Error& e) {
            fmt::print(stderr, "{}\n", e.what());
            return 2;
        }
        const auto issues = validateForFamily(s);
        if (issues.empty()) {
            fmt::print("{}: ok ({} steps, {} model)\n", *file, s.stepCount(), modelFamilyName(s.family));
            return 0;
        }
        fmt::print(stderr, "{}: {} problem{}{}\n", *file, issues.size(), issues.size() == 1 ? "" : "s",
                   formatScheduleIssues(issues));
        return 2;
    });
}

}  // namespace swd::cli
