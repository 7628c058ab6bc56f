// Static memory plan for a compiled step: every transient value (activation,
// temporary, gradient) gets an offset in one arena, and two values share
// bytes only if their lifetimes do not overlap. Persistent values
// (parameters, optimizer state, running statistics) are planned apart, since
// they live across steps.
#pragma once

#include <cstdint>
#include <vector>

namespace vkcnn::graph {

struct Lifetime {
    uint64_t bytes = 0;
    uint32_t first = 0; // position of the step that writes it first
    uint32_t last = 0;  // position of the last step that reads it (>= first)
};

struct MemoryPlan {
    std::vector<uint64_t> offsets; // per value, into the arena
    uint64_t arena_bytes = 0;      // what the plan needs
    uint64_t naive_bytes = 0;      // the sum of all values, i.e. no reuse (each aligned)
};

// Greedy by size: the largest values are placed first, each at the lowest
// aligned offset that does not collide with an already-placed value whose
// lifetime overlaps. Deterministic (ties broken by index). `alignment` must be
// a power of two. Values of 0 bytes take no space (offset 0): callers pass
// one list indexed by value id and leave values planned elsewhere empty.
MemoryPlan plan_memory(const std::vector<Lifetime>& values, uint64_t alignment);

// No reuse at all: values laid out one after another (the debug schedule).
MemoryPlan plan_memory_without_reuse(const std::vector<Lifetime>& values, uint64_t alignment);

} // namespace vkcnn::graph
