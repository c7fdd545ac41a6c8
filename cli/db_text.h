// Short text forms of DB values shared by `perfctl queries` and `perfctl
// top`: a fingerprint on one line cut to a width, queries per request.
#pragma once

#include <cstddef>
#include <string>

namespace perfd::cli {

// Runs of whitespace (SQL is often multi-line) become one space; the result
// is cut to at most `width` code points, ending in "…" when cut (width 0:
// no cut). Not escaped: TextTable escapes cells.
std::string OneLine(const std::string& text, size_t width);

// "0", "21", "3.5": one decimal only when the mean is not whole.
std::string FormatCount(double mean);

}  // namespace perfd::cli
