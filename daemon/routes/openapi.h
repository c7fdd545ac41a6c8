// Extracts route templates from a service's OpenAPI document (what FastAPI
// serves at /openapi.json). Pure: the caller fetches the bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace perfd {

// The keys of "paths" that are paths (start with '/'; "x-..." extensions are
// skipped), sorted and without duplicates. For Swagger 2 documents a
// "basePath" other than "/" is prefixed; OpenAPI 3 "servers" are ignored
// because a proxy in front of the app usually strips that prefix before
// uvicorn sees the request.
//
// The document comes from the traced service, up to 16 MiB of it: it is read
// as a stream (no JSON tree), and only the first `max_paths` paths in
// document order are kept; the rest are counted in *omitted (if given). So a
// document of a million paths costs max_paths strings, not a million.
// nullopt with *error set (if given) for invalid JSON, a non-object document
// or a missing / non-object "paths".
std::optional<std::vector<std::string>> ParseOpenApiPaths(
    std::string_view json, std::string* error,
    size_t max_paths = std::numeric_limits<size_t>::max(), uint64_t* omitted = nullptr);

}  // namespace perfd
