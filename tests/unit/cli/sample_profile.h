// A small GetProfileResponse shared by the folded and pprof tests.
#pragma once

#include "perfd/v1/perfd.pb.h"

namespace perfd::cli {

inline void AddFrame(v1::GetProfileResponse* p, const char* function, const char* file,
                     uint32_t line, uint32_t first_line) {
  v1::Frame* f = p->add_frames();
  f->set_function(function);
  f->set_file(file);
  f->set_line(line);
  f->set_first_line(first_line);
}

inline void AddStack(v1::GetProfileResponse* p, std::initializer_list<uint32_t> leaf_first,
                     uint64_t samples, bool truncated = false) {
  v1::Stack* s = p->add_stacks();
  for (uint32_t i : leaf_first) s->add_frames(i);
  s->set_samples(samples);
  s->set_truncated(truncated);
}

// Frames: 0 main, 1/4 UserService.get at lines 12/13 (one function, first
// line 10), 2 serialize, 3 a name with the folded separator in it.
inline v1::GetProfileResponse SampleProfile() {
  v1::GetProfileResponse p;
  p.set_service("shop");
  p.set_start_unix_nanos(1700000000LL * 1000000000LL);
  p.set_duration_nanos(30LL * 1000000000LL);
  p.set_sample_period_seconds(0.01);
  AddFrame(&p, "main", "app.py", 5, 1);
  AddFrame(&p, "UserService.get", "users.py", 12, 10);
  AddFrame(&p, "serialize", "ser.py", 22, 20);
  AddFrame(&p, "weird;name", "w.py", 3, 2);
  AddFrame(&p, "UserService.get", "users.py", 13, 10);
  AddStack(&p, {2, 1, 0}, 30);
  AddStack(&p, {4, 0}, 10);
  AddStack(&p, {3, 0}, 2);
  AddStack(&p, {2, 1}, 4, /*truncated=*/true);
  return p;
}

}  // namespace perfd::cli
