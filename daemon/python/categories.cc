#include "daemon/python/categories.h"

#include "daemon/python/module_name.h"

namespace perfd::python {
namespace {

constexpr std::string_view kNames[kNumCategories] = {"auth", "validation", "serialization",
                                                     "db",   "framework",  "app"};

// Matches one [...] class at glob[*gi] against c; advances *gi past it.
// Returns false with *gi unchanged if the class is unterminated (then '['
// is a literal, as in fnmatch).
bool MatchClass(std::string_view glob, size_t* gi, char c, bool* matched) {
  size_t i = *gi + 1;
  bool negate = false;
  if (i < glob.size() && (glob[i] == '!' || glob[i] == '^')) {
    negate = true;
    ++i;
  }
  bool hit = false;
  bool first = true;
  while (i < glob.size() && (first || glob[i] != ']')) {
    first = false;
    if (i + 2 < glob.size() && glob[i + 1] == '-' && glob[i + 2] != ']') {
      if (glob[i] <= c && c <= glob[i + 2]) hit = true;
      i += 3;
    } else {
      if (glob[i] == c) hit = true;
      ++i;
    }
  }
  if (i >= glob.size()) return false;
  *gi = i + 1;
  *matched = hit != negate;
  return true;
}

bool RuleMatches(const CategoryRule& r, const Symbol& s) {
  if (!r.qualname_glob.empty() && !GlobMatch(r.qualname_glob, s.qualname)) return false;
  if (r.module_glob.empty() || GlobMatch(r.module_glob, s.module)) return true;
  const std::string_view g = r.module_glob;
  return g.size() > 2 && g.substr(g.size() - 2) == ".*" &&
         GlobMatch(g.substr(0, g.size() - 2), s.module);
}

std::vector<CategoryRule> BuildDefaults() {
  std::vector<CategoryRule> rules;
  auto add = [&](Category c, std::initializer_list<const char*> modules, const char* qualname) {
    for (const char* m : modules) rules.push_back({m, qualname, c});
  };
  using C = Category;
  // Order matters only where two rules can match one frame: specific
  // fastapi/starlette functions come before the catch-all framework globs,
  // and auth-named functions win in any module.
  add(C::kAuth,
      {"jwt.*", "jose.*", "authlib.*", "passlib.*", "bcrypt.*", "argon2.*", "fastapi.security.*"},
      "");
  for (const char* q : {"*get_current_user*", "*verify_token*", "*verify_password*",
                        "*hash_password*", "*authenticate*", "*check_password*"}) {
    rules.push_back({"", q, C::kAuth});
  }
  add(C::kValidation, {"pydantic.*", "pydantic_core.*", "email_validator.*", "fastapi._compat.*"},
      "");
  // Request validation; solve_dependencies itself stays framework: it runs
  // the dependencies (auth among them), whose own frames are leaf-more.
  add(C::kValidation, {"fastapi.dependencies.utils"}, "request_params_to_args");
  add(C::kValidation, {"fastapi.dependencies.utils"}, "request_body_to_args");
  // Response validation (it also calls jsonable_encoder: leaf-more frames in
  // fastapi.encoders are serialization).
  add(C::kValidation, {"fastapi.routing"}, "serialize_response");
  add(C::kSerialization,
      {"json.*", "orjson.*", "ujson.*", "simplejson.*", "msgpack.*", "fastapi.encoders.*"}, "");
  add(C::kSerialization, {"starlette.responses", "fastapi.responses"}, "*render*");
  add(C::kDb,
      {"sqlalchemy.*", "asyncpg.*", "psycopg.*", "psycopg2.*", "psycopg_pool.*", "databases.*",
       "redis.*", "aioredis.*", "pymongo.*", "motor.*", "sqlite3.*"},
      "");
  add(C::kFramework,
      {"starlette.*", "fastapi.*", "uvicorn.*", "gunicorn.*", "anyio.*", "sniffio.*", "asyncio.*",
       "uvloop.*", "h11.*", "httptools.*", "concurrent.futures.*", "threading.*", "contextlib.*"},
      "");
  return rules;
}

}  // namespace

std::string_view CategoryName(Category c) {
  const int i = static_cast<int>(c);
  return i >= 0 && i < kNumCategories ? kNames[i] : "app";
}

bool ParseCategory(std::string_view name, Category* out) {
  for (int i = 0; i < kNumCategories; ++i) {
    if (kNames[i] == name) {
      *out = static_cast<Category>(i);
      return true;
    }
  }
  return false;
}

bool GlobMatch(std::string_view glob, std::string_view text) {
  size_t gi = 0, ti = 0;
  // Backtracking point: position after the last '*' and the text position
  // it is currently assumed to cover up to.
  size_t star_gi = std::string_view::npos, star_ti = 0;
  while (ti < text.size()) {
    if (gi < glob.size()) {
      const char g = glob[gi];
      if (g == '*') {
        star_gi = ++gi;
        star_ti = ti;
        continue;
      }
      if (g == '?') {
        ++gi;
        ++ti;
        continue;
      }
      if (g == '[') {
        size_t next = gi;
        bool matched = false;
        if (MatchClass(glob, &next, text[ti], &matched)) {
          if (matched) {
            gi = next;
            ++ti;
            continue;
          }
        } else if (text[ti] == '[') {  // unterminated: literal '['
          ++gi;
          ++ti;
          continue;
        }
      } else if (g == text[ti]) {
        ++gi;
        ++ti;
        continue;
      }
    }
    if (star_gi == std::string_view::npos) return false;
    gi = star_gi;
    ti = ++star_ti;
  }
  while (gi < glob.size() && glob[gi] == '*') ++gi;
  return gi == glob.size();
}

const std::vector<CategoryRule>& DefaultCategoryRules() {
  static const std::vector<CategoryRule> rules = BuildDefaults();
  return rules;
}

Classifier::Classifier(std::vector<CategoryRule> user_rules) : user_rules_(std::move(user_rules)) {}

bool Classifier::ClassifyFrame(const Symbol& frame, Category* out) const {
  if (!frame.ok) return false;
  for (const auto* rules : {&user_rules_, &DefaultCategoryRules()}) {
    for (const CategoryRule& r : *rules) {
      if (RuleMatches(r, frame)) {
        *out = r.category;
        return true;
      }
    }
  }
  if (IsStdlibFile(frame.filename)) return false;
  *out = Category::kApp;
  return true;
}

Category Classifier::Classify(const std::vector<const Symbol*>& leaf_first) const {
  for (const Symbol* s : leaf_first) {
    Category c;
    if (s && ClassifyFrame(*s, &c)) return c;
  }
  return Category::kApp;
}

}  // namespace perfd::python
