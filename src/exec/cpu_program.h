// A compiled step on the CPU backend: values in host memory (transients
// packed into an arena by the same memory plan as on a GPU), nodes run in
// order through the op's CPU kernel. Reference executor for the Vulkan one,
// and what the browser build runs.
#pragma once

#include "vkcnn/cpu/thread_pool.h"
#include "vkcnn/graph/compile.h"

#include <span>
#include <string_view>
#include <vector>

namespace vkcnn::exec {

class CpuProgram {
public:
    CpuProgram(graph::Plan plan, cpu::ThreadPool& pool);

    void write(std::string_view name, std::span<const float> data); // inputs and persistent values
    std::vector<float> read(std::string_view name) const;            // feeds, persistent and kept values
    void run();

    const graph::Plan& plan() const { return plan_; }
    uint64_t arena_bytes() const { return memory_.arena_bytes; }

private:
    std::span<float> span_of(graph::ValueId v);

    graph::Plan plan_;
    cpu::ThreadPool& pool_;
    graph::MemoryPlan memory_;                 // transient values in arena_
    std::vector<float> arena_;
    std::vector<std::vector<float>> own_;      // feeds and persistent values, per value id
};

} // namespace vkcnn::exec
