#include "daemon/api/proto_convert.h"

#include <string>
#include <vector>

namespace perfd {

void RouteToProto(const RouteSnapshot& route, v1::RouteStats* out) {
  out->Clear();
  out->set_method(route.method);
  out->set_route(route.route);
  out->set_requests(route.requests);
  out->set_errors(route.errors);
  out->set_aborted(route.aborted);
  out->set_requests_per_second(route.requests_per_second);
  out->set_error_ratio(route.requests == 0 ? 0.0
                                           : static_cast<double>(route.errors) /
                                                 static_cast<double>(route.requests));
  // An empty sketch (only in-flight requests) has no quantiles; 0 says "none".
  if (route.latency.Count() > 0) {
    out->set_p50_seconds(route.latency.Quantile(0.50));
    out->set_p90_seconds(route.latency.Quantile(0.90));
    out->set_p99_seconds(route.latency.Quantile(0.99));
  }
  if (route.queue.Count() > 0) {
    out->set_queue_p50_seconds(route.queue.Quantile(0.50));
    out->set_queue_p90_seconds(route.queue.Quantile(0.90));
    out->set_queue_p99_seconds(route.queue.Quantile(0.99));
  }
  out->set_max_seconds(route.max_seconds);
  out->set_in_flight(route.in_flight);
  SketchToProto(route.latency, out->mutable_latency());
  SketchToProto(route.queue, out->mutable_queue());
  for (const auto& [code, count] : route.status_codes) {
    (*out->mutable_status_codes())[code] = count;
  }
}

void WorkerToProto(const Worker& worker, v1::Worker* out) {
  out->Clear();
  out->set_pid(worker.pid);
  out->set_app_spec(worker.app_spec);
  out->set_server(worker.server);
  std::string cmdline;
  for (const auto& arg : worker.argv) {
    if (!cmdline.empty()) cmdline += ' ';
    cmdline += arg;
  }
  out->set_cmdline(cmdline);
  out->set_pod_uid(worker.pod_uid);
  out->set_container_id(worker.container_id);
  out->set_k8s_namespace(worker.k8s_namespace);
  out->set_k8s_pod(worker.k8s_pod);
  out->set_k8s_container(worker.k8s_container);
}

}  // namespace perfd
