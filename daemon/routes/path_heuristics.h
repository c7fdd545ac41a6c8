// Guesses a low-cardinality route for a path no template matched, by
// replacing segments that look like identifiers with placeholders:
//   all digits                               -> {int}
//   UUID 8-4-4-4-12 hex, any case            -> {uuid}
//   >= 8 hex chars including a digit         -> {hex}
//   >= 20 token chars with letters and digits,
//     or >= 32 base64url chars in mixed case -> {token}
//   any byte outside printable ASCII         -> {bytes}  (route names must
//                                               stay valid UTF-8 for gRPC)
// Other segments are kept literally; nothing is percent-decoded. Pure.
#pragma once

#include <string>
#include <string_view>

namespace perfd {

// The placeholder for one segment, or "" to keep it literally.
std::string_view SegmentPlaceholder(std::string_view segment);

// Applies SegmentPlaceholder to every '/'-separated segment of `path`.
std::string HeuristicRoute(std::string_view path);

}  // namespace perfd
