// RouteTemplate::Parse and Matches over any template text and paths (the
// templates come from the application's OpenAPI document). Checks:
//  - Parse enforces its caps and refuses with a reason and a short message;
//  - matching stays within its step budget, and whenever the budget was
//    not exhausted the answer equals a reference matcher: the template read
//    as Starlette's regex ("{x}" = [^/]+, int = [0-9]+, float =
//    [0-9]+(\.[0-9]+)?, uuid = lower-case 8-4-4-4-12, path = .*) decided by
//    dynamic programming, slow but obviously right and never exponential;
//  - precedence (MoreSpecificThan) is irreflexive and asymmetric.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/routes/route_template.h"
#include "fuzz/check.h"

using perfd::MatchBudget;
using perfd::RouteTemplate;
using perfd::TemplateError;

namespace {

enum class Tok { kLiteral, kStr, kInt, kFloat, kUuid, kPath };
struct Token {
  Tok kind;
  std::string literal;
};

// Only called on text Parse accepted: braces are balanced and convertors known.
std::vector<Token> Tokenize(std::string_view text) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '{') {
      if (out.empty() || out.back().kind != Tok::kLiteral) out.push_back({Tok::kLiteral, ""});
      out.back().literal.push_back(text[i++]);
      continue;
    }
    const size_t close = text.find('}', i);
    const std::string_view inside = text.substr(i + 1, close - i - 1);
    const size_t colon = inside.find(':');
    const std::string_view conv =
        colon == std::string_view::npos ? "str" : inside.substr(colon + 1);
    Tok kind = Tok::kStr;
    if (conv == "int") kind = Tok::kInt;
    if (conv == "float") kind = Tok::kFloat;
    if (conv == "uuid") kind = Tok::kUuid;
    if (conv == "path") kind = Tok::kPath;
    out.push_back({kind, ""});
    i = close + 1;
  }
  return out;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLowerHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f'); }

// Ends e such that s[pos, e) is accepted by the token.
std::vector<size_t> Ends(const Token& t, std::string_view s, size_t pos) {
  std::vector<size_t> ends;
  const size_t n = s.size();
  auto run = [&](size_t from, bool (*ok)(char)) {
    size_t e = from;
    while (e < n && ok(s[e])) ++e;
    return e;
  };
  switch (t.kind) {
    case Tok::kLiteral:
      if (s.substr(pos, t.literal.size()) == t.literal) ends.push_back(pos + t.literal.size());
      break;
    case Tok::kStr: {
      const size_t stop = run(pos, [](char c) { return c != '/'; });
      for (size_t e = pos + 1; e <= stop; ++e) ends.push_back(e);
      break;
    }
    case Tok::kInt:
    case Tok::kFloat: {
      const size_t d1 = run(pos, IsDigit);
      for (size_t e = pos + 1; e <= d1; ++e) ends.push_back(e);
      if (t.kind == Tok::kFloat && d1 > pos && d1 < n && s[d1] == '.') {
        const size_t d2 = run(d1 + 1, IsDigit);
        for (size_t e = d1 + 2; e <= d2; ++e) ends.push_back(e);
      }
      break;
    }
    case Tok::kUuid: {
      if (n - pos < 36) break;
      bool ok = true;
      for (size_t i = 0; i < 36 && ok; ++i) {
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        ok = dash ? s[pos + i] == '-' : IsLowerHex(s[pos + i]);
      }
      if (ok) ends.push_back(pos + 36);
      break;
    }
    case Tok::kPath:
      for (size_t e = pos; e <= n; ++e) ends.push_back(e);
      break;
  }
  return ends;
}

bool ReferenceMatch(const std::vector<Token>& toks, std::string_view s) {
  // ok[t][pos]: tokens t.. match s[pos, n) exactly.
  const size_t n = s.size();
  std::vector<std::vector<char>> ok(toks.size() + 1, std::vector<char>(n + 1, 0));
  ok[toks.size()][n] = 1;
  for (size_t t = toks.size(); t-- > 0;) {
    for (size_t pos = 0; pos <= n; ++pos) {
      for (size_t e : Ends(toks[t], s, pos)) {
        if (ok[t + 1][e]) {
          ok[t][pos] = 1;
          break;
        }
      }
    }
  }
  return ok[0][0];
}

std::optional<RouteTemplate> ParseChecked(std::string_view text) {
  std::string error;
  TemplateError reason = TemplateError::kNone;
  auto t = RouteTemplate::Parse(text, &error, &reason);
  if (!t) {
    FUZZ_CHECK(reason != TemplateError::kNone && !error.empty());
    FUZZ_CHECK(error.size() <= 256);  // the text is quoted, cut and cleaned
    return t;
  }
  FUZZ_CHECK(t->text() == text);
  FUZZ_CHECK(text.size() <= perfd::kMaxTemplateBytes);
  FUZZ_CHECK(perfd::SplitPath(text).size() <= perfd::kMaxTemplateSegments);
  for (char c : text) FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const std::string text = in.ConsumeRandomLengthString(300);
  const std::string other = in.ConsumeRandomLengthString(300);
  const auto t = ParseChecked(text);
  const auto u = ParseChecked(other);
  if (t) FUZZ_CHECK(!t->MoreSpecificThan(*t));
  if (t && u) FUZZ_CHECK(!(t->MoreSpecificThan(*u) && u->MoreSpecificThan(*t)));
  if (!t) return 0;

  const std::vector<Token> toks = Tokenize(text);
  for (int i = 0; i < 4 && in.remaining_bytes() > 0; ++i) {
    const std::string path = in.ConsumeRandomLengthString(260);
    MatchBudget budget(perfd::kMaxMatchSteps);
    const bool got = t->Matches(perfd::SplitPath(path), budget);
    FUZZ_CHECK(budget.used() <= perfd::kMaxMatchSteps);
    FUZZ_CHECK(got == t->Matches(path) || budget.exhausted());
    if (budget.exhausted()) {
      FUZZ_CHECK(!got);
      continue;
    }
    FUZZ_CHECK(got == ReferenceMatch(toks, path));
  }
  return 0;
}
