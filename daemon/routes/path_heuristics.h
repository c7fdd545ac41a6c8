// Guesses a low-cardinality route for a path no template matched. Used for
// services without an OpenAPI document (or before it arrives), and its
// output becomes a Prometheus label value and perfctl text, so a segment is
// kept literally only when it is clearly a static word of the API:
//   1..32 bytes, [a-z0-9_-] only, starting with a letter, at most 2 digits
//   ("v1", "oauth2", "v2beta1"), and not a placeholder below.
// Everything else becomes a placeholder, the most specific that fits:
//   all digits                               -> {int}
//   UUID 8-4-4-4-12 hex, any case            -> {uuid}
//   >= 8 hex chars including a digit         -> {hex}
//   >= 20 token chars with letters and digits,
//     or >= 32 base64url chars in mixed case -> {token}
//   any byte outside printable ASCII         -> {bytes}
//   anything else                            -> {str}
// So e-mail addresses ('@', '.'), phone numbers ('+', digits), names with a
// capital or a dot (Jane_Doe, john.smith), dates, base64, percent-encoded
// text and file names (report.pdf) never appear. What cannot be told from a
// word is an all-lowercase name ("/u/janedoe"): route_probation.h keeps
// such one-offs out of the rows, routes.rules or an OpenAPI document avoid
// the heuristics altogether. Nothing is percent-decoded. Pure.
#pragma once

#include <string>
#include <string_view>

namespace perfd {

// Longest segment kept literally.
inline constexpr size_t kMaxStaticWordBytes = 32;
// Most digits in a segment kept literally: version-like words have one or
// two, names with a year or a number suffix have more.
inline constexpr size_t kMaxStaticWordDigits = 2;

// The placeholder for one segment, or "" to keep it literally (a static
// word, or the empty segment of "//" and of a trailing '/').
std::string_view SegmentPlaceholder(std::string_view segment);

// Applies SegmentPlaceholder to every '/'-separated segment of `path`.
std::string HeuristicRoute(std::string_view path);

}  // namespace perfd
