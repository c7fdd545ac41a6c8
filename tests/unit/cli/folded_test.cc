#include "cli/folded.h"

#include <gtest/gtest.h>

#include "cli/frame_label.h"
#include "tests/unit/cli/sample_profile.h"

namespace perfd::cli {
namespace {

TEST(FrameLabel, Shapes) {
  EXPECT_EQ(FrameLabel("get", "users.py", 12), "get (users.py:12)");
  EXPECT_EQ(FrameLabel("get", "users.py", 0), "get (users.py)");
  EXPECT_EQ(FrameLabel("[stack table full]", "", 0), "[stack table full]");
  EXPECT_EQ(FrameLabel("", "x.py", 1), "? (x.py:1)");
}

TEST(Folded, RootFirstSortedWithTruncatedRootAndSeparatorReplaced) {
  EXPECT_EQ(ToFolded(SampleProfile()),
            "[truncated];UserService.get (users.py:12);serialize (ser.py:22) 4\n"
            "main (app.py:5);UserService.get (users.py:12);serialize (ser.py:22) 30\n"
            "main (app.py:5);UserService.get (users.py:13) 10\n"
            "main (app.py:5);weird,name (w.py:3) 2\n");
}

TEST(Folded, ControlCharactersInFrameNamesAreEscaped) {
  v1::GetProfileResponse p = SampleProfile();
  p.mutable_frames(0)->set_function("main\x1b[2J\x1b]0;x\x07");
  const std::string out = ToFolded(p);
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
  EXPECT_NE(out.find("main\\x1b[2J\\x1b]0,x\\x07 (app.py:5);"), std::string::npos) << out;
}

TEST(Folded, SameLinesMergeAndBadInputStaysParseable) {
  v1::GetProfileResponse p = SampleProfile();
  AddStack(&p, {2, 1, 0}, 5);  // prints like the first stack
  AddStack(&p, {0}, 0);        // no samples: no line
  AddStack(&p, {99, 0}, 1);    // index out of range
  AddStack(&p, {}, 3);         // no Python frame
  p.mutable_frames(0)->set_function("multi\nline");
  EXPECT_EQ(ToFolded(p),
            "? 3\n"
            "[truncated];UserService.get (users.py:12);serialize (ser.py:22) 4\n"
            "multi line (app.py:5);? 1\n"
            "multi line (app.py:5);UserService.get (users.py:12);serialize (ser.py:22) 35\n"
            "multi line (app.py:5);UserService.get (users.py:13) 10\n"
            "multi line (app.py:5);weird,name (w.py:3) 2\n");
  EXPECT_EQ(ToFolded(v1::GetProfileResponse()), "");
}

}  // namespace
}  // namespace perfd::cli
