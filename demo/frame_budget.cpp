// The training work per frame (see frame_budget.h).
#include "frame_budget.h"

#include <algorithm>

namespace demo {

void FrameBudget::update(double ms) {
    if (ms > 0.95 * target_ms_) budget_ *= 0.85;
    else if (ms < 0.8 * target_ms_) budget_ *= 1.1;
    budget_ = std::clamp(budget_, step_flops_ / 256, step_flops_);
}

} // namespace demo
