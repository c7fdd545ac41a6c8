#include "daemon/protocols/redis/command_name.h"

#include <array>

namespace perfd::protocols::redis {
namespace {

char Upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

bool EqualsUpper(std::string_view s, std::string_view upper) {
  if (s.size() != upper.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (Upper(s[i]) != upper[i]) return false;
  }
  return true;
}

std::string ToUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Upper(c);
  return out;
}

// Commands whose second element names what they do.
constexpr std::array<std::string_view, 17> kContainers = {
    "ACL",    "CLIENT", "CLUSTER", "COMMAND", "CONFIG", "FUNCTION", "LATENCY", "MEMORY",   "MODULE",
    "OBJECT", "PUBSUB", "SCRIPT",  "SLOWLOG", "XGROUP", "XINFO",    "DEBUG",   "SENTINEL",
};

bool IsContainer(std::string_view upper_name) {
  for (auto c : kContainers) {
    if (c == upper_name) return true;
  }
  return false;
}

}  // namespace

bool IsCommandWord(const Word& w) {
  if (!w.complete || w.text.empty() || w.text.size() > kMaxWordLen) return false;
  for (char c : w.text) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::string CommandName(const Word& first, const Word& second, uint32_t argc, bool* refused) {
  *refused = false;
  if (!IsCommandWord(first)) {
    *refused = true;
    return "?";
  }
  std::string name = ToUpper(first.text);
  if (argc >= 2 && IsContainer(name)) {
    if (IsCommandWord(second)) {
      name += ' ';
      name += ToUpper(second.text);
    } else {
      *refused = true;
      name += " ?";
    }
  }
  return name;
}

CommandKind ClassifyCommand(std::string_view name, const Word& third) {
  if (name == "SUBSCRIBE") return CommandKind::kSubscribe;
  if (name == "PSUBSCRIBE") return CommandKind::kPSubscribe;
  if (name == "SSUBSCRIBE") return CommandKind::kSSubscribe;
  if (name == "UNSUBSCRIBE") return CommandKind::kUnsubscribe;
  if (name == "PUNSUBSCRIBE") return CommandKind::kPUnsubscribe;
  if (name == "SUNSUBSCRIBE") return CommandKind::kSUnsubscribe;
  if (name == "RESET") return CommandKind::kReset;
  if (name == "CLIENT REPLY" && third.complete) {
    if (EqualsUpper(third.text, "ON")) return CommandKind::kClientReplyOn;
    if (EqualsUpper(third.text, "OFF")) return CommandKind::kClientReplyOff;
    if (EqualsUpper(third.text, "SKIP")) return CommandKind::kClientReplySkip;
  }
  return CommandKind::kPlain;
}

std::string ErrorPrefix(const Word& line) {
  std::string_view t = line.text;
  size_t end = t.find(' ');
  if (end == std::string_view::npos) {
    // The whole line is one word only if we saw all of it.
    if (!line.complete) return "?";
    end = t.size();
  }
  std::string_view word = t.substr(0, end);
  if (word.empty() || word.size() > kMaxWordLen) return "?";
  for (char c : word) {
    if (!((c >= 'A' && c <= 'Z') || c == '_')) return "?";
  }
  return std::string(word);
}

}  // namespace perfd::protocols::redis
