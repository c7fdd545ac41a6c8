#include "daemon/routes/route_template.h"

#include <algorithm>
#include <cctype>

namespace perfd {

namespace {

bool AllDigits(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

bool SetError(std::string* error, std::string message) {
  if (error != nullptr) *error = std::move(message);
  return false;
}

// Parameter names become part of label values (the template text) and of
// error messages; Python identifiers are all FastAPI can declare anyway.
bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

bool IsControl(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

// Quotes only a bounded, printable prefix of a refused template in messages:
// the text came from the application and may be huge or hold control bytes.
std::string Quote(std::string_view text) {
  constexpr size_t kShown = 64;
  std::string out;
  for (char c : text.substr(0, kShown)) out.push_back(IsControl(c) ? '?' : c);
  if (text.size() > kShown) out += "...";
  return out;
}

}  // namespace

const char* TemplateErrorName(TemplateError error) {
  switch (error) {
    case TemplateError::kNone:
      return "none";
    case TemplateError::kTooLong:
      return "too_long";
    case TemplateError::kTooManySegments:
      return "too_many_segments";
    case TemplateError::kBadParameterName:
      return "bad_parameter_name";
    case TemplateError::kBadCharacter:
      return "bad_character";
    case TemplateError::kSyntax:
      return "invalid";
  }
  return "invalid";
}

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> segments;
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      segments.push_back(path.substr(start));
      return segments;
    }
    segments.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

std::optional<RouteTemplate> RouteTemplate::Parse(std::string_view text, std::string* error,
                                                  TemplateError* reason) {
  auto refuse = [&](TemplateError why, const std::string& message) {
    if (reason != nullptr) *reason = why;
    SetError(error, message + " in route template: " + Quote(text));
    return std::nullopt;
  };
  // Size caps first, before any allocation proportional to the text.
  if (text.size() > kMaxTemplateBytes) {
    return refuse(TemplateError::kTooLong,
                  "longer than " + std::to_string(kMaxTemplateBytes) + " bytes");
  }
  if (static_cast<size_t>(std::count(text.begin(), text.end(), '/')) >= kMaxTemplateSegments) {
    return refuse(TemplateError::kTooManySegments,
                  "more than " + std::to_string(kMaxTemplateSegments) + " segments");
  }
  RouteTemplate tmpl;
  tmpl.text_ = std::string(text);
  for (std::string_view raw : SplitPath(text)) {
    std::vector<Piece> pieces;
    size_t i = 0;
    while (i < raw.size()) {
      if (raw[i] == '}') return refuse(TemplateError::kSyntax, "unbalanced '}'");
      if (raw[i] != '{') {
        size_t end = std::min(raw.find('{', i), raw.find('}', i));
        if (end == std::string_view::npos) end = raw.size();
        std::string_view literal = raw.substr(i, end - i);
        if (std::any_of(literal.begin(), literal.end(), IsControl)) {
          return refuse(TemplateError::kBadCharacter, "control character");
        }
        pieces.push_back(Piece{false, std::string(literal), Convertor::kStr});
        i = end;
        continue;
      }
      size_t close = raw.find('}', i);
      size_t nested = raw.find('{', i + 1);
      if (close == std::string_view::npos || nested < close) {
        return refuse(TemplateError::kSyntax, "unbalanced '{'");
      }
      std::string_view inside = raw.substr(i + 1, close - i - 1);
      std::string_view name = inside.substr(0, inside.find(':'));
      std::string_view conv =
          name.size() < inside.size() ? inside.substr(name.size() + 1) : std::string_view("str");
      if (name.empty()) return refuse(TemplateError::kSyntax, "empty parameter name");
      if (!std::all_of(name.begin(), name.end(), IsNameChar)) {
        return refuse(TemplateError::kBadParameterName,
                      "parameter name with characters other than [A-Za-z0-9_]");
      }
      Piece piece;
      piece.is_param = true;
      if (conv == "str") {
        piece.convertor = Convertor::kStr;
      } else if (conv == "int") {
        piece.convertor = Convertor::kInt;
      } else if (conv == "float") {
        piece.convertor = Convertor::kFloat;
      } else if (conv == "uuid") {
        piece.convertor = Convertor::kUuid;
      } else if (conv == "path") {
        piece.convertor = Convertor::kPath;
      } else {
        return refuse(TemplateError::kSyntax, "unknown convertor '" + Quote(conv) + "'");
      }
      if (!pieces.empty() && pieces.back().is_param) {
        // "{a}{b}" has no single meaning and would make matching backtrack.
        return refuse(TemplateError::kSyntax, "adjacent parameters");
      }
      pieces.push_back(std::move(piece));
      i = close + 1;
    }

    Segment seg;
    if (pieces.empty() || (pieces.size() == 1 && !pieces[0].is_param)) {
      seg.kind = Kind::kLiteral;
      seg.literal = pieces.empty() ? std::string() : pieces[0].literal;
      ++tmpl.literal_segments_;
      tmpl.rank_.push_back(4);
    } else if (pieces.size() == 1) {
      seg.convertor = pieces[0].convertor;
      seg.kind = seg.convertor == Convertor::kPath ? Kind::kRest : Kind::kParam;
      tmpl.rank_.push_back(seg.kind == Kind::kRest ? 0 : seg.convertor == Convertor::kStr ? 1 : 2);
    } else {
      for (const Piece& p : pieces) {
        if (p.is_param && p.convertor == Convertor::kPath) {
          return refuse(TemplateError::kSyntax, "':path' must be a whole segment");
        }
      }
      seg.kind = Kind::kMixed;
      seg.pieces = std::move(pieces);
      tmpl.rank_.push_back(3);
    }
    if (seg.kind == Kind::kRest) tmpl.rests_.push_back(tmpl.segments_.size());
    tmpl.segments_.push_back(std::move(seg));
  }
  return tmpl;
}

bool RouteTemplate::Accepts(Convertor convertor, std::string_view text) {
  switch (convertor) {
    case Convertor::kStr:
      return !text.empty();
    case Convertor::kInt:
      return AllDigits(text);
    case Convertor::kFloat: {  // Starlette: [0-9]+(\.[0-9]+)?
      size_t dot = text.find('.');
      if (dot == std::string_view::npos) return AllDigits(text);
      return AllDigits(text.substr(0, dot)) && AllDigits(text.substr(dot + 1));
    }
    case Convertor::kUuid: {  // Starlette accepts lower-case hex only
      if (text.size() != 36) return false;
      for (size_t i = 0; i < text.size(); ++i) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? text[i] != '-' : !IsLowerHex(text[i])) return false;
      }
      return true;
    }
    case Convertor::kPath:
      return true;
  }
  return false;
}

bool RouteTemplate::MatchPieces(const std::vector<Piece>& pieces, size_t piece,
                                std::string_view text, MatchBudget& budget) {
  if (piece == pieces.size()) return text.empty();
  const Piece& p = pieces[piece];
  if (!p.is_param) {
    return text.substr(0, p.literal.size()) == p.literal &&
           MatchPieces(pieces, piece + 1, text.substr(p.literal.size()), budget);
  }
  if (piece + 1 == pieces.size()) return Accepts(p.convertor, text);
  // Parse guarantees a literal follows: try each place it occurs. With
  // several parameters in one segment this backtracks (as Starlette's regex
  // does); each split tried is a step, so the budget bounds it.
  const std::string& next = pieces[piece + 1].literal;
  for (size_t at = text.find(next, 1); at != std::string_view::npos; at = text.find(next, at + 1)) {
    if (!budget.Spend()) return false;
    if (Accepts(p.convertor, text.substr(0, at)) &&
        MatchPieces(pieces, piece + 1, text.substr(at), budget))
      return true;
  }
  return false;
}

bool RouteTemplate::MatchSegment(const Segment& seg, std::string_view text, MatchBudget& budget) {
  switch (seg.kind) {
    case Kind::kLiteral:
      return text == seg.literal;
    case Kind::kParam:
      return Accepts(seg.convertor, text);
    case Kind::kMixed:
      return MatchPieces(seg.pieces, 0, text, budget);
    case Kind::kRest:
      return true;
  }
  return false;
}

bool RouteTemplate::MatchRun(size_t begin, size_t end, const std::vector<std::string_view>& path,
                             size_t at, MatchBudget& budget) const {
  for (size_t i = begin; i < end; ++i, ++at) {
    if (!budget.Spend() || !MatchSegment(segments_[i], path[at], budget)) return false;
  }
  return true;
}

// Every segment but a ':path' one takes exactly one path segment; a ':path'
// takes one or more, whatever they hold. So the template is runs of
// one-to-one segments separated by ':path' wildcards, the first run anchored
// at the start and the last at the end, and placing each middle run at its
// leftmost fit is exact (as for '*' in glob patterns): a leftmost run leaves
// the most room to everything after it, and the wildcards accept anything.
// That is one pass per run — at most segments(path) * segments(template)
// steps — where trying every split of the path among the ':path' parameters
// is exponential in their number.
bool RouteTemplate::Matches(const std::vector<std::string_view>& path, MatchBudget& budget) const {
  if (!budget.Spend()) return false;
  const size_t n = path.size();
  const size_t m = segments_.size();
  if (rests_.empty()) return n == m && MatchRun(0, m, path, 0, budget);
  if (n < m) return false;  // each ':path' needs at least one segment

  if (!MatchRun(0, rests_.front(), path, 0, budget)) return false;
  size_t at = rests_.front();  // where the current ':path' starts in path
  for (size_t k = 0; k + 1 < rests_.size(); ++k) {
    const size_t begin = rests_[k] + 1;
    const size_t end = rests_[k + 1];
    const size_t len = end - begin;
    const size_t after = m - end;  // template segments left, one path segment each at least
    bool placed = false;
    for (size_t q = at + 1; q + len + after <= n; ++q) {
      if (MatchRun(begin, end, path, q, budget)) {
        at = q + len;
        placed = true;
        break;
      }
      if (budget.exhausted()) return false;
    }
    if (!placed) return false;
  }
  const size_t last = rests_.back();
  const size_t suffix = m - last - 1;
  if (n - suffix < at + 1) return false;  // the last ':path' would be empty
  return MatchRun(last + 1, m, path, n - suffix, budget);
}

bool RouteTemplate::Matches(const std::vector<std::string_view>& segments) const {
  MatchBudget budget(kMaxMatchSteps);
  return Matches(segments, budget);
}

bool RouteTemplate::MoreSpecificThan(const RouteTemplate& other) const {
  if (literal_segments_ != other.literal_segments_) {
    return literal_segments_ > other.literal_segments_;
  }
  return other.rank_ < rank_;
}

}  // namespace perfd
