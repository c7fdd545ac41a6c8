// Turns the few captured bytes of a command's first elements into the name a
// record may hold, and an error line into its prefix word. This is where the
// privacy rule is enforced: only words that look like Redis command names or
// error codes come out; anything else becomes "?" (and is counted), so a key
// or value sent in the name's place never reaches a record or a log.
#pragma once

#include <string>
#include <string_view>

namespace perfd::protocols::redis {

// Longest name or error word kept; longer words are refused.
inline constexpr size_t kMaxWordLen = 32;

// What the stitcher must know about a command beyond its name.
enum class CommandKind : uint8_t {
  kPlain,
  kSubscribe,     // SUBSCRIBE ch...   (one confirmation per channel)
  kPSubscribe,    // PSUBSCRIBE pat...
  kSSubscribe,    // SSUBSCRIBE ch...
  kUnsubscribe,   // UNSUBSCRIBE [ch...]
  kPUnsubscribe,  // PUNSUBSCRIBE [pat...]
  kSUnsubscribe,  // SUNSUBSCRIBE [ch...]
  kClientReplyOn,
  kClientReplyOff,
  kClientReplySkip,
  kReset,
};

// A captured element: its first bytes and whether they are all of it.
struct Word {
  std::string_view text;
  bool complete = false;
};

// True if `w` is a plausible command name: 1..kMaxWordLen of letters, '_',
// '-', '.' (module commands: "JSON.SET"). Digits are refused on purpose:
// no core command has one, and ids or keys usually do.
bool IsCommandWord(const Word& w);

// "GET", "CLIENT SETNAME" (the subcommand only for container commands:
// CLIENT, CONFIG, CLUSTER, XINFO, OBJECT, SCRIPT, FUNCTION, ...), or "?".
// Sets *refused when the name (or subcommand) was replaced by "?".
std::string CommandName(const Word& first, const Word& second, uint32_t argc, bool* refused);

// Kind from the vetted name and, for CLIENT REPLY, the third element.
CommandKind ClassifyCommand(std::string_view name, const Word& third);

// First word of an error line ("ERR", "WRONGTYPE", "MOVED") if it is an
// upper-case code word, else "?".
std::string ErrorPrefix(const Word& line);

}  // namespace perfd::protocols::redis
