// Reading back what perfctl writes: gunzip and a string-table lookup.
#pragma once

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

#include "pprof/profile.pb.h"

namespace perfd::cli {

inline std::string Gunzip(const std::string& gz) {
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);  // gzip only, not raw zlib
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  std::string out;
  char buf[4096];
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof(buf) - zs.avail_out);
  }
  EXPECT_EQ(rc, Z_STREAM_END);
  inflateEnd(&zs);
  return out;
}

inline const std::string& Str(const perftools::profiles::Profile& p, int64_t index) {
  static const std::string kBad = "<bad string index>";
  return index >= 0 && index < p.string_table_size() ? p.string_table(static_cast<int>(index))
                                                     : kBad;
}

}  // namespace perfd::cli
