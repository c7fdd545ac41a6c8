// `perfctl blocking` rendering: pure functions from a GetBlockingResponse to
// text, so the layout (and what it says when there is nothing to show) is
// unit tested without a daemon.
#pragma once

#include <string>

#include "perfd/v1/perfd.pb.h"

namespace perfd::cli {

struct BlockingTableOptions {
  std::string route;    // the --route filter as asked ("" = all), for the header
  bool stacks = false;  // --stacks: each row followed by its stack
};

// "offcpu" sites by their largest blocked reason ("offcpu:sleep",
// "offcpu:lock", "offcpu:io", "offcpu:other"; "offcpu" when none was
// recorded); "oncpu" and "runnable" as they are.
std::string KindLabel(const v1::BlockingSite& site);

// Header (service, window, route filter, threshold, events, total), then a
// line when sampling is off (sites need its stacks), a blank line, and
// ROUTE / KIND / EVENTS / TOTAL / MAX / VICTIMS / ADDED WAIT / SITE in the
// server's order (total time, largest first). With stacks, each row is
// followed by its stack, leaf first, one "function (file:line)" per line,
// indented. Tracing off, or no event in the window: the header and one line
// saying so instead of the table. Everything from the traced applications
// is escaped for the terminal.
std::string RenderBlockingTable(const v1::GetBlockingResponse& blocking,
                                const BlockingTableOptions& options);

}  // namespace perfd::cli
