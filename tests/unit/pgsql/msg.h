// Builds protocol messages for synthetic tests.
#pragma once

#include <cstdint>
#include <string>

namespace perfd::pgsql::testing {

inline std::string Be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}
inline std::string Msg(char type, const std::string& body) {
  return std::string(1, type) + Be32(static_cast<uint32_t>(body.size() + 4)) + body;
}
inline std::string Z(char status = 'I') { return Msg('Z', std::string(1, status)); }
inline std::string Cstr(const std::string& s) { return s + std::string(1, '\0'); }
inline std::string Parse(const std::string& name, const std::string& sql) {
  return Msg('P', Cstr(name) + Cstr(sql) + std::string(2, '\0'));
}
// Bind with one text parameter `value`.
inline std::string Bind(const std::string& stmt, const std::string& value) {
  return Msg('B', Cstr("") + Cstr(stmt) + std::string("\0\0\0\1", 4) + Be32(value.size()) + value +
                      std::string(2, '\0'));
}
inline std::string Execute() { return Msg('E', Cstr("") + Be32(0)); }
inline std::string Sync() { return Msg('S', ""); }
inline std::string Query(const std::string& sql) { return Msg('Q', Cstr(sql)); }
inline std::string Complete(const std::string& tag) { return Msg('C', Cstr(tag)); }
inline std::string DataRow(const std::string& v) {
  return Msg('D', std::string("\0\1", 2) + Be32(v.size()) + v);
}
inline std::string Error(const std::string& code, const std::string& detail) {
  return Msg('E', "SERROR" + std::string(1, '\0') + "C" + Cstr(code) + "M" + Cstr("failed") + "D" +
                      Cstr(detail) + std::string(1, '\0'));
}

}  // namespace perfd::pgsql::testing
