#include "daemon/routes/openapi.h"

#include <nlohmann/json.hpp>

namespace perfd {

namespace {

std::nullopt_t Fail(std::string* error, std::string message) {
  if (error != nullptr) *error = std::move(message);
  return std::nullopt;
}

}  // namespace

std::optional<std::vector<std::string>> ParseOpenApiPaths(std::string_view json,
                                                          std::string* error) {
  // No exceptions: the document comes from the traced service, not from us.
  nlohmann::json doc = nlohmann::json::parse(json.begin(), json.end(), nullptr,
                                             /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Fail(error, "OpenAPI document is not valid JSON");
  if (!doc.is_object()) return Fail(error, "OpenAPI document is not a JSON object");
  auto paths = doc.find("paths");
  if (paths == doc.end()) return Fail(error, "OpenAPI document has no \"paths\"");
  if (!paths->is_object()) return Fail(error, "OpenAPI \"paths\" is not an object");

  std::string prefix;
  auto base = doc.find("basePath");
  if (doc.contains("swagger") && base != doc.end() && base->is_string()) {
    prefix = base->get<std::string>();
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    if (!prefix.empty() && prefix.front() != '/') prefix.insert(prefix.begin(), '/');
  }

  std::vector<std::string> out;
  out.reserve(paths->size());
  for (const auto& item : paths->items()) {  // nlohmann keeps keys sorted
    if (item.key().empty() || item.key().front() != '/') continue;
    out.push_back(prefix + item.key());
  }
  return out;
}

}  // namespace perfd
