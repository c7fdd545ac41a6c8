#include "daemon/db/db_call.h"

namespace perfd::db {

const char* SystemName(System s) { return s == System::kRedis ? "redis" : "postgresql"; }

}  // namespace perfd::db
