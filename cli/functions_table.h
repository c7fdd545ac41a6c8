// `perfctl top --functions` rendering: a py-spy-style table of hot Python
// functions from a GetFunctionsResponse.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "perfd/v1/perfd.pb.h"

namespace perfd::cli {

enum class FunctionSortKey { kOwn, kTotal };

// "own", "total".
std::optional<FunctionSortKey> ParseFunctionSortKey(const std::string& name);
std::vector<std::string> FunctionSortKeyNames();

// Descending by own (or total) samples, ties by the other count, then by
// function, file and line.
std::vector<v1::FunctionStats> SortFunctions(const v1::GetFunctionsResponse& functions,
                                             FunctionSortKey key);

struct FunctionsTableOptions {
  FunctionSortKey sort = FunctionSortKey::kOwn;
  size_t limit = 30;  // 0: all functions
  std::string route;  // shown in the header; "" = all routes
};

// Header (service, window, route, samples and CPU seconds), a blank line,
// then %OWN / %TOTAL / OWNTIME / TOTALTIME / FUNCTION, percentages of all
// samples in the window.
std::string RenderFunctionsTable(const v1::GetFunctionsResponse& functions,
                                 const FunctionsTableOptions& options);

}  // namespace perfd::cli
