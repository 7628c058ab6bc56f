// Greedy-by-size arena planning (see memory_plan.h).
#include "vkcnn/graph/memory_plan.h"

#include "vkcnn/core/error.h"

#include <algorithm>
#include <numeric>

namespace vkcnn::graph {

namespace {

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

void check_input(const std::vector<Lifetime>& values, uint64_t alignment) {
    check(alignment > 0 && (alignment & (alignment - 1)) == 0, "plan_memory: alignment ", alignment,
          " is not a power of two");
    for (size_t i = 0; i < values.size(); ++i)
        check(values[i].first <= values[i].last, "plan_memory: value ", i, " is last used at ", values[i].last,
              " before it is written at ", values[i].first);
}

} // namespace

MemoryPlan plan_memory_without_reuse(const std::vector<Lifetime>& values, uint64_t alignment) {
    check_input(values, alignment);
    MemoryPlan plan;
    plan.offsets.resize(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
        plan.offsets[i] = values[i].bytes ? plan.arena_bytes : 0;
        plan.arena_bytes += align_up(values[i].bytes, alignment);
    }
    plan.naive_bytes = plan.arena_bytes;
    return plan;
}

MemoryPlan plan_memory(const std::vector<Lifetime>& values, uint64_t alignment) {
    check_input(values, alignment);
    MemoryPlan plan;
    plan.offsets.assign(values.size(), 0);
    std::vector<uint64_t> size(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
        size[i] = align_up(values[i].bytes, alignment);
        plan.naive_bytes += size[i];
    }
    std::vector<size_t> order(values.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return size[a] > size[b]; });

    struct Placed {
        uint64_t begin, end;
        size_t value;
    };
    std::vector<Placed> placed; // kept sorted by begin
    for (size_t v : order) {
        if (size[v] == 0) break; // sorted by size: only empty values remain, at offset 0
        // Candidate offsets: 0 and the end of every live-overlapping placed value,
        // scanned in address order: take the first gap that fits.
        uint64_t offset = 0;
        for (const Placed& p : placed) {
            const Lifetime &a = values[v], &b = values[p.value];
            const bool overlap_in_time = a.first <= b.last && b.first <= a.last;
            if (!overlap_in_time) continue;
            if (offset + size[v] <= p.begin) break; // fits in the gap before p
            offset = std::max(offset, p.end);
        }
        plan.offsets[v] = offset;
        plan.arena_bytes = std::max(plan.arena_bytes, offset + size[v]);
        const Placed entry{offset, offset + size[v], v};
        placed.insert(std::upper_bound(placed.begin(), placed.end(), entry,
                                       [](const Placed& x, const Placed& y) { return x.begin < y.begin; }),
                      entry);
    }
    return plan;
}

} // namespace vkcnn::graph
