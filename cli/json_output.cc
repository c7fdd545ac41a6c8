#include "cli/json_output.h"

#include <google/protobuf/util/json_util.h>

namespace perfd::cli {

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  // Scripts should not have to special-case absent zero fields.
  options.always_print_primitive_fields = true;
  std::string json;
  // Only fails for Any/unknown types, which perfd.v1 does not use.
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json + "\n";
}

}  // namespace perfd::cli
