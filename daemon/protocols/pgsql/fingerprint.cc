#include "daemon/protocols/pgsql/fingerprint.h"

#include <algorithm>
#include <cctype>
#include <iterator>
#include <vector>

#include "daemon/protocols/fnv1a.h"

namespace perfd::pgsql {
namespace {

enum class Tok : uint8_t {
  kWord,     // keyword or unquoted identifier (lower-cased, or upper-cased if a keyword)
  kQuoted,   // "identifier", kept as written
  kParam,    // $n
  kLiteral,  // any literal, printed "?"
  kPunct,    // operators and punctuation
};

struct Token {
  Tok kind;
  std::string text;
};

// Keywords printed in upper case; everything else unquoted is lower-cased
// (PostgreSQL folds unquoted identifiers to lower case, so this is lossless).
constexpr std::string_view kKeywords[] = {
    "all",        "alter",   "analyze",   "and",       "any",     "array",   "as",
    "asc",        "begin",   "between",   "by",        "call",    "case",    "cast",
    "close",      "commit",  "conflict",  "copy",      "create",  "cross",   "cursor",
    "deallocate", "declare", "default",   "delete",    "desc",    "discard", "distinct",
    "do",         "drop",    "else",      "end",       "except",  "execute", "exists",
    "explain",    "fetch",   "first",     "for",       "from",    "full",    "group",
    "having",     "if",      "ilike",     "in",        "index",   "inner",   "insert",
    "intersect",  "into",    "is",        "isolation", "join",    "key",     "last",
    "lateral",    "left",    "level",     "like",      "limit",   "listen",  "lock",
    "locked",     "merge",   "move",      "not",       "nothing", "notify",  "nowait",
    "null",       "nulls",   "offset",    "on",        "only",    "or",      "order",
    "outer",      "over",    "partition", "prepare",   "primary", "release", "reset",
    "returning",  "right",   "rollback",  "savepoint", "select",  "set",     "share",
    "show",       "skip",    "start",     "table",     "then",    "to",      "transaction",
    "truncate",   "union",   "unlisten",  "update",    "using",   "vacuum",  "values",
    "when",       "where",   "with",      "work",      "window",  "stdin",   "stdout",
};

bool IsKeyword(std::string_view w) {
  return std::find(std::begin(kKeywords), std::end(kKeywords), w) != std::end(kKeywords);
}

bool IdentStart(unsigned char c) { return std::isalpha(c) || c == '_' || c >= 0x80; }
bool IdentChar(unsigned char c) { return IdentStart(c) || std::isdigit(c) || c == '$'; }

std::string Lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}
std::string Upper(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return r;
}

// Skips a '...' literal starting at i (the quote); backslash escapes if `escapes`.
// Returns the index after it (s.size() if unterminated: a truncated text).
size_t SkipQuoted(std::string_view s, size_t i, char q, bool escapes) {
  for (++i; i < s.size(); ++i) {
    if (escapes && s[i] == '\\') {
      ++i;
    } else if (s[i] == q) {
      if (i + 1 < s.size() && s[i + 1] == q) {
        ++i;  // doubled quote
      } else {
        return i + 1;
      }
    }
  }
  return s.size();
}

// A dollar-quote opener at i ("$$" or "$tag$"): its length, 0 if none.
size_t DollarTag(std::string_view s, size_t i) {
  size_t j = i + 1;
  if (j < s.size() && s[j] != '$' && !IdentStart(static_cast<unsigned char>(s[j]))) return 0;
  while (j < s.size() && s[j] != '$') {
    if (!IdentChar(static_cast<unsigned char>(s[j])) || s[j] == '$') return 0;
    ++j;
  }
  return j < s.size() ? j - i + 1 : 0;
}

bool ValueTok(const Token& t) {
  return t.kind == Tok::kLiteral || t.kind == Tok::kParam ||
         (t.kind == Tok::kWord && t.text == "NULL");
}

std::vector<Token> Tokenize(std::string_view s) {
  std::vector<Token> out;
  size_t i = 0;
  auto prev_allows_sign = [&out] {
    if (out.empty()) return true;
    const Token& p = out.back();
    return p.kind == Tok::kPunct ? p.text != ")" && p.text != "]"
                                 : p.kind == Tok::kWord && IsKeyword(Lower(p.text));
  };
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (std::isspace(c)) {
      ++i;
    } else if (c == '-' && i + 1 < s.size() && s[i + 1] == '-') {
      while (i < s.size() && s[i] != '\n') ++i;
    } else if (c == '/' && i + 1 < s.size() && s[i + 1] == '*') {
      int depth = 0;  // PostgreSQL block comments nest
      while (i < s.size()) {
        if (s.compare(i, 2, "/*") == 0) {
          ++depth, i += 2;
        } else if (s.compare(i, 2, "*/") == 0) {
          i += 2;
          if (--depth == 0) break;
        } else {
          ++i;
        }
      }
    } else if (c == '\'') {
      i = SkipQuoted(s, i, '\'', false);
      out.push_back({Tok::kLiteral, "?"});
    } else if (c == '"') {
      size_t j = SkipQuoted(s, i, '"', false);
      out.push_back({Tok::kQuoted, std::string(s.substr(i, j - i))});
      i = j;
    } else if (c == '$' && i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
      size_t j = i + 1;
      while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
      out.push_back({Tok::kParam, std::string(s.substr(i, j - i))});
      i = j;
    } else if (c == '$' && DollarTag(s, i) > 0) {
      size_t n = DollarTag(s, i);
      size_t end = s.find(s.substr(i, n), i + n);
      i = end == std::string_view::npos ? s.size() : end + n;
      out.push_back({Tok::kLiteral, "?"});
    } else if (std::isdigit(c) || (c == '.' && i + 1 < s.size() &&
                                   std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
      size_t j = i;
      while (j < s.size() &&
             (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '.' || s[j] == '_' ||
              ((s[j] == '+' || s[j] == '-') && (s[j - 1] == 'e' || s[j - 1] == 'E'))))
        ++j;
      // A sign directly before a number in value position belongs to the literal.
      if (!out.empty() && out.back().kind == Tok::kPunct && out.back().text == "-" &&
          out.size() >= 1) {
        Token minus = out.back();
        out.pop_back();
        if (!prev_allows_sign()) out.push_back(minus);
      }
      out.push_back({Tok::kLiteral, "?"});
      i = j;
    } else if (IdentStart(c)) {
      size_t j = i;
      while (j < s.size() && IdentChar(static_cast<unsigned char>(s[j]))) ++j;
      std::string_view w = s.substr(i, j - i);
      // E'..', B'..', X'..', N'..' and U&'..' are literals with a prefix.
      bool one = w.size() == 1 && std::string_view("eEbBxXnN").find(w[0]) != std::string_view::npos;
      if (one && j < s.size() && s[j] == '\'') {
        i = SkipQuoted(s, j, '\'', w[0] == 'e' || w[0] == 'E');
        out.push_back({Tok::kLiteral, "?"});
        continue;
      }
      if ((w == "u" || w == "U") && s.compare(j, 2, "&'") == 0) {
        i = SkipQuoted(s, j + 1, '\'', false);
        out.push_back({Tok::kLiteral, "?"});
        continue;
      }
      std::string lw = Lower(w);
      if (lw == "true" || lw == "false") {
        out.push_back({Tok::kLiteral, "?"});
      } else {
        out.push_back({Tok::kWord, IsKeyword(lw) ? Upper(lw) : lw});
      }
      i = j;
    } else {
      // Operators: a run of operator characters; other punctuation alone.
      static constexpr std::string_view kOps = "+-*/<>=~!@#%^&|`?";
      size_t j = i + 1;
      if (c == ':' && j < s.size() && s[j] == ':') {
        ++j;
      } else if (kOps.find(static_cast<char>(c)) != std::string_view::npos) {
        while (j < s.size() && kOps.find(s[j]) != std::string_view::npos &&
               s.compare(j, 2, "--") != 0 && s.compare(j, 2, "/*") != 0)
          ++j;
      }
      out.push_back({Tok::kPunct, std::string(s.substr(i, j - i))});
      i = j;
    }
  }
  return out;
}

// Index after the ')' matching the '(' at i, if everything inside is values
// and commas; 0 otherwise.
size_t ValueGroupEnd(const std::vector<Token>& t, size_t i) {
  if (i >= t.size() || t[i].text != "(" || t[i].kind != Tok::kPunct) return 0;
  bool any = false;
  for (size_t j = i + 1; j < t.size(); ++j) {
    if (t[j].kind == Tok::kPunct && t[j].text == ")") return any ? j + 1 : 0;
    if (t[j].kind == Tok::kPunct && t[j].text == ",") continue;
    if (t[j].kind == Tok::kPunct && t[j].text == "::" && j + 1 < t.size()) {
      ++j;  // a cast of a value: $1::int
      continue;
    }
    if (!ValueTok(t[j])) return 0;
    any = true;
  }
  return 0;
}

bool NoSpaceBefore(const Token& prev, const Token& cur) {
  if (cur.kind == Tok::kPunct &&
      (cur.text == ")" || cur.text == "," || cur.text == "." || cur.text == "::" ||
       cur.text == ";" || cur.text == "]" || cur.text == "["))
    return true;
  if (prev.kind == Tok::kPunct &&
      (prev.text == "(" || prev.text == "." || prev.text == "::" || prev.text == "["))
    return true;
  // Function call: name(
  return cur.kind == Tok::kPunct && cur.text == "(" &&
         ((prev.kind == Tok::kWord && !IsKeyword(Lower(prev.text))) || prev.kind == Tok::kQuoted);
}

std::string Unquote(const Token& t) {
  if (t.kind != Tok::kQuoted || t.text.size() < 2) return t.text;
  return t.text.substr(1, t.text.size() - 2);
}

// The relation name starting at t[i] (schema.name), "" if it is not one (a
// function call, a subquery, a keyword).
std::string RelationAt(const std::vector<Token>& t, size_t i, bool column_list) {
  std::string name;
  while (i < t.size() &&
         ((t[i].kind == Tok::kWord && !IsKeyword(Lower(t[i].text))) || t[i].kind == Tok::kQuoted)) {
    name += Unquote(t[i]);
    if (i + 2 < t.size() && t[i + 1].kind == Tok::kPunct && t[i + 1].text == ".") {
      name += ".";
      i += 2;
      continue;
    }
    ++i;
    break;
  }
  // name( is a function call after FROM, a column list after INTO / COPY.
  if (!column_list && i < t.size() && t[i].kind == Tok::kPunct && t[i].text == "(") return "";
  return name;
}

bool IsWord(const Token& t, std::string_view w) { return t.kind == Tok::kWord && t.text == w; }

}  // namespace

uint64_t FingerprintId(std::string_view fingerprint) { return protocols::Fnv1a64(fingerprint); }

StatementFacts Fingerprint(std::string_view text, bool truncated) {
  std::vector<Token> t = Tokenize(text);
  while (!t.empty() && t.back().kind == Tok::kPunct && t.back().text == ";") t.pop_back();

  StatementFacts f;
  const Token* prev = nullptr;
  auto emit = [&](const Token& tok, const std::string& text_out) {
    if (prev != nullptr && !NoSpaceBefore(*prev, tok)) f.fingerprint += ' ';
    f.fingerprint += text_out;
    prev = &tok;
  };
  static const Token kOpen{Tok::kPunct, "("}, kClose{Tok::kPunct, ")"};
  static const Token kComma{Tok::kPunct, ","}, kDots{Tok::kWord, "..."};
  for (size_t i = 0; i < t.size(); ++i) {
    const Token& tok = t[i];
    emit(tok, tok.text);
    if (IsWord(tok, "IN")) {
      if (size_t end = ValueGroupEnd(t, i + 1)) {
        emit(kOpen, "(");
        emit(kDots, "...");
        emit(kClose, ")");
        i = end - 1;
      }
    } else if (IsWord(tok, "VALUES")) {
      // Keep the first row; rows after it become ", ...".
      size_t end = ValueGroupEnd(t, i + 1);
      if (end == 0) continue;
      size_t rows = 1, last = end;
      while (last + 1 < t.size() && t[last].text == "," && ValueGroupEnd(t, last + 1) != 0) {
        last = ValueGroupEnd(t, last + 1);
        ++rows;
      }
      for (size_t j = i + 1; j < end; ++j) emit(t[j], t[j].text);
      if (rows > 1) {
        emit(kComma, ",");
        emit(kDots, "...");
      }
      i = last - 1;
    }
  }
  if (truncated) f.fingerprint += " /*truncated*/";
  f.id = FingerprintId(f.fingerprint);

  // Operation: the first word; WITH resolves to the first verb at depth 0.
  int depth = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i].kind == Tok::kPunct) {
      depth += t[i].text == "(" ? 1 : t[i].text == ")" ? -1 : 0;
      continue;
    }
    if (t[i].kind != Tok::kWord) continue;
    if (f.operation.empty()) {
      f.operation = Upper(t[i].text);
      if (f.operation != "WITH") break;
      continue;
    }
    if (depth == 0 && (IsWord(t[i], "SELECT") || IsWord(t[i], "INSERT") || IsWord(t[i], "UPDATE") ||
                       IsWord(t[i], "DELETE") || IsWord(t[i], "MERGE"))) {
      f.operation = t[i].text;
      break;
    }
  }
  for (size_t i = 0; i + 1 < t.size() && f.table.empty(); ++i) {
    if (IsWord(t[i], "FROM") || IsWord(t[i], "INTO") || IsWord(t[i], "UPDATE") ||
        (i == 0 && IsWord(t[i], "COPY")) ||
        (IsWord(t[i], "TABLE") && i > 0 && IsWord(t[i - 1], "TRUNCATE")))
      f.table = RelationAt(t, i + 1, IsWord(t[i], "INTO") || IsWord(t[i], "COPY"));
    // A name at the very end of a cut text may itself be cut.
    if (truncated && !f.table.empty() && i + 2 >= t.size()) f.table.clear();
  }

  static constexpr std::string_view kHousekeepingVerbs[] = {
      "BEGIN",     "START",    "COMMIT",     "END",   "ROLLBACK", "ABORT",
      "SAVEPOINT", "RELEASE",  "SET",        "RESET", "SHOW",     "DISCARD",
      "LISTEN",    "UNLISTEN", "DEALLOCATE", "CLOSE", "PREPARE"};
  std::string verb = t.empty() ? "" : Upper(t[0].text);
  f.housekeeping = std::find(std::begin(kHousekeepingVerbs), std::end(kHousekeepingVerbs), verb) !=
                   std::end(kHousekeepingVerbs);
  for (const Token& tok : t) {
    // Driver introspection (asyncpg's type lookups) and pool resets.
    if (tok.kind == Tok::kWord &&
        (tok.text == "pg_catalog" || tok.text == "pg_type" || tok.text == "pg_advisory_unlock_all"))
      f.housekeeping = true;
  }
  return f;
}

std::string TagOperation(std::string_view tag) {
  while (!tag.empty() &&
         (std::isdigit(static_cast<unsigned char>(tag.back())) || tag.back() == ' '))
    tag.remove_suffix(1);
  return std::string(tag);
}

int64_t TagRows(std::string_view tag) {
  size_t sp = tag.rfind(' ');
  if (sp == std::string_view::npos || sp + 1 == tag.size()) return -1;
  static constexpr std::string_view kCounted[] = {"SELECT ", "INSERT ", "UPDATE ", "DELETE ",
                                                  "MERGE ",  "FETCH ",  "MOVE ",   "COPY "};
  bool counted = false;
  for (auto p : kCounted) counted |= tag.substr(0, p.size()) == p;
  if (!counted) return -1;
  int64_t n = 0;
  for (size_t i = sp + 1; i < tag.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(tag[i]))) return -1;
    n = n * 10 + (tag[i] - '0');
    if (n > (int64_t{1} << 53)) return -1;
  }
  return n;
}

}  // namespace perfd::pgsql
