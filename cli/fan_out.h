// One call per node, all at once, each with its own deadline: a node that
// does not answer costs the command one deadline, not one per node.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "cli/nodes.h"

namespace perfd::cli {

template <typename Response>
struct NodeAnswer {
  const Node* node = nullptr;
  grpc::Status status;
  Response response;
};

// call(i, &response) asks nodes[i], on a thread per node; answers are in
// nodes' order.
template <typename Response>
std::vector<NodeAnswer<Response>> CallEach(
    const std::vector<Node>& nodes, const std::function<grpc::Status(size_t, Response*)>& call) {
  std::vector<NodeAnswer<Response>> answers(nodes.size());
  std::vector<std::thread> threads;
  threads.reserve(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    answers[i].node = &nodes[i];
    threads.emplace_back([&, i] { answers[i].status = call(i, &answers[i].response); });
  }
  for (auto& t : threads) t.join();
  return answers;
}

}  // namespace perfd::cli
