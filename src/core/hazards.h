// Barriers from hazards, not habit (used by the Vulkan recorder and the
// step compiler alike). Given the byte ranges each dispatch of a
// step reads and writes, a dispatch must wait for an earlier one only if
//   RAW: it reads bytes the earlier one writes,
//   WAW: it writes bytes the earlier one writes, or
//   WAR: it writes bytes the earlier one reads (the optimizer overwriting a
//        weight the forward pass read; a reused arena range).
// Each dispatch gets a level one above the highest level it must wait for;
// dispatches of one level are independent, run in any order, and one global
// memory barrier between consecutive levels orders all of them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vkcnn {

struct ByteRange {
    uint64_t buffer = 0; // which buffer (an id, or a VkBuffer handle's value)
    uint64_t begin = 0, end = 0;
    bool overlaps(const ByteRange& o) const { return buffer == o.buffer && begin < o.end && o.begin < end; }
};

struct DispatchAccess {
    std::vector<ByteRange> reads, writes;
};

struct BarrierPlan {
    std::vector<uint32_t> level;        // per dispatch, in the input order
    std::vector<uint32_t> order;        // dispatches sorted by level, stable within a level
    std::vector<uint32_t> level_begin;  // order[level_begin[l] .. level_begin[l+1]) is level l
    size_t barriers() const { return level_begin.empty() ? 0 : level_begin.size() - 2; } // between levels
};

// `dispatches` in a valid sequential order (e.g. topological).
BarrierPlan plan_barriers(const std::vector<DispatchAccess>& dispatches);

// Is there a RAW, WAW or WAR hazard from `earlier` to `later`?
bool must_wait(const DispatchAccess& later, const DispatchAccess& earlier);

} // namespace vkcnn
