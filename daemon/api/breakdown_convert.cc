#include "daemon/api/breakdown_convert.h"

#include <string>

namespace perfd {

void BreakdownToProto(const std::vector<breakdown::RouteBreakdownView>& routes,
                      v1::GetBreakdownResponse* response) {
  for (const breakdown::RouteBreakdownView& v : routes) {
    v1::RouteBreakdown* r = response->add_routes();
    r->set_route(v.route);
    r->set_requests(v.requests);
    r->set_mean_seconds(v.mean_s);
    r->set_recent_requests(v.recent);
    r->set_tail_threshold_seconds(v.tail_threshold_s);
    r->set_tail_requests(v.tail_requests);
    r->set_tail_mean_seconds(v.tail_mean_s);
    for (size_t i = 0; i < breakdown::kNumParts; ++i) {
      v1::BreakdownPart* p = r->add_parts();
      p->set_part(std::string(breakdown::PartName(i)));
      p->set_mean_seconds(v.parts[i].mean_s);
      p->set_p50_seconds(v.parts[i].p50_s);
      p->set_p99_seconds(v.parts[i].p99_s);
      p->set_tail_mean_seconds(v.parts[i].tail_mean_s);
    }
  }
}

}  // namespace perfd
