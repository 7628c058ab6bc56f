// fill: shader (fill.comp) vs CPU kernel vs reference, every element written.
#include "vkcnn/ops/fill.h"

#include "support/compare.h"
#include "support/gpu.h"
#include "support/run_kernel.h"

#include <doctest/doctest.h>

using namespace vkcnn;
using namespace vkcnn::test;

TEST_CASE_FIXTURE(GpuTest, "ops/fill: shader == CPU kernel == reference") {
    cpu::ThreadPool pool(1);
    for (size_t n : {size_t{1}, size_t{7}, size_t{256}, size_t{1000}, size_t{256 * 4096 + 5}}) {
        CAPTURE(n);
        std::vector<float> want(n), got(n);
        ops::fill_reference<float>(want, -2.5f);
        ops::fill_cpu(pool, got, -2.5f);
        check_bitwise_equal(got, want, "cpu fill");
        const auto out = run_kernel(dev, ops::fill_launch(n, -2.5f), {std::vector<float>(n)});
        check_bitwise_equal(out[0], want, "fill.comp");
    }
}
