// Column layout for perfctl's tables: widths from the widest cell, two
// spaces between columns, numbers right-aligned. Widths count code points,
// so "850µs" lines up with ASCII cells. Cells are escaped for the terminal
// (cli/terminal_text.h) here, so no table can forget to: route, function and
// service names come from the traced applications.
#pragma once

#include <string>
#include <vector>

namespace perfd::cli {

class TextTable {
 public:
  enum class Align { kLeft, kRight };
  struct Column {
    std::string header;
    Align align;
  };

  explicit TextTable(std::vector<Column> columns);
  // Missing cells render empty; extra cells are ignored. Control characters
  // and invalid UTF-8 in a cell are shown escaped (EscapeForTerminal).
  void AddRow(std::vector<std::string> cells);
  // Header then rows, each line ending in '\n', no trailing spaces.
  std::string Render() const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// Display width of UTF-8 text (code points; perfctl prints no wide glyphs).
size_t DisplayWidth(const std::string& utf8);

}  // namespace perfd::cli
