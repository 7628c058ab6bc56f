// A graph end to end: autodiff (a parameter used twice gets its gradients
// summed; an input gets one on request), compile, and the same Program on the
// CPU and Vulkan executors — results bitwise equal across backends and between
// the optimised and the debug schedule, one submit per run, and bad use
// rejected with errors that name the value or node.
#include "vkcnn/exec/cpu_program.h"
#include "vkcnn/exec/vulkan_program.h"
#include "vkcnn/ops/binary.h"
#include "vkcnn/ops/relu.h"

#include "support/compare.h"
#include "support/gpu.h"

#include <doctest/doctest.h>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

const Shape kShape{3, 50};
constexpr size_t kN = 150;

// y = relu(x + p) + relu(p); backward from y with seed dy, gradients for p and x.
graph::Graph build() {
    graph::Graph g;
    const auto x = g.input("x", kShape), p = g.parameter("p", kShape), dy = g.input("dy", kShape);
    const auto h = g.relu(g.add(x, p, "a"), "h");
    const auto y = g.add(h, g.relu(p, "r"), "y");
    const graph::ValueId wrt[] = {x};
    g.backward(y, wrt, dy);
    return g;
}

struct Feeds {
    std::vector<float> x, p, dy;
    explicit Feeds(uint32_t seed) : x(small_integers(kN, seed)), p(small_integers(kN, seed + 1)), dy(small_integers(kN, seed + 2)) {}
};

// The same computation from the op references.
std::vector<float> expected_p_grad(const Feeds& f) {
    std::vector<float> a(kN), g1(kN), g2(kN), sum(kN);
    ops::add_forward_reference<float>(f.x, f.p, a);
    ops::relu_backward_reference(a, f.dy, g1);
    ops::relu_backward_reference(f.p, f.dy, g2);
    ops::add_forward_reference<float>(g1, g2, sum);
    return sum;
}

template <typename Program>
std::vector<std::vector<float>> run_with(Program& prog, const Feeds& f) {
    prog.write("x", f.x);
    prog.write("p", f.p);
    prog.write("dy", f.dy);
    prog.run();
    return {prog.read("y"), prog.read("p.grad"), prog.read("x.grad")};
}

} // namespace

TEST_CASE_FIXTURE(GpuTest, "graph/program: CPU and Vulkan executors agree bit for bit, in both schedules") {
    cpu::ThreadPool pool(2);
    exec::CpuProgram cpu_prog(graph::compile(build()), pool);
    exec::VulkanProgram fast(dev, graph::compile(build()));
    exec::VulkanProgram debug(dev, graph::compile(build(), {.in_place = false}), {.debug_schedule = true});
    const auto& s = fast.stats();
    MESSAGE("dispatches " << s.dispatches << ", barriers per step " << s.barriers << ", arena " << s.arena_bytes
                          << " bytes vs naive " << s.naive_bytes);
    CHECK(s.barriers < s.dispatches);
    CHECK(s.arena_bytes < s.naive_bytes);
    // One barrier before each dispatch, and one after the inputs are copied in from their upload slot.
    CHECK(debug.stats().barriers == debug.stats().dispatches + 1);

    for (uint32_t step = 0; step < 5; ++step) {
        const Feeds f(10 * step);
        const auto c = run_with(cpu_prog, f), v = run_with(fast, f), d = run_with(debug, f);
        check_bitwise_equal(c[1], expected_p_grad(f), "p.grad (summed over both uses)");
        for (size_t i = 0; i < c.size(); ++i) {
            check_bitwise_equal(v[i], c[i], cat("vulkan vs cpu, output ", i));
            check_bitwise_equal(d[i], v[i], cat("debug vs optimised schedule, output ", i));
        }
    }
    CHECK(fast.submit_count() == 5);
}

TEST_CASE_FIXTURE(GpuTest, "graph/program: enqueued steps take the next inputs at once and hand back their own results") {
    cpu::ThreadPool pool(2);
    const graph::CompileOptions options{.results = {"y", "p.grad"}};
    exec::CpuProgram reference(graph::compile(build()), pool);
    exec::CpuProgram cpu_prog(graph::compile(build(), options), pool);
    exec::VulkanProgram gpu(dev, graph::compile(build(), options));
    const Feeds first(0);
    for (exec::Program* prog : {static_cast<exec::Program*>(&cpu_prog), static_cast<exec::Program*>(&gpu)}) {
        CHECK_THROWS_WITH(prog->finish(), doctest::Contains("no step was enqueued"));
        prog->write("p", first.p); // persistent: the same for every step
        std::vector<std::vector<std::vector<float>>> want; // per step: y, p.grad, x.grad
        for (uint32_t step = 0; step < 6; ++step) {
            Feeds f(10 * step);
            f.p = first.p;
            want.push_back(run_with(reference, f));
            prog->write("x", f.x); // while the previous step may still run
            prog->write("dy", f.dy);
            prog->enqueue();
            if (step == 3) { // reading another value waits for both steps in flight; their results stay
                CHECK(prog->in_flight() == 2);
                check_bitwise_equal(prog->read("x.grad"), want[step][2], "x.grad read with two steps in flight");
            }
            if (prog->in_flight() < 2) continue;
            const exec::StepResults r = prog->finish();
            check_bitwise_equal(r.read("y"), want[step - 1][0], cat("y of step ", step - 1));
            check_bitwise_equal(r.read("p.grad"), want[step - 1][1], cat("p.grad of step ", step - 1));
            CHECK_THROWS_WITH(r.read("x.grad"), doctest::Contains("not a step result"));
        }
        check_bitwise_equal(prog->finish().read("y"), want.back()[0], "y of the last step");
        CHECK(prog->in_flight() == 0);
    }
    CHECK(gpu.submit_count() == 6);
}

TEST_CASE("graph/program: bad graphs and bad use are errors naming the value or node") {
    graph::Graph g;
    const auto x = g.input("x", kShape);
    g.input("labels", Shape{3});
    g.relu(x, "h");
    CHECK_THROWS_WITH(graph::compile(g), doctest::Contains("input 'labels' (3,) is not connected to anything"));

    graph::Graph shapes;
    const auto a = shapes.input("a", Shape{2, 3}), b = shapes.input("b", Shape{3, 2});
    CHECK_THROWS_WITH(shapes.add(a, b, "sum"), doctest::Contains("node 'sum' (add): 'a' has shape (2, 3) but 'b' has (3, 2)"));

    graph::Graph second_order;
    const auto p = second_order.parameter("p", Shape{4}), dy = second_order.input("dy", Shape{4});
    const auto out = second_order.add_node(graph::Op::relu_backward, "rb", {p, dy}, {})[0];
    CHECK_THROWS_WITH(second_order.backward(out, {}, dy), doctest::Contains("node 'rb' (relu_backward), which is not differentiable"));
    CHECK_THROWS_WITH(second_order.backward(out), doctest::Contains("give a seed gradient or reduce it to a scalar loss"));

    cpu::ThreadPool pool(1);
    exec::CpuProgram prog(graph::compile(build()), pool);
    CHECK_THROWS_WITH(prog.write("x", std::vector<float>(10)), doctest::Contains("'x': it has shape (3, 50) (150 elements), 10 were given"));
    CHECK_THROWS_WITH(prog.read("h"), doctest::Contains("name it in CompileOptions::keep"));
    CHECK_THROWS_WITH(prog.write("y", std::vector<float>(kN)), doctest::Contains("computed by the program"));
    CHECK_THROWS_WITH(prog.read("nope"), doctest::Contains("no value of that name"));
    exec::CpuProgram kept(graph::compile(build(), {.keep = {"h"}}), pool);
    CHECK(kept.read("h").size() == kN);
}
