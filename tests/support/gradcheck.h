// Gradient checks by central finite differences in double precision. Ops'
// references are templates over the scalar type, so the backward rule is
// checked on doubles, where rounding cannot hide a wrong formula.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace vkcnn::test {

// d loss / d x[i] ≈ (loss(x + h e_i) - loss(x - h e_i)) / 2h for every i.
inline std::vector<double> numerical_gradient(const std::function<double(const std::vector<double>&)>& loss,
                                              std::vector<double> x, double h = 1e-6) {
    std::vector<double> g(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
        const double saved = x[i];
        x[i] = saved + h;
        const double up = loss(x);
        x[i] = saved - h;
        const double down = loss(x);
        x[i] = saved;
        g[i] = (up - down) / (2 * h);
    }
    return g;
}

// loss(x) = sum_j dy[j] * y(x)[j]: its gradient is the backward pass applied to dy.
inline double weighted_sum(std::span<const double> y, std::span<const double> dy) {
    double s = 0;
    for (size_t j = 0; j < y.size(); ++j) s += y[j] * dy[j];
    return s;
}

// |analytic - numerical| <= atol + rtol * |numerical| everywhere; reports the worst element.
inline void check_gradient(std::span<const double> analytic, std::span<const double> numerical, const std::string& what,
                           double atol = 1e-6, double rtol = 1e-5) {
    REQUIRE_MESSAGE(analytic.size() == numerical.size(), what << ": sizes differ");
    double worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < analytic.size(); ++i) {
        const double excess = std::abs(analytic[i] - numerical[i]) - (atol + rtol * std::abs(numerical[i]));
        if (excess > worst || std::isnan(analytic[i])) worst = std::isnan(analytic[i]) ? INFINITY : excess, at = i;
    }
    CHECK_MESSAGE(worst <= 0, what << ": element " << at << " analytic " << analytic[at] << ", numerical "
                                   << numerical[at]);
}

} // namespace vkcnn::test
