// Level assignment from byte-range hazards (see hazards.h).
#include "vkcnn/core/hazards.h"

#include <algorithm>

namespace vkcnn {

namespace {

bool any_overlap(const std::vector<ByteRange>& a, const std::vector<ByteRange>& b) {
    for (const ByteRange& x : a)
        for (const ByteRange& y : b)
            if (x.overlaps(y)) return true;
    return false;
}

} // namespace

bool must_wait(const DispatchAccess& later, const DispatchAccess& earlier) {
    return any_overlap(later.reads, earlier.writes)     // RAW
           || any_overlap(later.writes, earlier.writes) // WAW
           || any_overlap(later.writes, earlier.reads); // WAR
}

BarrierPlan plan_barriers(const std::vector<DispatchAccess>& dispatches) {
    BarrierPlan plan;
    const size_t n = dispatches.size();
    plan.level.assign(n, 0);
    uint32_t levels = 0;
    for (size_t j = 0; j < n; ++j) {
        for (size_t i = 0; i < j; ++i)
            if (plan.level[i] >= plan.level[j] && must_wait(dispatches[j], dispatches[i]))
                plan.level[j] = plan.level[i] + 1;
        levels = std::max(levels, plan.level[j] + 1);
    }
    plan.order.resize(n);
    for (uint32_t i = 0; i < n; ++i) plan.order[i] = i;
    std::stable_sort(plan.order.begin(), plan.order.end(),
                     [&](uint32_t a, uint32_t b) { return plan.level[a] < plan.level[b]; });
    plan.level_begin.assign(levels + 1, static_cast<uint32_t>(n));
    for (uint32_t k = static_cast<uint32_t>(n); k-- > 0;) plan.level_begin[plan.level[plan.order[k]]] = k;
    if (n == 0) plan.level_begin = {0, 0};
    return plan;
}

} // namespace vkcnn
