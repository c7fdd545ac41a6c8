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

}  // namespace

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

std::optional<RouteTemplate> RouteTemplate::Parse(std::string_view text, std::string* error) {
  RouteTemplate tmpl;
  tmpl.text_ = std::string(text);
  for (std::string_view raw : SplitPath(text)) {
    std::vector<Piece> pieces;
    size_t i = 0;
    while (i < raw.size()) {
      if (raw[i] == '}') {
        SetError(error, "unbalanced '}' in route template: " + tmpl.text_);
        return std::nullopt;
      }
      if (raw[i] != '{') {
        size_t end = std::min(raw.find('{', i), raw.find('}', i));
        if (end == std::string_view::npos) end = raw.size();
        pieces.push_back(Piece{false, std::string(raw.substr(i, end - i)), Convertor::kStr});
        i = end;
        continue;
      }
      size_t close = raw.find('}', i);
      size_t nested = raw.find('{', i + 1);
      if (close == std::string_view::npos || nested < close) {
        SetError(error, "unbalanced '{' in route template: " + tmpl.text_);
        return std::nullopt;
      }
      std::string_view inside = raw.substr(i + 1, close - i - 1);
      std::string_view name = inside.substr(0, inside.find(':'));
      std::string_view conv =
          name.size() < inside.size() ? inside.substr(name.size() + 1) : std::string_view("str");
      if (name.empty()) {
        SetError(error, "empty parameter name in route template: " + tmpl.text_);
        return std::nullopt;
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
        SetError(error,
                 "unknown convertor '" + std::string(conv) + "' in route template: " + tmpl.text_);
        return std::nullopt;
      }
      if (!pieces.empty() && pieces.back().is_param) {
        // "{a}{b}" has no single meaning and would make matching backtrack.
        SetError(error, "adjacent parameters in route template: " + tmpl.text_);
        return std::nullopt;
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
          SetError(error, "':path' must be a whole segment in route template: " + tmpl.text_);
          return std::nullopt;
        }
      }
      seg.kind = Kind::kMixed;
      seg.pieces = std::move(pieces);
      tmpl.rank_.push_back(3);
    }
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
                                std::string_view text) {
  if (piece == pieces.size()) return text.empty();
  const Piece& p = pieces[piece];
  if (!p.is_param) {
    return text.substr(0, p.literal.size()) == p.literal &&
           MatchPieces(pieces, piece + 1, text.substr(p.literal.size()));
  }
  if (piece + 1 == pieces.size()) return Accepts(p.convertor, text);
  // Parse guarantees a literal follows: try each place it occurs.
  const std::string& next = pieces[piece + 1].literal;
  for (size_t at = text.find(next, 1); at != std::string_view::npos; at = text.find(next, at + 1)) {
    if (Accepts(p.convertor, text.substr(0, at)) && MatchPieces(pieces, piece + 1, text.substr(at)))
      return true;
  }
  return false;
}

bool RouteTemplate::MatchFrom(size_t segment, const std::vector<std::string_view>& path,
                              size_t at) const {
  for (; segment < segments_.size(); ++segment, ++at) {
    const Segment& seg = segments_[segment];
    if (seg.kind == Kind::kRest) {
      // Takes one or more whole segments; the last template segment takes
      // everything left, otherwise try each length.
      if (at >= path.size()) return false;
      if (segment + 1 == segments_.size()) return true;
      for (size_t end = at + 1; end < path.size(); ++end) {
        if (MatchFrom(segment + 1, path, end)) return true;
      }
      return false;
    }
    if (at >= path.size()) return false;
    std::string_view text = path[at];
    switch (seg.kind) {
      case Kind::kLiteral:
        if (text != seg.literal) return false;
        break;
      case Kind::kParam:
        if (!Accepts(seg.convertor, text)) return false;
        break;
      case Kind::kMixed:
        if (!MatchPieces(seg.pieces, 0, text)) return false;
        break;
      case Kind::kRest:
        break;
    }
  }
  return at == path.size();
}

bool RouteTemplate::Matches(const std::vector<std::string_view>& segments) const {
  return MatchFrom(0, segments, 0);
}

bool RouteTemplate::MoreSpecificThan(const RouteTemplate& other) const {
  if (literal_segments_ != other.literal_segments_) {
    return literal_segments_ > other.literal_segments_;
  }
  return other.rank_ < rank_;
}

}  // namespace perfd
