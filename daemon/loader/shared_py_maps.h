// The Python walker's maps (bpf/py_walk.bpf.h) are the sampler's: every
// other object that includes the walker (http_trace, loop_trace) gets the
// sampler's map fds before it is loaded, found by name, one list for all.
#pragma once

#include "daemon/loader/http_probes.h"

struct bpf_object;

namespace perfd {

// Reuses py's fds for obj's walker maps. A map with no fd (sampling off)
// keeps its own copy, shrunk to one entry (a ring buffer to a page) when
// shrink_unshared: nothing would fill it. Throws LoaderError naming `who`.
void SharePyMaps(bpf_object* obj, const HttpProbes::SharedPyMaps& py, const char* who,
                 bool shrink_unshared);

}  // namespace perfd
