// Order, storage classes, memory homes and lifetimes of a graph's values (see compile.h).
#include "vkcnn/graph/compile.h"

#include "vkcnn/core/error.h"
#include "vkcnn/graph/op_def.h"

#include <optional>

namespace vkcnn::graph {

namespace {

bool is_transient(const Value& v) { return v.role != Role::Input && !is_persistent(v.role); }

void check_updates(const Graph& graph) {
    for (uint32_t i = 0; i < graph.node_count(); ++i) {
        const Node& n = graph.node(i);
        for (uint32_t k = 0; k < op_def(n.op).updates; ++k) {
            const Value& target = graph.value(n.inputs[k]);
            check(is_persistent(target.role), "compile: node '", n.name, "' (", op_name(n.op), ") updates '", target.name,
                  "' in place, but its role is ", role_name(target.role),
                  ": only parameters, optimizer state and running statistics persist across steps");
        }
    }
}

} // namespace

Plan compile(Graph graph, const CompileOptions& options) {
    Plan plan;
    const size_t values = graph.value_count(), nodes = graph.node_count();
    // Nodes were appended in a valid order (a node only uses existing values),
    // so append order is a deterministic topological order.
    for (uint32_t i = 0; i < nodes; ++i) plan.order.push_back(i);
    check_updates(graph);

    std::vector<int64_t> last_use(values, -1);
    for (uint32_t pos = 0; pos < nodes; ++pos)
        for (ValueId v : graph.node(plan.order[pos]).inputs) last_use[v] = pos;

    // Kept: readable after a run — asked for, marked as outputs, or consumed by nothing.
    plan.kept.assign(values, false);
    for (const std::string& name : options.keep) {
        auto v = graph.find(name);
        check(v.has_value(), "compile: keep names '", name, "', which is not a value of this graph");
        plan.kept[*v] = true;
    }
    for (const std::string& name : options.results) {
        auto v = graph.find(name);
        check(v.has_value(), "compile: results names '", name, "', which is not a value of this graph");
        plan.kept[*v] = true;
        plan.results.push_back(*v);
    }
    for (ValueId v = 0; v < values; ++v) {
        const Value& value = graph.value(v);
        if (value.role == Role::Input)
            check(last_use[v] >= 0, "compile: input '", value.name, "' ", value.shape.str(), " is not connected to anything");
        if (is_transient(value)) {
            check(value.producer >= 0, "compile: ", role_name(value.role), " '", value.name, "' has no producer");
            if (last_use[v] < 0 || value.output) plan.kept[v] = true;
        }
    }

    // Homes. A view's output is its input's memory. An in-place op's output
    // takes its input's memory when that memory is transient, nothing else
    // reads it later and nobody reads it after the run. home_last / home_kept
    // track each home over all the values that live in it.
    plan.home.resize(values);
    std::vector<int64_t> home_last(last_use);
    std::vector<bool> home_kept(plan.kept);
    for (ValueId v = 0; v < values; ++v) plan.home[v] = v;
    const auto bytes = [&](ValueId v) { return static_cast<uint64_t>(graph.value(v).shape.elements()) * 4; };
    const auto dies_here = [&](ValueId v, uint32_t pos) {
        const ValueId h = plan.home[v];
        return is_transient(graph.value(h)) && home_last[h] == pos && !home_kept[h];
    };
    for (uint32_t pos = 0; pos < nodes; ++pos) {
        const Node& n = graph.node(plan.order[pos]);
        const OpDef& def = op_def(n.op);
        if (n.outputs.empty() || n.inputs.empty()) continue;
        const ValueId out = n.outputs[0];
        std::optional<ValueId> over; // the input whose memory output 0 takes
        if (def.view) over = n.inputs[0];
        else if (def.in_place && options.in_place)
            for (ValueId in : n.inputs)
                if (!over && bytes(in) == bytes(out) && graph.value(in).dtype == graph.value(out).dtype &&
                    dies_here(in, pos))
                    over = in;
        if (!over) continue;
        if (!def.view) plan.in_place_bytes += bytes(out);
        const ValueId h = plan.home[*over];
        plan.home[out] = h;
        home_last[h] = std::max(home_last[h], last_use[out]);
        home_kept[h] = home_kept[h] || plan.kept[out];
    }

    plan.storage.resize(values);
    for (ValueId v = 0; v < values; ++v) {
        const Value& value = graph.value(v);
        if (value.role == Role::Input) plan.storage[v] = Storage::Feed;
        else if (is_persistent(value.role)) plan.storage[v] = Storage::Persistent;
        else plan.storage[v] = plan.home[v] == v ? Storage::Transient : plan.storage[plan.home[v]]; // homes come first
    }

    // Transient homes live from their producer to the last use of any value in them.
    const uint32_t end = static_cast<uint32_t>(nodes ? nodes - 1 : 0);
    plan.lifetimes.resize(values);
    for (ValueId v = 0; v < values; ++v) {
        if (plan.storage[v] != Storage::Transient || plan.home[v] != v) continue;
        const Value& value = graph.value(v);
        const uint32_t first = static_cast<uint32_t>(value.producer); // order is the identity
        const uint32_t last = home_kept[v] ? end : static_cast<uint32_t>(std::max<int64_t>(home_last[v], first));
        plan.lifetimes[v] = {static_cast<uint64_t>(value.shape.elements()) * dtype_size(value.dtype), first, last};
        if (home_kept[v]) plan.kept[v] = true;
    }
    plan.graph = std::move(graph);
    return plan;
}

} // namespace vkcnn::graph
