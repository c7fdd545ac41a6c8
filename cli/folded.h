// `perfctl profile -o folded`: Brendan Gregg's collapsed-stack format, the
// input of flamegraph.pl, speedscope and inferno.
#pragma once

#include <string>

#include "perfd/v1/perfd.pb.h"

namespace perfd::cli {

// Marks the root of a stack the sampler cut short (outermost frames lost).
inline constexpr const char* kTruncatedFrame = "[truncated]";

// One line per distinct stack, "root;caller;leaf count\n", frames as
// "function (file:line)" with the frame's current line. ';' (the separator)
// and line breaks inside names become ','/' '. Lines are sorted; stacks that
// print the same are merged. Frame indexes out of range print as "?".
std::string ToFolded(const v1::GetProfileResponse& profile);

}  // namespace perfd::cli
