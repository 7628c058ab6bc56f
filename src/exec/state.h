// The values a network keeps from one run to the next — parameters,
// batch-norm running statistics, optimizer state — held once per backend
// and shared by name among every Program bound to it: the training step,
// evaluation at any batch size, prediction and every inspection program use
// the same memory, so nothing crosses the host to evaluate the live weights.
//
// A Program binds to a State when it is built (exec::CpuProgram,
// exec::VulkanProgram): each persistent value of its plan is looked up by
// name (its shape must match the one already there, or the error names both)
// and the values the State lacks are added, zero-filled, in one block of
// their own. Programs keep the State alive (shared_ptr).
//
// Ordering: programs that share a State run in the order they are started
// (one queue on Vulkan, with a barrier at the start of every step), so an
// evaluation started after a training step sees that step's update without
// the host waiting. read() and write() from the host wait for every step in
// flight of every bound program; a Snapshot (program.h) reads without that.
#pragma once

#include "vkcnn/core/tensor.h"
#include "vkcnn/graph/graph.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vkcnn::graph {
struct Plan;
}

namespace vkcnn::exec {

class Program;

struct StateValue {
    std::string name;
    Shape shape;
    graph::Role role; // Parameter, RunningStat or OptimizerState
};

class State {
public:
    virtual ~State() = default;
    State(const State&) = delete;
    State& operator=(const State&) = delete;

    bool contains(std::string_view name) const { return index_.find(name) != index_.end(); }
    // In the order they were added; throws naming the value if absent.
    const std::vector<StateValue>& values() const { return values_; }
    const StateValue& value(std::string_view name) const { return values_[index_of(name)]; }
    // Host access by name (sizes checked): waits for every bound program's steps in flight.
    std::vector<float> read(std::string_view name) const;
    void write(std::string_view name, std::span<const float> data);
    // Waits for every step in flight of every program bound to this State.
    void settle() const;
    // Adds the values not present yet, zero-filled, in one new block; the
    // ones present must have the shape given (the error names both).
    void add(std::span<const StateValue> values);
    // Bytes of every value, as allocated (alignment included on a GPU).
    uint64_t bytes() const { return bytes_; }

protected:
    State() = default;
    // Allocates one zero-filled block for entries [first, values().size()),
    // which add_values() has just appended; returns each one's offset in it.
    virtual std::vector<uint64_t> allocate_block(size_t first) = 0;
    virtual void write_entry(size_t entry, std::span<const std::byte> data) = 0;
    virtual void read_entry(size_t entry, std::span<std::byte> data) const = 0;

    struct Location {
        size_t block = 0;
        uint64_t offset = 0; // bytes into the block
    };
    const Location& location(size_t entry) const { return locations_[entry]; }
    size_t index_of(std::string_view name) const;
    uint64_t bytes_ = 0;

private:
    friend class Program;
    // Every persistent value of `plan` present (the missing ones added in
    // one new block); returns the entry of each value id (SIZE_MAX where not
    // persistent). The program is registered for settle() until unbind().
    std::vector<size_t> bind(const graph::Plan& plan, Program& program);
    void unbind(const Program& program);

    std::vector<StateValue> values_;
    std::vector<Location> locations_;
    std::map<std::string, size_t, std::less<>> index_;
    size_t blocks_ = 0;
    std::vector<Program*> programs_;
};

// Host memory, for the CPU backend (and the browser).
class CpuState final : public State {
public:
    CpuState() = default;
    std::span<float> span(size_t entry);

private:
    std::vector<uint64_t> allocate_block(size_t first) override;
    void write_entry(size_t entry, std::span<const std::byte> data) override;
    void read_entry(size_t entry, std::span<std::byte> data) const override;
    std::vector<std::vector<float>> blocks_;
};

} // namespace vkcnn::exec
