// `perfctl blocking`: the table (header, KIND with the main off-CPU reason,
// server order), --stacks under each row, the lines for tracing off, no
// events and sampling off, hostile names escaped, protobuf JSON.
#include "cli/blocking_table.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli/json_output.h"

namespace perfd::cli {
namespace {

void AddFrame(v1::BlockingSite* s, const std::string& function, const std::string& file,
              uint32_t line) {
  v1::Frame* f = s->add_stack();
  f->set_function(function);
  f->set_file(file);
  f->set_line(line);
}

// The example of docs/PERFCTL.md.
v1::GetBlockingResponse SampleBlocking() {
  v1::GetBlockingResponse b;
  b.set_service("shop");
  b.set_window_seconds(60);
  b.set_traced(true);
  b.set_blocking_threshold_seconds(0.02);
  b.set_stacks(true);
  b.set_events(19);
  b.set_total_seconds(2.861);
  v1::BlockingSite* sleep = b.add_sites();
  sleep->set_route("GET /report");
  sleep->set_kind("offcpu");
  sleep->set_site("export_csv (shop/reports.py:88)");
  // A library frame above the application's: the site is the leaf-most
  // application frame, the stack starts at the leaf.
  AddFrame(sleep, "Retrying.call", "/venv/lib/retrying.py", 212);
  AddFrame(sleep, "export_csv", "shop/reports.py", 88);
  AddFrame(sleep, "report", "shop/views.py", 61);
  sleep->set_events(8);
  sleep->set_total_seconds(1.62);
  sleep->set_max_seconds(0.21);
  sleep->set_oncpu_seconds(0.02);
  sleep->set_blocked_sleep_seconds(1.6);
  sleep->set_victims(31);
  sleep->set_victim_wait_seconds(3.1);
  v1::BlockingSite* hash = b.add_sites();
  hash->set_route("POST /login");
  hash->set_kind("oncpu");
  hash->set_site("hash_password (shop/auth.py:12)");
  AddFrame(hash, "hash_password", "shop/auth.py", 12);
  AddFrame(hash, "login", "shop/views.py", 30);
  hash->set_stack_truncated(true);
  hash->set_events(10);
  hash->set_total_seconds(1.2);
  hash->set_max_seconds(0.152);
  hash->set_oncpu_seconds(1.15);
  hash->set_runnable_seconds(0.05);
  hash->set_victims(12);
  hash->set_victim_wait_seconds(0.48);
  v1::BlockingSite* bare = b.add_sites();
  bare->set_route("(unattributed)");
  bare->set_kind("runnable");
  bare->set_events(1);
  bare->set_total_seconds(0.041);
  bare->set_max_seconds(0.041);
  bare->set_runnable_seconds(0.041);
  return b;
}

TEST(BlockingTableTest, HeaderAndOneRowPerSiteInServerOrder) {
  EXPECT_EQ(
      RenderBlockingTable(SampleBlocking(), {}),
      "service shop   window 60s   route all   threshold 20.0ms   events 19   total 2.86s\n"
      "\n"
      "ROUTE           KIND          EVENTS   TOTAL     MAX  VICTIMS  ADDED WAIT  SITE\n"
      "GET /report     offcpu:sleep       8   1.62s   210ms       31       3.10s  "
      "export_csv (shop/reports.py:88)\n"
      "POST /login     oncpu             10   1.20s   152ms       12       480ms  "
      "hash_password (shop/auth.py:12)\n"
      "(unattributed)  runnable           1  41.0ms  41.0ms        0           0  (no stack)\n");
}

TEST(BlockingTableTest, StacksFollowTheirRowsLeafFirst) {
  BlockingTableOptions options;
  options.stacks = true;
  const std::string out = RenderBlockingTable(SampleBlocking(), options);
  EXPECT_EQ(
      out,
      "service shop   window 60s   route all   threshold 20.0ms   events 19   total 2.86s\n"
      "\n"
      "ROUTE           KIND          EVENTS   TOTAL     MAX  VICTIMS  ADDED WAIT  SITE\n"
      "GET /report     offcpu:sleep       8   1.62s   210ms       31       3.10s  "
      "export_csv (shop/reports.py:88)\n"
      "    Retrying.call (/venv/lib/retrying.py:212)\n"
      "    export_csv (shop/reports.py:88)\n"
      "    report (shop/views.py:61)\n"
      "POST /login     oncpu             10   1.20s   152ms       12       480ms  "
      "hash_password (shop/auth.py:12)\n"
      "    hash_password (shop/auth.py:12)\n"
      "    login (shop/views.py:30)\n"
      "    … (outermost frames missing)\n"
      "(unattributed)  runnable           1  41.0ms  41.0ms        0           0  (no stack)\n"
      "    (no stack)\n");
}

TEST(BlockingTableTest, OffCpuKindNamesItsLargestReason) {
  v1::BlockingSite s;
  s.set_kind("offcpu");
  EXPECT_EQ(KindLabel(s), "offcpu");  // no reason recorded
  s.set_blocked_sleep_seconds(0.01);
  s.set_blocked_lock_seconds(0.03);
  s.set_blocked_io_seconds(0.02);
  EXPECT_EQ(KindLabel(s), "offcpu:lock");
  s.set_blocked_io_seconds(0.05);
  EXPECT_EQ(KindLabel(s), "offcpu:io");
  s.set_blocked_other_seconds(0.09);
  EXPECT_EQ(KindLabel(s), "offcpu:other");
  s.set_kind("oncpu");
  EXPECT_EQ(KindLabel(s), "oncpu");
  s.set_kind("runnable");
  EXPECT_EQ(KindLabel(s), "runnable");
}

TEST(BlockingTableTest, TracingOffSaysSoInsteadOfATable) {
  v1::GetBlockingResponse b;
  b.set_service("shop");
  b.set_window_seconds(60);
  const std::string out = RenderBlockingTable(b, {});
  EXPECT_EQ(out.rfind("service shop   window 60s\n\nevent-loop tracing is off in this perfd (", 0),
            0u)
      << out;
  EXPECT_EQ(out.find("ROUTE"), std::string::npos) << out;
  EXPECT_EQ(out.find("no blocking events"), std::string::npos) << out;
}

TEST(BlockingTableTest, NothingInTheWindowSaysSoWithThresholdAndRoute) {
  v1::GetBlockingResponse b;
  b.set_service("shop");
  b.set_window_seconds(300);
  b.set_traced(true);
  b.set_stacks(true);
  b.set_blocking_threshold_seconds(0.05);
  EXPECT_EQ(RenderBlockingTable(b, {}),
            "service shop   window 300s   route all   threshold 50.0ms   events 0   total 0\n"
            "\n"
            "(no blocking events over 50.0ms in the last 300s)\n");
  BlockingTableOptions options;
  options.route = "GET /users/{id}";
  const std::string out = RenderBlockingTable(b, options);
  EXPECT_NE(out.find("(no blocking events over 50.0ms of GET /users/{id} in the last 300s)\n"),
            std::string::npos)
      << out;
}

TEST(BlockingTableTest, SamplingOffSaysStacksNeedIt) {
  v1::GetBlockingResponse b = SampleBlocking();
  b.set_stacks(false);
  for (auto& s : *b.mutable_sites()) {
    s.clear_stack();
    s.clear_site();
  }
  BlockingTableOptions options;
  options.stacks = true;
  const std::string out = RenderBlockingTable(b, options);
  const std::string second_line = out.substr(out.find('\n') + 1);
  EXPECT_EQ(second_line.rfind("stacks need Python sampling, which is off in this perfd", 0), 0u)
      << out;
  EXPECT_EQ(out.find("(shop/"), std::string::npos) << out;
  EXPECT_NE(out.find("offcpu:sleep       8   1.62s   210ms       31       3.10s  (no stack)\n"
                     "    (no stack)\n"),
            std::string::npos)
      << out;
  // With sampling on, no such line.
  EXPECT_EQ(RenderBlockingTable(SampleBlocking(), {}).find("Python sampling"), std::string::npos);
}

TEST(BlockingTableTest, HostileNamesAreEscapedEverywhere) {
  v1::GetBlockingResponse b = SampleBlocking();
  b.set_service("shop\x1b[2J");
  v1::BlockingSite* s = b.mutable_sites(0);
  s->set_route("GET /x\x1b]0;pwned\x07");
  s->set_site("f\xe2\x80\xae (evil.py:1)");  // U+202E: right-to-left override
  s->mutable_stack(1)->set_function("export\x1b[31m");
  s->mutable_stack(1)->set_file("a\nb.py");
  BlockingTableOptions options;
  options.stacks = true;
  options.route = "/x\x1b[H";
  const std::string out = RenderBlockingTable(b, options);
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
  EXPECT_EQ(out.find('\x07'), std::string::npos) << out;
  EXPECT_EQ(out.find("\xe2\x80\xae"), std::string::npos) << out;
  EXPECT_NE(out.find("service shop\\x1b[2J"), std::string::npos) << out;
  EXPECT_NE(out.find("route /x\\x1b[H"), std::string::npos) << out;
  EXPECT_NE(out.find("GET /x\\x1b]0;pwned\\x07"), std::string::npos) << out;
  EXPECT_NE(out.find("f\\u202e (evil.py:1)"), std::string::npos) << out;
  EXPECT_NE(out.find("    export\\x1b[31m (a\\x0ab.py:88)\n"), std::string::npos) << out;
  // Still one line per row and frame: 3 header lines, 3 rows, 3 + 3 + 1 stack lines.
  size_t lines = 0;
  for (char c : out) lines += c == '\n';
  EXPECT_EQ(lines, 13u) << out;
}

TEST(BlockingTableTest, JsonIsTheProtobufMapping) {
  const std::string json = ToJson(SampleBlocking());
  EXPECT_NE(json.find("\"blockingThresholdSeconds\":0.02"), std::string::npos) << json;
  EXPECT_NE(json.find("\"events\":\"19\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"kind\":\"offcpu\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"blockedSleepSeconds\":1.6"), std::string::npos) << json;
  EXPECT_NE(json.find("\"victimWaitSeconds\":3.1"), std::string::npos) << json;
  EXPECT_NE(json.find("\"stackTruncated\":true"), std::string::npos) << json;
  EXPECT_NE(json.find("\"stack\":[{\"function\":\"Retrying.call\""), std::string::npos) << json;
  EXPECT_EQ(json.back(), '\n');
}

}  // namespace
}  // namespace perfd::cli
