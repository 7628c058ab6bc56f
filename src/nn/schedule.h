// Learning-rate schedules, as torch.optim.lr_scheduler, evaluated per step:
// the trainer writes the rate into the step scalars, so the recording stays.
#pragma once

#include <cstdint>
#include <string_view>

namespace vkcnn::nn {

struct Schedule {
    enum Kind : uint8_t { Constant, Step, Cosine } kind = Constant;
    double lr = 0.05;               // the base rate
    uint64_t step_size = 0;         // Step: multiply by gamma every step_size steps
    double gamma = 0.1;             // Step
    double min_lr = 0.0;            // Cosine: the rate reached at the last step
    uint64_t warmup_steps = 0;      // linear from lr / warmup_steps up to lr, then the schedule
};

// The rate for step t (1-based) of `total` steps. Throws for a bad schedule.
double learning_rate(const Schedule& s, uint64_t t, uint64_t total);

// "constant", "step", "cosine".
Schedule::Kind schedule_kind(std::string_view name);

} // namespace vkcnn::nn
