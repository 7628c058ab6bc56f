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
    virtual void run() = 0;

    const graph::Plan& plan() const { return plan_; }

protected:
    explicit Program(graph::Plan plan) : plan_(std::move(plan)) {}
    // The value's bytes, after the name, kind, size and type were checked.
    virtual void write_bytes(graph::ValueId v, std::span<const std::byte> data) = 0;
    virtual void read_bytes(graph::ValueId v, std::span<std::byte> data) const = 0;

    graph::Plan plan_;

private:
    size_t elements_of(std::string_view name) const;
};

} // namespace vkcnn::exec
