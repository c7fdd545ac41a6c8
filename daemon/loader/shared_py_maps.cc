#include "daemon/loader/shared_py_maps.h"

#include <bpf/libbpf.h>

#include <cstring>
#include <string>
#include <utility>

namespace perfd {

void SharePyMaps(bpf_object* obj, const HttpProbes::SharedPyMaps& py, const char* who,
                 bool shrink_unshared) {
  const std::pair<const char*, int> shared[] = {
      {"py_procs", py.procs_fd},           {"py_ctx_conns", py.ctx_conns_fd},
      {"py_deliveries", py.deliveries_fd}, {"py_owners", py.owners_fd},
      {"py_client_fds", py.client_fds_fd}, {"py_sites", py.sites_fd},
      {"py_site_last", py.site_last_fd},   {"py_tstates", py.tstates_fd}};
  for (const auto& [name, fd] : shared) {
    bpf_map* map = bpf_object__find_map_by_name(obj, name);
    if (map == nullptr) throw LoaderError(std::string(who) + ": no map " + name);
    int err = 0;
    if (fd >= 0)
      err = bpf_map__reuse_fd(map, fd);
    else if (shrink_unshared)
      err = bpf_map__set_max_entries(map, bpf_map__type(map) == BPF_MAP_TYPE_RINGBUF ? 4096 : 1);
    if (err)
      throw LoaderError(std::string(who) + ": sharing " + name +
                        " failed: " + std::strerror(err < 0 ? -err : err));
  }
}

}  // namespace perfd
