// Order, storage classes and lifetimes of a graph's values (see compile.h).
#include "vkcnn/graph/compile.h"

#include "vkcnn/core/error.h"
#include "vkcnn/graph/op_def.h"

namespace vkcnn::graph {

Plan compile(Graph graph, const CompileOptions& options) {
    Plan plan;
    const size_t values = graph.value_count(), nodes = graph.node_count();
    // Nodes were appended in a valid order (a node only uses existing values),
    // so append order is a deterministic topological order.
    for (uint32_t i = 0; i < nodes; ++i) plan.order.push_back(i);

    for (uint32_t i = 0; i < nodes; ++i) {
        const Node& n = graph.node(i);
        for (uint32_t k = 0; k < op_def(n.op).updates; ++k) {
            const Value& target = graph.value(n.inputs[k]);
            check(is_persistent(target.role), "compile: node '", n.name, "' (", op_name(n.op), ") updates '", target.name,
                  "' in place, but its role is ", role_name(target.role),
                  ": only parameters, optimizer state and running statistics persist across steps");
        }
    }

    std::vector<int64_t> last_use(values, -1);
    for (uint32_t pos = 0; pos < nodes; ++pos)
        for (ValueId v : graph.node(plan.order[pos]).inputs) last_use[v] = pos;

    plan.storage.resize(values);
    plan.lifetimes.resize(values);
    plan.kept.assign(values, false);
    for (const std::string& name : options.keep) {
        auto v = graph.find(name);
        check(v.has_value(), "compile: keep names '", name, "', which is not a value of this graph");
        plan.kept[*v] = true;
    }
    // Views share their home's memory, which must then live as long as they do.
    plan.home.resize(values);
    for (ValueId v = 0; v < values; ++v) {
        const int32_t producer = graph.value(v).producer;
        const bool view = producer >= 0 && op_def(graph.node(static_cast<size_t>(producer)).op).view;
        plan.home[v] = view ? plan.home[graph.node(static_cast<size_t>(producer)).inputs[0]] : v;
    }
    const uint32_t end = static_cast<uint32_t>(nodes ? nodes - 1 : 0);
    for (ValueId v = 0; v < values; ++v) {
        const Value& value = graph.value(v);
        if (value.role == Role::Input) {
            plan.storage[v] = Storage::Feed;
            check(last_use[v] >= 0, "compile: input '", value.name, "' ", value.shape.str(),
                  " is not connected to anything");
        } else if (is_persistent(value.role)) {
            plan.storage[v] = Storage::Persistent;
        } else {
            check(value.producer >= 0, "compile: ", role_name(value.role), " '", value.name, "' has no producer");
            // A view lives where its home does (homes come first: a view is made after its home).
            plan.storage[v] = plan.home[v] == v ? Storage::Transient : plan.storage[plan.home[v]];
            if (last_use[v] < 0 || value.output) plan.kept[v] = true; // a result of the step
        }
    }
    // Lifetimes of transient homes span their views' uses.
    for (ValueId v = 0; v < values; ++v) {
        if (plan.storage[v] != Storage::Transient) continue;
        const ValueId h = plan.home[v];
        const uint32_t last = plan.kept[v] ? end : static_cast<uint32_t>(std::max<int64_t>(last_use[v], 0));
        if (h == v) {
            const Value& value = graph.value(v);
            const uint32_t first = static_cast<uint32_t>(value.producer); // order is the identity
            plan.lifetimes[v] = {static_cast<uint64_t>(value.shape.elements()) * dtype_size(value.dtype), first,
                                 std::max(first, last)};
        } else {
            plan.lifetimes[h].last = std::max(plan.lifetimes[h].last, last);
            if (plan.kept[v]) plan.kept[h] = true;
        }
    }
    plan.graph = std::move(graph);
    return plan;
}

} // namespace vkcnn::graph
