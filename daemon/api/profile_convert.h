// Turns the profile store's stack counts into perfd.v1 messages: per-route
// CPU for GetTop, the function table for GetFunctions, the deduplicated
// frame + stack tables for GetProfile. Pure: the tests feed known stacks.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "daemon/profile/cpu_profile.h"
#include "daemon/profile/stack_table.h"
#include "perfd/v1/perfd.pb.h"

namespace perfd {

using StackCounts = std::unordered_map<uint32_t, uint64_t>;  // stack id -> samples

// Sets cpu_seconds, cpu_seconds_by_category (every category, zeros too)
// and cpu_seconds_per_request (0 without completed requests).
void RouteCpuToProto(const RouteCpu& cpu, double seconds_per_sample, v1::RouteStats* out);

// Store route keys that a user's route filter means: the key itself, or
// "METHOD filter" keys (the store may key routes with their method). Empty
// filter: every key. Sorted.
std::vector<std::string> MatchCpuRoutes(const std::map<std::string, RouteCpu>& routes,
                                        const std::string& filter);

// Fills total_samples and functions: the leaf's function gets own += n,
// every distinct function on the stack total += n (a recursive function
// counts once per stack). Identity: (function, file, first_line). Sorted by
// own, then total (descending), then name, file, line.
void FunctionsToProto(const StackCounts& stacks, const StackTable& table, double seconds_per_sample,
                      v1::GetFunctionsResponse* out);

// Appends one Frame per distinct frame id used and one Stack per stack id,
// by samples descending (ties: frame indexes), so output is deterministic.
void StacksToProto(const StackCounts& stacks, const StackTable& table, v1::GetProfileResponse* out);

}  // namespace perfd
