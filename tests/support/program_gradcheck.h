// Autodiff of a compiled graph against central finite differences of the
// same Program: each checked element of a value is moved by ±step, the step
// rerun, and d(sum_j seed_j * output_j) / d value compared with the value's
// ".grad" (which the Program computed for that seed). In float, so the step
// is large (5e-3 to 1e-2): rounding (~1e-7 / step) and truncation
// (~step^2 * f''') both stay below the tolerance.
#pragma once

#include "vkcnn/exec/program.h"

#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace vkcnn::test {

struct ProgramGradcheck {
    std::string output = "y", seed = "dy"; // sum(seed * output) is differentiated
    float step = 1e-2f;
    double tolerance = 3e-3;               // |autodiff - numeric| <= tolerance * (1 + |numeric|)
    size_t stride_above_40 = 7;            // values of more than 40 elements: every stride-th one
};

// `feeds` holds every input and parameter as written to `prog` (restored on
// return); returns how many elements were checked.
inline size_t check_program_gradients(exec::Program& prog, std::map<std::string, std::vector<float>>& feeds,
                                      const std::vector<std::string>& names, const ProgramGradcheck& c = {}) {
    prog.run();
    std::map<std::string, std::vector<float>> analytic;
    for (const std::string& name : names) analytic[name] = prog.read(name + ".grad");
    const auto weighted_output = [&] {
        prog.run();
        const auto y = prog.read(c.output);
        const std::vector<float>& seed = feeds.at(c.seed);
        double sum = 0;
        for (size_t i = 0; i < y.size(); ++i) sum += double{y[i]} * seed[i];
        return sum;
    };
    size_t checked = 0;
    for (const std::string& name : names) {
        const std::vector<float>& grad = analytic[name];
        std::vector<float>& v = feeds.at(name);
        for (size_t i = 0; i < v.size(); i += (v.size() > 40 ? c.stride_above_40 : 1)) {
            const float saved = v[i];
            v[i] = saved + c.step;
            prog.write(name, v);
            const double up = weighted_output();
            v[i] = saved - c.step;
            prog.write(name, v);
            const double down = weighted_output();
            v[i] = saved;
            prog.write(name, v);
            const double numeric = (up - down) / (2 * double{c.step});
            INFO(name << "[" << i << "]: autodiff " << grad[i] << ", finite differences " << numeric);
            CHECK(std::abs(grad[i] - numeric) <= c.tolerance * (1 + std::abs(numeric)));
            ++checked;
        }
    }
    return checked;
}

} // namespace vkcnn::test
