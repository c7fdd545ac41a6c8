// Message size limits of the perfd.v1 API, shared by perfd (server) and
// perfctl (client) so both ends agree.
#pragma once

namespace perfd {

// Largest response perfd sends and perfctl accepts. gRPC's default receive
// limit (4 MiB) is too small for a profile of a large service (many distinct
// stacks and frames over 30 s), and GetProfile cannot be retried cheaply.
// 256 MiB bounds what a client buffers; perfd's requests are tiny and keep
// gRPC's default receive limit on the server.
inline constexpr int kApiMaxResponseBytes = 256 * 1024 * 1024;

}  // namespace perfd
