#include "cli/nodes_json.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "cli/json_output.h"

namespace perfd::cli {
namespace {

using google::protobuf::ListValue;
using google::protobuf::Struct;
using google::protobuf::Value;

Struct ToStruct(const google::protobuf::Message& message) {
  Struct out;
  // ToJson's output is valid JSON by construction.
  (void)google::protobuf::util::JsonStringToMessage(ToJson(message), &out);
  return out;
}

Value Strings(const std::vector<std::string>& names) {
  Value v;
  ListValue* list = v.mutable_list_value();
  for (const auto& n : names) list->add_values()->set_string_value(n);
  return v;
}

}  // namespace

std::string ToJsonWithNodes(const google::protobuf::Message& message,
                            const std::vector<std::string>& answered,
                            const std::vector<NodeFailure>& failed,
                            const std::map<RouteKey, std::vector<std::string>>* route_nodes,
                            const std::vector<NodeTop>* by_node) {
  Struct doc = ToStruct(message);
  auto& fields = *doc.mutable_fields();
  fields["nodes"] = Strings(answered);
  fields["partial"].set_bool_value(!failed.empty());
  ListValue* failures = fields["failedEndpoints"].mutable_list_value();
  for (const auto& f : failed) {
    auto& entry = *failures->add_values()->mutable_struct_value()->mutable_fields();
    entry["endpoint"].set_string_value(f.node);
    entry["error"].set_string_value(f.error);
  }
  if (route_nodes && fields.count("routes")) {
    for (Value& route : *fields["routes"].mutable_list_value()->mutable_values()) {
      auto& r = *route.mutable_struct_value()->mutable_fields();
      const RouteKey key{r["method"].string_value(), r["route"].string_value()};
      const auto it = route_nodes->find(key);
      r["nodes"] = Strings(it == route_nodes->end() ? std::vector<std::string>{} : it->second);
    }
  }
  if (by_node) {
    ListValue* list = fields["byNode"].mutable_list_value();
    for (const NodeTop& node : *by_node) {
      auto& entry = *list->add_values()->mutable_struct_value()->mutable_fields();
      entry["node"].set_string_value(node.node);
      *entry["top"].mutable_struct_value() = ToStruct(node.top);
    }
  }
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(doc, &json);
  return json + "\n";
}

}  // namespace perfd::cli
