// `-o json`: protobuf's canonical JSON mapping, so the output is the
// documented perfd.v1 schema (lowerCamelCase names, 64-bit integers as
// strings, zero values printed rather than omitted).
#pragma once

#include <google/protobuf/message.h>

#include <string>

namespace perfd::cli {

// One JSON object on one line, newline-terminated.
std::string ToJson(const google::protobuf::Message& message);

}  // namespace perfd::cli
