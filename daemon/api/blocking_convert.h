// Turns a BlockingWindow snapshot into GetBlocking's answer: the route
// filter perfctl's other commands take, the site limit, each site's stack
// from the profiler's StackTable. Pure: the tests feed known snapshots.
#pragma once

#include <cstddef>
#include <string>

#include "daemon/aggregator/blocking_window.h"
#include "daemon/profile/stack_table.h"
#include "perfd/v1/perfd.pb.h"

namespace perfd {

// A route filter as users give it is "GET /users/{id}", a pseudo-route
// ("(no request)"), which the window matches itself, or a bare template
// "/users/{id}" for every method, which it cannot: for that, ask the window
// for all routes and keep the template's sites with KeepTemplate.
bool IsBareTemplate(const std::string& filter);
// Keeps the sites of "METHOD <tmpl>" (any method) and recounts events and
// total_ns from them.
void KeepTemplate(const std::string& tmpl, BlockingWindowSnapshot* snapshot);

// One site; its stack from `stacks` (nullptr: none).
void SiteToProto(const BlockingSite& s, const StackTable* stacks, v1::BlockingSite* out);

// Fills stacks, events, total_seconds and at most `limit` sites (the
// snapshot's order: total time, largest first). stacks: the profiler's
// table, nullptr when sampling is off (then no site has a stack).
void BlockingToProto(const BlockingWindowSnapshot& snapshot, const StackTable* stacks, size_t limit,
                     v1::GetBlockingResponse* out);

}  // namespace perfd
