// Reads the one YAML document of a config file. yaml-cpp's LoadAll can
// loop forever (growing memory) on some malformed text, so the documents
// are first counted by a parser pass that notices when it stops advancing.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

namespace perfd {

// The document of `text`, or a null node when there is none. Throws
// ConfigError(source, ...) on a YAML syntax error (with line and column) or
// when the text holds several documents.
YAML::Node LoadOneYamlDocument(const std::string& text, const std::string& source);

}  // namespace perfd
