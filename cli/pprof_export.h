// `perfctl profile -o pprof`: a GetProfileResponse as a pprof profile
// (proto/pprof/profile.proto), the format of `go tool pprof`, Pyroscope and
// Speedscope.
#pragma once

#include <string>

#include "perfd/v1/perfd.pb.h"
#include "pprof/profile.pb.h"

namespace perfd::cli {

// sample_type [samples/count, cpu/nanoseconds]; period_type cpu/nanoseconds
// with the sample period; one Location per frame (function, file, line),
// one Function per (function, file, first_line) with its start_line. A
// truncated stack gets a "[truncated]" root frame. comment, when non-empty,
// is stored as the profile's comment.
perftools::profiles::Profile ToPprof(const v1::GetProfileResponse& profile,
                                     const std::string& comment);

// gzip (RFC 1952) of data, as pprof files are stored. Throws
// std::runtime_error if zlib fails.
std::string Gzip(const std::string& data);

}  // namespace perfd::cli
