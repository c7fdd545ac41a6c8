// Decides what a Python stack sample was doing (auth, validation, ...) from
// its frames with module/qualname glob rules. See docs/CATEGORIES.md.
//
// Per frame, from the leaf outwards: user rules are tried first, then the
// defaults, in order; the first match classifies the frame. The leaf-most
// classified frame decides the sample. A frame no rule matches is
//  - transparent when it is standard library (module_name.h IsStdlibFile) or
//    could not be resolved: typing/re/copy called by pydantic stay
//    validation;
//  - "app" otherwise: the application's own code (and third-party packages
//    the defaults do not know) decides for itself, so the app's work is not
//    swallowed by the framework frames that called it.
// A stack with no deciding frame at all is app.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "daemon/python/symbolizer.h"

namespace perfd::python {

enum class Category { kAuth, kValidation, kSerialization, kDb, kFramework, kApp };
inline constexpr int kNumCategories = 6;

// "auth", "validation", "serialization", "db", "framework", "app".
std::string_view CategoryName(Category c);
// Inverse of CategoryName; false for an unknown name.
bool ParseCategory(std::string_view name, Category* out);

struct CategoryRule {
  // fnmatch-style: * (any run, dots included), ? (one char), [abc], [a-z],
  // [!abc]. Empty = any. A module glob "pkg.*" also matches "pkg" itself, so
  // a package's __init__ belongs to it.
  std::string module_glob;
  std::string qualname_glob;
  Category category = Category::kApp;
};

// fnmatch without the filesystem special cases; exposed for tests.
bool GlobMatch(std::string_view glob, std::string_view text);

// The built-in table, in match order (documented in docs/CATEGORIES.md).
const std::vector<CategoryRule>& DefaultCategoryRules();

class Classifier {
 public:
  explicit Classifier(std::vector<CategoryRule> user_rules = {});

  // leaf_first[0] is the leaf; null entries are skipped.
  Category Classify(const std::vector<const Symbol*>& leaf_first) const;

  // The category one frame gets on its own, or false if it is transparent.
  bool ClassifyFrame(const Symbol& frame, Category* out) const;

 private:
  std::vector<CategoryRule> user_rules_;
};

}  // namespace perfd::python
