// A compiled step, whichever backend runs it: values are written and read
// by name (inputs and persistent values before a run; anything the plan
// keeps after it), and run() executes the whole step. CpuProgram and
// VulkanProgram implement it; the trainer, the demos and the visualisations
// are written against this interface.
#pragma once

#include "vkcnn/graph/compile.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace vkcnn::exec {

// What one step handed back: its CompileOptions::results, by name.
class StepResults {
public:
    std::vector<float> read(std::string_view name) const;
    std::vector<int32_t> read_i32(std::string_view name) const;

private:
    friend class Program;
    std::span<const std::byte> bytes_of(std::string_view name, DType dtype) const;
    const graph::Plan* plan_ = nullptr;
    std::vector<std::vector<std::byte>> bytes_; // per Plan::results entry
};

class Program {
public:
    virtual ~Program() = default;
    Program(const Program&) = delete;
    Program& operator=(const Program&) = delete;

    // The element type must be the value's (i32 for class labels); sizes must match.
    void write(std::string_view name, std::span<const float> data);
    void write(std::string_view name, std::span<const int32_t> data);
    std::vector<float> read(std::string_view name) const;
    std::vector<int32_t> read_i32(std::string_view name) const;
    // Runs one step and waits for it.
    virtual void run() = 0;

    // Pipelined stepping, so that the host never waits for the device in the
    // middle of training: enqueue() starts a step on the inputs written so
    // far and returns at once; inputs written after it belong to the next
    // step (the Vulkan backend double-buffers them, so writing them does not
    // wait). finish() waits for the oldest enqueued step and returns its
    // results as that step left them. Reading or writing any other value
    // first waits for every enqueued step (their results stay collectable).
    void enqueue();
    StepResults finish();
    size_t in_flight() const { return in_flight_; }

    const graph::Plan& plan() const { return plan_; }

protected:
    explicit Program(graph::Plan plan) : plan_(std::move(plan)) {}
    // The value's bytes, after the name, kind, size and type were checked.
    virtual void write_bytes(graph::ValueId v, std::span<const std::byte> data) = 0;
    virtual void read_bytes(graph::ValueId v, std::span<std::byte> data) const = 0;
    virtual void enqueue_step() = 0;
    // The oldest enqueued step's results, per Plan::results entry.
    virtual std::vector<std::vector<std::byte>> finish_step() = 0;

    graph::Plan plan_;

private:
    size_t elements_of(std::string_view name) const;
    size_t in_flight_ = 0;
};

} // namespace vkcnn::exec
