#include "daemon/routes/openapi.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace perfd {

namespace {

std::nullopt_t Fail(std::string* error, std::string message) {
  if (error != nullptr) *error = std::move(message);
  return std::nullopt;
}

// SAX events of the whole document; keeps the top-level "swagger" and
// "basePath" and the keys of the top-level "paths" object, nothing else. A
// tree of the document would cost ~100 bytes per path in memory.
class PathsCollector : public nlohmann::json_sax<nlohmann::json> {
 public:
  explicit PathsCollector(size_t max_paths) : max_paths_(max_paths) {}

  bool null() override { return Value(); }
  bool boolean(bool) override { return Value(); }
  bool number_integer(number_integer_t) override { return Value(); }
  bool number_unsigned(number_unsigned_t) override { return Value(); }
  bool number_float(number_float_t, const string_t&) override { return Value(); }
  bool binary(binary_t&) override { return Value(); }
  bool string(string_t& s) override {
    Value();
    if (depth_ == 1 && top_key_ == "basePath") base_path_ = s;
    return true;
  }
  bool start_object(std::size_t) override {
    Value();
    if (depth_ == 0) top_is_object_ = true;
    if (depth_ == 1 && top_key_ == "paths") {
      // A repeated "paths" replaces the earlier one, as in a JSON tree.
      in_paths_ = true;
      paths_is_object_ = true;
      paths_.clear();
      omitted_ = 0;
    }
    ++depth_;
    return true;
  }
  bool end_object() override {
    --depth_;
    if (depth_ == 1) in_paths_ = false;
    return true;
  }
  bool start_array(std::size_t) override {
    Value();
    ++depth_;
    return true;
  }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool key(string_t& k) override {
    if (depth_ == 1) {
      top_key_ = k;
      if (k == "swagger") swagger_ = true;
      if (k == "paths") has_paths_ = true;
    } else if (depth_ == 2 && in_paths_ && !k.empty() && k.front() == '/') {
      if (paths_.size() < max_paths_) {
        paths_.push_back(k);
      } else {
        ++omitted_;
      }
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

  bool top_is_object_ = false;
  bool has_paths_ = false;
  bool paths_is_object_ = false;
  bool swagger_ = false;
  std::optional<std::string> base_path_;
  std::vector<std::string> paths_;
  uint64_t omitted_ = 0;

 private:
  // Called as every value starts. A top-level value replaces an earlier one
  // of the same key, as in a JSON tree: "paths" is an object only if its
  // last value is (start_object sets it again), and "basePath" only holds a
  // string if its last value is one (string() sets it again).
  bool Value() {
    if (depth_ == 1 && top_key_ == "paths") paths_is_object_ = false;
    if (depth_ == 1 && top_key_ == "basePath") base_path_.reset();
    return true;
  }

  const size_t max_paths_;
  int depth_ = 0;
  std::string top_key_;
  bool in_paths_ = false;
};

}  // namespace

std::optional<std::vector<std::string>> ParseOpenApiPaths(std::string_view json, std::string* error,
                                                          size_t max_paths, uint64_t* omitted) {
  // No exceptions: the document comes from the traced service, not from us.
  PathsCollector c(max_paths);
  if (!nlohmann::json::sax_parse(json.begin(), json.end(), &c))
    return Fail(error, "OpenAPI document is not valid JSON");
  if (!c.top_is_object_) return Fail(error, "OpenAPI document is not a JSON object");
  if (!c.has_paths_) return Fail(error, "OpenAPI document has no \"paths\"");
  if (!c.paths_is_object_) return Fail(error, "OpenAPI \"paths\" is not an object");

  std::string prefix;
  if (c.swagger_ && c.base_path_) {
    prefix = *c.base_path_;
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    if (!prefix.empty() && prefix.front() != '/') prefix.insert(prefix.begin(), '/');
  }
  std::vector<std::string> out = std::move(c.paths_);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  if (!prefix.empty())
    for (auto& p : out) p.insert(0, prefix);
  if (omitted != nullptr) *omitted = c.omitted_;
  return out;
}

}  // namespace perfd
