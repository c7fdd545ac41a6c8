// Which frames are the application's own: a profile or a blocking event
// names the leaf-most frame the service's authors wrote, not the library
// call it was inside. Shared by the profiler's call sites and the blocking
// tracker's sites so both skip the same frames.
#pragma once

#include <string_view>

namespace perfd {

// Code the application did not write: installed packages (site-packages,
// dist-packages), the interpreter's own library (.../lib/python3.X/), or no
// real file ("<frozen ...>", "<string>", empty: unresolved).
inline bool IsLibraryFile(std::string_view f) {
  if (f.empty() || f[0] == '<') return true;
  if (f.find("/site-packages/") != std::string_view::npos ||
      f.find("/dist-packages/") != std::string_view::npos)
    return true;
  return f.find("/lib/python3") != std::string_view::npos;
}

}  // namespace perfd
