// Memory a compiled step will need, checked before anything is allocated.
#pragma once

#include "vkcnn/graph/compile.h"

#include <cstdint>
#include <string_view>

namespace vkcnn {
class Device;
}

namespace vkcnn::exec {

// What a compiled step needs, in bytes, estimated from its plan before
// anything is allocated, so that a batch too large is refused with a message
// saying so instead of a failed allocation deep inside (or a machine that
// swaps itself to a halt): the arena (activations, gradients and temporaries
// alive at once, packed as the memory plan packs them; the GPU's scratch for
// split reductions is not counted), the persistent values (parameters,
// optimizer state, running statistics) and the fed inputs (the batch).
struct MemoryEstimate {
    uint64_t arena = 0, persistent = 0, feeds = 0;
    uint64_t total() const { return arena + persistent + feeds; }
};
MemoryEstimate estimate_memory(const graph::Plan& plan);
// Throws OutOfMemoryError, naming `what` ("the training step at batch 64"),
// what it needs and what there is, when `need` does not fit: on Vulkan the
// device's largest device-local heap (and the host's three copies of the
// inputs the host's memory); on the CPU backend (nullptr) the whole step and
// a caller's copy of the inputs the host's memory. The host's memory is the
// physical memory, or less under an address-space limit (ulimit -v) or a
// cgroup's memory.max. Every Trainer checks its Programs so before it
// allocates them.
void check_memory(const MemoryEstimate& need, const Device* device, std::string_view what);

} // namespace vkcnn::exec
