#include "daemon/aggregator/bounded_labels.h"

namespace perfd {

bool IsKnownMethod(std::string_view method) {
  for (std::string_view known :
       {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}) {
    if (method == known) return true;
  }
  return false;
}

std::string BoundedMethod(std::string_view method) {
  return IsKnownMethod(method) ? std::string(method) : kOtherLabel;
}

bool IsValidStatus(int status) { return status >= 100 && status <= 599; }

std::string BoundedStatus(int status) {
  return IsValidStatus(status) ? std::to_string(status) : kOtherLabel;
}

}  // namespace perfd
