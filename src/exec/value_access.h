// Checks shared by the executors when the host reads or writes a value of a
// compiled step by name: the name exists, the value may be accessed that way,
// and the sizes match. Errors name the value, its shape and what was given.
#pragma once

#include "vkcnn/graph/compile.h"

#include <string_view>

namespace vkcnn::exec {

// A value the host may write: an input (each run) or a persistent value
// (initial parameters, restored optimizer state). `elements` must match.
graph::ValueId writable_value(const graph::Plan& plan, std::string_view name, size_t elements, DType dtype);

// A value the host may read after a run: feeds, persistent values, and kept
// transient values. `elements` and `dtype` must match.
graph::ValueId readable_value(const graph::Plan& plan, std::string_view name, size_t elements, DType dtype);

} // namespace vkcnn::exec
