// Learning-rate schedules (see schedule.h).
#include "vkcnn/nn/schedule.h"

#include "vkcnn/core/error.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace vkcnn::nn {

double learning_rate(const Schedule& s, uint64_t t, uint64_t total) {
    check(t >= 1, "learning_rate: steps count from 1");
    check(s.lr > 0 && std::isfinite(s.lr), "learning rate must be positive, got ", s.lr);
    if (s.warmup_steps > 0 && t <= s.warmup_steps)
        return s.lr * static_cast<double>(t) / static_cast<double>(s.warmup_steps);
    const uint64_t k = t - 1 - std::min(t - 1, s.warmup_steps); // steps since warm-up, from 0
    switch (s.kind) {
    case Schedule::Constant: return s.lr;
    case Schedule::Step:
        check(s.step_size > 0, "the step schedule needs a step size");
        return s.lr * std::pow(s.gamma, static_cast<double>(k / s.step_size));
    case Schedule::Cosine: { // CosineAnnealingLR over the steps after warm-up
        const uint64_t span = total > s.warmup_steps + 1 ? total - s.warmup_steps - 1 : 1;
        const double progress = std::min(1.0, static_cast<double>(k) / static_cast<double>(span));
        return s.min_lr + (s.lr - s.min_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
    }
    }
    return s.lr;
}

Schedule::Kind schedule_kind(std::string_view name) {
    if (name == "constant") return Schedule::Constant;
    if (name == "step") return Schedule::Step;
    if (name == "cosine") return Schedule::Cosine;
    throw Error(cat("unknown schedule '", name, "'; schedules: constant, step, cosine"));
}

} // namespace vkcnn::nn
