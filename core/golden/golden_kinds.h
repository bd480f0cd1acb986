// The checker of each golden kind, one file each (check_<kind>.cpp). Add a kind here and in
// golden_kinds.cpp.
#pragma once

#include "golden/golden_case.h"

namespace swd {

void checkSchedulerCase(const GoldenCase& c, GoldenReport& report);
void checkVaeCase(const GoldenCase& c, GoldenReport& report);
void checkTokenizersCase(const GoldenCase& c, GoldenReport& report);
void checkTextEncodersCase(const GoldenCase& c, GoldenReport& report);
void checkSd3TransformerCase(const GoldenCase& c, GoldenReport& report);
void checkSd3TransformerLoraCase(const GoldenCase& c, GoldenReport& report);
void checkSd3PipelineCase(const GoldenCase& c, GoldenReport& report);
void checkSwdSamplingCase(const GoldenCase& c, GoldenReport& report);
void checkSdUnetCase(const GoldenCase& c, GoldenReport& report);
void checkVaeSdCase(const GoldenCase& c, GoldenReport& report);
void checkSdxlTextEncodersCase(const GoldenCase& c, GoldenReport& report);
void checkSidPickleCase(const GoldenCase& c, GoldenReport& report);
void checkSidSamplingCase(const GoldenCase& c, GoldenReport& report);
void checkSdxlPipelineCase(const GoldenCase& c, GoldenReport& report);

}  // namespace swd
