// Persistent values shared by the programs of one network (see state.h).
#include "vkcnn/exec/state.h"

#include "vkcnn/core/error.h"
#include "vkcnn/exec/program.h"
#include "vkcnn/graph/compile.h"

#include <algorithm>
#include <cstring>

namespace vkcnn::exec {

size_t State::index_of(std::string_view name) const {
    const auto it = index_.find(name);
    check(it != index_.end(), "the model's state has no value named '", name, "'");
    return it->second;
}

void State::add(std::span<const StateValue> values) {
    const size_t first = values_.size();
    for (const StateValue& value : values) {
        if (const auto it = index_.find(value.name); it != index_.end()) {
            const StateValue& have = values_[it->second];
            check(have.shape == value.shape, "state value '", value.name, "' has shape ", have.shape.str(),
                  " in the model's state, but this program's graph makes it ", value.shape.str(),
                  " (a program of another model?)");
            continue;
        }
        index_.emplace(value.name, values_.size());
        values_.push_back(value);
    }
    if (values_.size() == first) return;
    const std::vector<uint64_t> offsets = allocate_block(first);
    for (uint64_t offset : offsets) locations_.push_back({blocks_, offset});
    ++blocks_;
}

std::vector<size_t> State::bind(const graph::Plan& plan, Program& program) {
    const graph::Graph& g = plan.graph;
    std::vector<StateValue> wanted;
    for (graph::ValueId v = 0; v < g.value_count(); ++v) {
        if (plan.storage[v] != graph::Storage::Persistent || plan.home[v] != v) continue;
        const graph::Value& value = g.value(v);
        check(value.dtype == DType::F32, "state value '", value.name, "' is ", dtype_name(value.dtype),
              ": persistent values are f32");
        wanted.push_back({value.name, value.shape, value.role});
    }
    add(wanted);
    std::vector<size_t> entries(g.value_count(), SIZE_MAX);
    for (graph::ValueId v = 0; v < g.value_count(); ++v)
        if (plan.storage[v] == graph::Storage::Persistent && plan.home[v] == v) entries[v] = index_of(g.value(v).name);
    programs_.push_back(&program);
    return entries;
}

void State::unbind(const Program& program) { std::erase(programs_, &program); }

void State::settle() const {
    for (Program* p : programs_) p->settle();
}

std::vector<float> State::read(std::string_view name) const {
    const size_t entry = index_of(name);
    std::vector<float> out(static_cast<size_t>(values_[entry].shape.elements()));
    settle();
    read_entry(entry, std::as_writable_bytes(std::span(out)));
    return out;
}

void State::write(std::string_view name, std::span<const float> data) {
    const size_t entry = index_of(name);
    const StateValue& v = values_[entry];
    check(static_cast<int64_t>(data.size()) == v.shape.elements(), "cannot write '", name, "': it has shape ",
          v.shape.str(), " (", v.shape.elements(), " elements), ", data.size(), " were given");
    settle();
    write_entry(entry, std::as_bytes(data));
}

std::vector<uint64_t> CpuState::allocate_block(size_t first) {
    std::vector<uint64_t> offsets;
    uint64_t floats = 0;
    for (size_t i = first; i < values().size(); ++i) {
        offsets.push_back(floats * sizeof(float));
        floats += static_cast<uint64_t>(values()[i].shape.elements());
    }
    blocks_.emplace_back(static_cast<size_t>(floats), 0.0f); // a moved vector keeps its memory: spans stay valid
    bytes_ += floats * sizeof(float);
    return offsets;
}

std::span<float> CpuState::span(size_t entry) {
    const Location& at = location(entry);
    return {blocks_[at.block].data() + at.offset / sizeof(float), static_cast<size_t>(values()[entry].shape.elements())};
}

void CpuState::write_entry(size_t entry, std::span<const std::byte> data) {
    std::memcpy(span(entry).data(), data.data(), data.size());
}

void CpuState::read_entry(size_t entry, std::span<std::byte> data) const {
    const Location& at = location(entry);
    std::memcpy(data.data(), blocks_[at.block].data() + at.offset / sizeof(float), data.size());
}

} // namespace vkcnn::exec
