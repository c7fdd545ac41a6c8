// FUZZ_CHECK: an invariant of the code under test. A violation prints what
// broke and aborts, which libFuzzer records as a crash with the input that
// caused it (like a sanitizer report), so a wrong answer is found as surely
// as a bad memory access.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)
