#include "daemon/routes/path_heuristics.h"

#include <cctype>

namespace perfd {

namespace {

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

// See the header: lowercase ASCII letters, digits, '-' and '_', a letter
// first, bounded length and digit count. Upper case is refused because
// route words are lower case in practice and names, tokens and base64 are
// not; '.', '@', '+', '%' and the rest because they spell addresses,
// numbers, file names and encoded text.
bool IsStaticWord(std::string_view s) {
  if (s.empty() || s.size() > kMaxStaticWordBytes) return false;
  if (s[0] < 'a' || s[0] > 'z') return false;
  size_t digits = 0;
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      ++digits;
    } else if (!((c >= 'a' && c <= 'z') || c == '-' || c == '_')) {
      return false;
    }
  }
  return digits <= kMaxStaticWordDigits;
}

}  // namespace

std::string_view SegmentPlaceholder(std::string_view segment) {
  if (segment.empty()) return {};
  bool all_digits = true, all_hex = true, all_token = true, all_b64 = true;
  bool has_digit = false, has_upper = false, has_lower = false;
  for (char ch : segment) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f) return "{bytes}";
    bool digit = std::isdigit(c) != 0;
    bool alpha = std::isalpha(c) != 0;
    has_digit |= digit;
    has_upper |= std::isupper(c) != 0;
    has_lower |= std::islower(c) != 0;
    all_digits &= digit;
    all_hex &= std::isxdigit(c) != 0;
    // Characters seen in API keys, JWTs and signed ids (base64, base64url).
    bool b64 = digit || alpha || c == '-' || c == '_' || c == '=';
    all_b64 &= b64;
    all_token &= b64 || c == '.' || c == '~' || c == '+';
  }
  if (all_digits) return "{int}";
  if (IsUuid(segment)) return "{uuid}";
  if (all_hex && segment.size() >= 8 && has_digit) return "{hex}";
  bool has_letter = has_upper || has_lower;
  if (all_token && segment.size() >= 20 && has_letter && has_digit) return "{token}";
  // Random base64 without a digit is rare but possible; long mixed-case runs
  // are not words a route would spell.
  if (all_b64 && segment.size() >= 32 && has_upper && has_lower) return "{token}";
  if (IsStaticWord(segment)) return {};
  return "{str}";
}

std::string HeuristicRoute(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    std::string_view seg =
        path.substr(start, slash == std::string_view::npos ? slash : slash - start);
    std::string_view placeholder = SegmentPlaceholder(seg);
    out.append(placeholder.empty() ? seg : placeholder);
    if (slash == std::string_view::npos) return out;
    out.push_back('/');
    start = slash + 1;
  }
}

}  // namespace perfd
