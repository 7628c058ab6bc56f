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

    // Inputs and persistent values, before a run; the element type must be the value's.
    void write(std::string_view name, std::span<const float> data);
    void write(std::string_view name, std::span<const int32_t> data); // i32 values: class labels
    // Feeds, persistent and kept values, after a run.
    std::vector<float> read(std::string_view name) const;
    std::vector<int32_t> read_i32(std::string_view name) const;
    void run();

    const graph::Plan& plan() const { return plan_; }
    uint64_t arena_bytes() const { return memory_.arena_bytes; }

private:
    void write_bytes(std::string_view name, std::span<const std::byte> data, size_t elements, DType dtype);
    void read_bytes(std::string_view name, std::span<std::byte> data, size_t elements, DType dtype) const;
    size_t elements_of(std::string_view name) const;
    std::span<float> span_of(graph::ValueId v);

    graph::Plan plan_;
    cpu::ThreadPool& pool_;
    graph::MemoryPlan memory_;                 // transient values in arena_
    std::vector<float> arena_;
    std::vector<std::vector<float>> own_;      // feeds and persistent values, per value id
};

} // namespace vkcnn::exec
