#include "cli/breakdown_parts.h"

#include <cstdio>

namespace perfd::cli {

const PartName kParts[kNumParts] = {
    {"queued", "QUEUED", "queued", nullptr},
    {"cpu_auth", "AUTH", "cpu: auth", "auth"},
    {"cpu_validation", "VALID", "cpu: validation", "validation"},
    {"cpu_serialization", "SERIAL", "cpu: serialization", "serialization"},
    {"cpu_db_driver", "DBDRV", "cpu: db driver", "db"},
    {"cpu_framework", "FRAMEW", "cpu: framework", "framework"},
    {"cpu_app", "APP", "cpu: app", "app"},
    {"db_wait", "DB", "db wait", nullptr},
    {"loop_wait", "LOOP", "loop wait", nullptr},
    {"gc", "GC", "gc", nullptr},
    {"other", "OTHER", "other", nullptr},
};

const PartName* FindPartName(const std::string& part) {
  for (const PartName& p : kParts) {
    if (part == p.part) return &p;
  }
  return nullptr;
}

const v1::BreakdownPart* FindPart(const v1::RouteBreakdown& route, const std::string& part) {
  for (const auto& p : route.parts()) {
    if (p.part() == part) return &p;
  }
  return nullptr;
}

double PartMean(const v1::RouteBreakdown& route, const std::string& part) {
  const v1::BreakdownPart* p = FindPart(route, part);
  return p == nullptr ? 0.0 : p->mean_seconds();
}

std::string FormatMs(double seconds) {
  if (!(seconds > 0)) return "0";
  const double ms = seconds * 1e3;
  if (ms < 0.005) return "<0.01";
  char buf[32];
  // The bounds are where rounding would add a digit (9.996 → "10.00").
  const char* format = ms < 9.995 ? "%.2f" : ms < 99.95 ? "%.1f" : "%.0f";
  std::snprintf(buf, sizeof(buf), format, ms);
  return buf;
}

}  // namespace perfd::cli
