#include "daemon/db/db_call.h"

namespace perfd::db {

const char* SystemName(System s) {
  switch (s) {
    case System::kPostgresql:
      return "postgresql";
    case System::kRedis:
      return "redis";
  }
  return "unknown";
}

}  // namespace perfd::db
