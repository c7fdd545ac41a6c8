// Records the mode of each unix socket file the instant bind(2) created it,
// before the code under test gets a chance to chmod it. bind_spy.cc defines
// bind() in the test executable, which the dynamic linker then prefers over
// libc's for every caller, libgrpc included.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace perfd::bind_spy {

// Mode (type and permission bits) of path right after the last successful
// bind() of a unix socket to it; nullopt if none was seen.
std::optional<mode_t> ModeAtBind(const std::string& path);

}  // namespace perfd::bind_spy
