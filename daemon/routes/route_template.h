// A route template in Starlette/FastAPI syntax, matched segment by segment
// against request paths. "{name}" matches one non-empty segment; Starlette's
// convertors are honoured: "{id:int}", "{x:float}", "{u:uuid}", "{p:path}"
// (the rest of the path, slashes included, possibly empty, only as a whole
// segment). Parameters may share a segment with literal text
// ("/reports/{id}.csv"). Pure: no I/O, no locking.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace perfd {

// "/a/b" -> {"", "a", "b"}; empty segments (from "//" or a trailing '/')
// are kept, so "/a/" and "/a" stay different routes, as in Starlette.
std::vector<std::string_view> SplitPath(std::string_view path);

class RouteTemplate {
 public:
  // nullopt (and *error set, if given) for unbalanced braces, an empty
  // parameter name, an unknown convertor, two parameters with no literal
  // between them, or ":path" inside a segment with other text.
  static std::optional<RouteTemplate> Parse(std::string_view text, std::string* error = nullptr);

  bool Matches(std::string_view path) const { return Matches(SplitPath(path)); }
  bool Matches(const std::vector<std::string_view>& segments) const;

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
  static bool MatchPieces(const std::vector<Piece>& pieces, size_t piece, std::string_view text);
  bool MatchFrom(size_t segment, const std::vector<std::string_view>& path, size_t at) const;

  std::string text_;
  std::vector<Segment> segments_;
  int literal_segments_ = 0;
  std::vector<int> rank_;  // per segment, higher = more specific
};

}  // namespace perfd
