#include "daemon/config/yaml_document.h"

#include <yaml-cpp/eventhandler.h>

#include <sstream>

#include "daemon/config/config.h"

namespace perfd {
namespace {

// Sees only where documents start. yaml-cpp 0.7 can report a document
// forever without consuming a token (a stray ',' where a node should start:
// jbeder/yaml-cpp#1040; YAML::LoadAll then appends null documents until
// memory runs out). A real document always consumes at least one token, so
// a document starting where the previous one started means no progress.
class DocumentCounter : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override {
    if (documents > 0 && mark.pos == last.pos) stuck = true;
    last = mark;
    ++documents;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  size_t documents = 0;
  bool stuck = false;
  YAML::Mark last;
};

[[noreturn]] void SyntaxError(const std::string& source, const YAML::Mark& mark,
                              const std::string& what) {
  throw ConfigError(source, "YAML syntax error at line " + std::to_string(mark.line + 1) +
                                ", column " + std::to_string(mark.column + 1) + ": " + what);
}

}  // namespace

YAML::Node LoadOneYamlDocument(const std::string& text, const std::string& source) {
  try {
    std::istringstream in(text);
    YAML::Parser parser(in);
    DocumentCounter counter;
    while (parser.HandleNextDocument(counter)) {
      if (counter.stuck) SyntaxError(source, counter.last, "no YAML node can start here");
    }
    if (counter.documents > 1) {
      throw ConfigError(source, "expected one YAML document, found several");
    }
    // The text parsed cleanly as at most one document: Load cannot loop.
    return counter.documents == 0 ? YAML::Node() : YAML::Load(text);
  } catch (const YAML::Exception& e) {
    SyntaxError(source, e.mark, e.msg);
  }
}

}  // namespace perfd
