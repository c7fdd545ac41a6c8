// The parts of a request's time in GetBreakdown (docs/METRICS.md, "Request
// time breakdown"), in the API's order, with the names perfctl shows them
// under; shared by `perfctl top --breakdown` and `perfctl explain`.
#pragma once

#include <cstddef>
#include <string>

#include "perfd/v1/perfd.pb.h"

namespace perfd::cli {

struct PartName {
  const char* part;      // BreakdownPart.part: "cpu_auth"
  const char* column;    // top --breakdown's column: "AUTH"
  const char* label;     // explain's row: "cpu: auth"
  const char* category;  // GetFunctions' category of a CPU part ("auth"); nullptr otherwise
};

// queued, cpu_auth, cpu_validation, cpu_serialization, cpu_db_driver,
// cpu_framework, cpu_app, db_wait, loop_wait, gc, other.
inline constexpr size_t kNumParts = 11;
extern const PartName kParts[kNumParts];

// The PartName of a BreakdownPart.part; nullptr for a part this perfctl
// does not know (a newer perfd's).
const PartName* FindPartName(const std::string& part);

// The route's part of that name; nullptr when the response lacks it.
const v1::BreakdownPart* FindPart(const v1::RouteBreakdown& route, const std::string& part);
// Its mean_seconds; 0 when absent.
double PartMean(const v1::RouteBreakdown& route, const std::string& part);

// Milliseconds without a unit, for columns headed "ms": three significant
// digits ("0.85", "12.3", "1200"), "0" for zero, "<0.01" for a non-zero
// value that would round to 0.00.
std::string FormatMs(double seconds);

}  // namespace perfd::cli
