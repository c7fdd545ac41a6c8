// How perfctl names a Python frame: "function (file:line)", the py-spy and
// flamegraph convention.
#pragma once

#include <cstdint>
#include <string>

namespace perfd::cli {

// "get_user (app/users.py:12)"; "get_user (app/users.py)" with line 0;
// just the function without a file ("[stack table full]"); "?" for an
// unnamed function.
std::string FrameLabel(const std::string& function, const std::string& file, uint32_t line);

}  // namespace perfd::cli
