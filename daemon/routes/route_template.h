// A route template in Starlette/FastAPI syntax, matched segment by segment
// against request paths. "{name}" matches one non-empty segment; Starlette's
// convertors are honoured: "{id:int}", "{x:float}", "{u:uuid}", "{p:path}"
// (the rest of the path, slashes included, possibly empty, only as a whole
// segment). Parameters may share a segment with literal text
// ("/reports/{id}.csv"). Pure: no I/O, no locking.
//
// Templates usually come from the traced service's OpenAPI document, i.e.
// from the application, and end up as Prometheus label values and in the
// event thread's hot path. So Parse refuses what could be costly or unsafe
// (fixed caps below), and matching is linear in the path for any number of
// ':path' parameters, with a step budget as the backstop for the one part
// that can still backtrack (several parameters inside one segment).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace perfd {

// "/a/b" -> {"", "a", "b"}; empty segments (from "//" or a trailing '/')
// are kept, so "/a/" and "/a" stay different routes, as in Starlette.
std::vector<std::string_view> SplitPath(std::string_view path);

// Longest template accepted, in bytes. Request paths are cut at 256 bytes
// before templating (route_table.cc), so a longer template could only match
// cut paths; it would mostly be a very long label value.
inline constexpr size_t kMaxTemplateBytes = 256;
// Most segments accepted, counting the empty one before the leading '/'
// ("/a/b" has 3). Bounds the matcher's work per path segment.
inline constexpr size_t kMaxTemplateSegments = 32;
// Steps RouteTemplate::Matches(path) may take without an explicit budget.
inline constexpr uint64_t kMaxMatchSteps = 4096;

// Why Parse refused a template; TemplateErrorName is its metric label.
enum class TemplateError {
  kNone,
  kTooLong,           // over kMaxTemplateBytes
  kTooManySegments,   // over kMaxTemplateSegments
  kBadParameterName,  // a name with characters other than [A-Za-z0-9_]
  kBadCharacter,      // a control character (no request line holds one)
  kSyntax,            // braces, convertors, adjacent parameters, ...
};
const char* TemplateErrorName(TemplateError error);

// Bounds matching work. One step is one template tried, one segment
// compared or one split of a multi-parameter segment tested; each costs
// O(segment length) at most. Once spent, matches fail.
class MatchBudget {
 public:
  explicit MatchBudget(uint64_t limit) : limit_(limit) {}
  // Takes one step; false (and exhausted() from then on) when none is left.
  bool Spend() {
    if (used_ >= limit_) {
      exhausted_ = true;
      return false;
    }
    ++used_;
    return true;
  }
  bool exhausted() const { return exhausted_; }
  uint64_t used() const { return used_; }

 private:
  uint64_t limit_;
  uint64_t used_ = 0;
  bool exhausted_ = false;
};

class RouteTemplate {
 public:
  // nullopt (and *error / *reason set, if given) for unbalanced braces, an
  // empty parameter name or one with characters other than [A-Za-z0-9_], an
  // unknown convertor, two parameters with no literal between them, ":path"
  // inside a segment with other text, a control character, or a template
  // over kMaxTemplateBytes / kMaxTemplateSegments.
  static std::optional<RouteTemplate> Parse(std::string_view text, std::string* error = nullptr,
                                            TemplateError* reason = nullptr);

  // With a budget of kMaxMatchSteps.
  bool Matches(std::string_view path) const { return Matches(SplitPath(path)); }
  bool Matches(const std::vector<std::string_view>& segments) const;
  // False when the path does not match or the budget ran out (then
  // budget.exhausted()). Lets a caller share one budget across templates.
  bool Matches(const std::vector<std::string_view>& segments, MatchBudget& budget) const;

  // Precedence when several templates match one path: more literal segments
  // first, then, position by position from the left, a literal segment beats
  // a mixed one, which beats a typed parameter, then a plain one, then
  // ":path". So "/users/me" beats "/users/{id}" and "/a/{x}/c" beats "/{y}/b/c".
  bool MoreSpecificThan(const RouteTemplate& other) const;

  const std::string& text() const { return text_; }

 private:
  enum class Convertor { kStr, kInt, kFloat, kUuid, kPath };
  struct Piece {
    bool is_param = false;
    std::string literal;  // when !is_param
    Convertor convertor = Convertor::kStr;
  };
  enum class Kind { kLiteral, kParam, kMixed, kRest };
  struct Segment {
    Kind kind = Kind::kLiteral;
    std::string literal;        // kLiteral
    Convertor convertor{};      // kParam
    std::vector<Piece> pieces;  // kMixed
  };

  static bool Accepts(Convertor convertor, std::string_view text);
  static bool MatchPieces(const std::vector<Piece>& pieces, size_t piece, std::string_view text,
                          MatchBudget& budget);
  static bool MatchSegment(const Segment& seg, std::string_view text, MatchBudget& budget);
  // Template segments [begin, end) (none of them ':path') against path
  // segments from `at` on, one to one.
  bool MatchRun(size_t begin, size_t end, const std::vector<std::string_view>& path, size_t at,
                MatchBudget& budget) const;

  std::string text_;
  std::vector<Segment> segments_;
  std::vector<size_t> rests_;  // indexes of the ':path' segments, ascending
  int literal_segments_ = 0;
  std::vector<int> rank_;  // per segment, higher = more specific
};

}  // namespace perfd
