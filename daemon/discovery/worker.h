// A uvicorn worker process perfd traces. Discovery produces these; the rest
// of the daemon keys everything by pid and groups by service.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace perfd {

struct Worker {
  uint32_t pid = 0;
  uint64_t start_time = 0;  // /proc/<pid>/stat field 22: tells pid reuse apart
  std::string service;      // resolved service name (see discovery/service_namer.h)
  std::string app_spec;     // ASGI app, e.g. "shop.main:app"
  std::string server;       // "uvicorn" or "gunicorn"
  std::vector<std::string> argv;
};

}  // namespace perfd
