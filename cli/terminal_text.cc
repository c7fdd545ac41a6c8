#include "cli/terminal_text.h"

#include <cstdint>
#include <cstdio>

namespace perfd::cli {
namespace {

void AppendHex(std::string* out, const char* prefix, uint32_t value, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%s%0*x", prefix, digits, static_cast<unsigned>(value));
  *out += buf;
}

// Length of the valid UTF-8 sequence at text[i] (its code point in *cp), or
// 0 when the bytes there are not one (RFC 3629: no overlongs, no surrogates,
// nothing past U+10FFFF).
size_t DecodeUtf8(const std::string& text, size_t i, uint32_t* cp) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  size_t len;
  uint32_t min;
  if (lead >= 0xC2 && lead <= 0xDF) {
    len = 2;
    min = 0x80;
    *cp = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    len = 3;
    min = 0x800;
    *cp = lead & 0x0F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    len = 4;
    min = 0x10000;
    *cp = lead & 0x07;
  } else {
    return 0;  // ASCII is handled by the caller; 0x80..0xC1 and 0xF5.. never lead
  }
  if (text.size() - i < len) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    *cp = (*cp << 6) | (byte(i + k) & 0x3F);
  }
  if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF)) return 0;
  return len;
}

// Non-ASCII code points that are not printable text on a terminal.
bool IsHiddenCodePoint(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) ||      // C1 controls (0x9B is CSI)
         cp == 0xAD ||                      // soft hyphen
         cp == 0x061C ||                    // Arabic letter mark
         (cp >= 0x200B && cp <= 0x200F) ||  // zero-width, LRM/RLM
         (cp >= 0x2028 && cp <= 0x202E) ||  // line/paragraph separators, bidi embed/override
         (cp >= 0x2060 && cp <= 0x206F) ||  // word joiner, invisible operators, bidi isolates
         cp == 0xFEFF ||                    // BOM / zero-width no-break space
         (cp >= 0xFFF9 && cp <= 0xFFFB);    // interlinear annotation
}

}  // namespace

std::string EscapeForTerminal(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7F) {
        AppendHex(&out, "\\x", c, 2);
      } else {
        out.push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    uint32_t cp = 0;
    const size_t len = DecodeUtf8(text, i, &cp);
    if (len == 0) {
      // Resynchronise on the next byte: a following valid character survives.
      AppendHex(&out, "\\x", c, 2);
      ++i;
    } else if (IsHiddenCodePoint(cp)) {
      AppendHex(&out, "\\u", cp, 4);
      i += len;
    } else {
      out.append(text, i, len);
      i += len;
    }
  }
  return out;
}

}  // namespace perfd::cli
