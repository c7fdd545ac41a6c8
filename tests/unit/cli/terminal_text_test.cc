#include "cli/terminal_text.h"

#include <gtest/gtest.h>

namespace perfd::cli {
namespace {

TEST(EscapeForTerminal, PrintableUtf8IsUnchanged) {
  for (const std::string text :
       {"", "GET /users/{user_id}", "850µs", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80",
        "a\\x1b literal backslash", "~!@#$%^&*()_+`-=[]{}|;':\",./<>?"}) {
    EXPECT_EQ(EscapeForTerminal(text), text);
  }
}

TEST(EscapeForTerminal, ControlCharactersAreEscaped) {
  EXPECT_EQ(EscapeForTerminal("/a\x1b[2J\x1b]0;owned\x07"), "/a\\x1b[2J\\x1b]0;owned\\x07");
  EXPECT_EQ(EscapeForTerminal(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(EscapeForTerminal("\t\n\r\x7f"), "\\x09\\x0a\\x0d\\x7f");
}

TEST(EscapeForTerminal, InvalidUtf8IsEscapedBytewise) {
  EXPECT_EQ(EscapeForTerminal("\xff"), "\\xff");
  EXPECT_EQ(EscapeForTerminal("a\x80z"), "a\\x80z");                         // stray continuation
  EXPECT_EQ(EscapeForTerminal("\xc0\xaf"), "\\xc0\\xaf");                    // overlong '/'
  EXPECT_EQ(EscapeForTerminal("\xed\xa0\x80"), "\\xed\\xa0\\x80");           // surrogate U+D800
  EXPECT_EQ(EscapeForTerminal("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // > U+10FFFF
  // Cut short: the lead byte is escaped and the next character survives.
  EXPECT_EQ(EscapeForTerminal("\xe2\x82z\xc3\xa9"), "\\xe2\\x82z\xc3\xa9");
  EXPECT_EQ(EscapeForTerminal("end\xe2\x82"), "end\\xe2\\x82");
}

TEST(EscapeForTerminal, HiddenCodePointsAreEscaped) {
  EXPECT_EQ(EscapeForTerminal("a\xc2\x9b"
                              "31mb"),
            "a\\u009b31mb");  // C1 CSI
  EXPECT_EQ(EscapeForTerminal("abc\xe2\x80\xae"
                              "cba"),
            "abc\\u202ecba");                                   // RTL override
  EXPECT_EQ(EscapeForTerminal("x\xe2\x80\x8by"), "x\\u200by");  // zero-width space
  EXPECT_EQ(EscapeForTerminal("\xe2\x81\xa6z"), "\\u2066z");    // LR isolate
  EXPECT_EQ(EscapeForTerminal("\xef\xbb\xbfz"), "\\ufeffz");    // BOM
}

}  // namespace
}  // namespace perfd::cli
