// Text from perfd's answers is shown on a terminal, and much of it comes from
// the traced applications (route templates from their OpenAPI documents,
// Python function and file names from their memory, command lines). A
// hostile name must not be able to move the cursor, clear the screen, set the
// window title or hide text with escape sequences, so everything perfctl
// prints as text goes through EscapeForTerminal.
#pragma once

#include <string>

namespace perfd::cli {

// Valid UTF-8 made only of printable characters comes back unchanged
// (including '\\': the escapes below are for safety, not for round trips).
// Otherwise:
//   - C0 controls and DEL (tab, newline and ESC included): "\x1b";
//   - bytes that are not valid UTF-8 (stray continuation bytes, overlong
//     forms, surrogates, code points past U+10FFFF, sequences cut short),
//     one byte at a time: "\xff";
//   - C1 controls (U+0080..U+009F, which some terminals obey like ESC) and
//     the invisible format characters that reorder or hide text (bidi
//     embeddings/overrides/isolates, zero-width characters, line/paragraph
//     separators, BOM): "\u202e".
std::string EscapeForTerminal(const std::string& text);

}  // namespace perfd::cli
