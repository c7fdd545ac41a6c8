// Extracts route templates from a service's OpenAPI document (what FastAPI
// serves at /openapi.json). Pure: the caller fetches the bytes.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace perfd {

// The keys of "paths" that are paths (start with '/'; "x-..." extensions are
// skipped), sorted. For Swagger 2 documents a "basePath" other than "/" is
// prefixed; OpenAPI 3 "servers" are ignored because a proxy in front of the
// app usually strips that prefix before uvicorn sees the request.
// nullopt with *error set (if given) for invalid JSON, a non-object document
// or a missing / non-object "paths".
std::optional<std::vector<std::string>> ParseOpenApiPaths(std::string_view json,
                                                          std::string* error);

}  // namespace perfd
