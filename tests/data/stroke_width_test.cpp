// Random stroke width (data/stroke_width.h) against a plain reference
// dilation, and its choice of images keyed by (seed, index) alone.
#include "vkcnn/data/stroke_width.h"

#include "vkcnn/core/error.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

using namespace vkcnn;

namespace {

// The definition, written out: out(y, x) = max over the window's in-range pixels.
float reference_dilation(const std::vector<float>& p, int64_t h, int64_t w, int k, int64_t y, int64_t x) {
    float m = -INFINITY;
    for (int64_t dy = -(k - 1) / 2; dy <= -(k - 1) / 2 + k - 1; ++dy)
        for (int64_t dx = -(k - 1) / 2; dx <= -(k - 1) / 2 + k - 1; ++dx)
            if (y + dy >= 0 && y + dy < h && x + dx >= 0 && x + dx < w) m = std::max(m, p[size_t((y + dy) * w + x + dx)]);
    return m;
}

std::vector<float> ramp(size_t n) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = std::sin(float(i) * 0.7f) - 0.2f;
    return v;
}

} // namespace

TEST_CASE("data/stroke_width: grey dilation equals the windowed maximum, borders clipped") {
    for (const int k : {1, 2, 3, 4}) {
        const int64_t h = 7, w = 5;
        const std::vector<float> p = ramp(size_t(h * w));
        std::vector<float> out(p.size());
        data::grey_dilate(p, h, w, k, out);
        for (int64_t y = 0; y < h; ++y)
            for (int64_t x = 0; x < w; ++x) {
                CAPTURE(k);
                CAPTURE(y);
                CAPTURE(x);
                CHECK(out[size_t(y * w + x)] == reference_dilation(p, h, w, k, y, x));
            }
    }
    std::vector<float> out(4);
    CHECK_THROWS_WITH_AS(data::grey_dilate(std::vector<float>(3), 2, 2, 3, out),
                         doctest::Contains("a 2x2 plane needs 4 values, got 3"), Error);
}

TEST_CASE("data/stroke_width: a share of the batch thickened, chosen by seed and index") {
    const int64_t n = 400, c = 1, h = 6, w = 6;
    // One lit pixel per image: thickened, it becomes a 2x2 or 3x3 square.
    std::vector<float> batch(size_t(n * h * w), -0.5f);
    for (int64_t i = 0; i < n; ++i) batch[size_t(i * h * w + 2 * w + 3)] = 1.0f;
    std::vector<float> a = batch;
    data::vary_stroke_width(a, n, c, h, w, 7, {.probability = 0.5f});
    int64_t kept = 0, two = 0, three = 0;
    for (int64_t i = 0; i < n; ++i) {
        const auto lit = std::count(a.begin() + i * h * w, a.begin() + (i + 1) * h * w, 1.0f);
        kept += lit == 1;
        two += lit == 4;
        three += lit == 9;
    }
    CHECK(kept + two + three == n);
    CHECK(std::abs(kept - n / 2) < 50); // about half, for 400 draws
    CHECK(std::abs(two - three) < 50);
    // The same seed, the same choice; another seed, another.
    std::vector<float> b = batch;
    data::vary_stroke_width(b, n, c, h, w, 7, {.probability = 0.5f});
    CHECK(a == b);
    std::vector<float> d = batch;
    data::vary_stroke_width(d, n, c, h, w, 8, {.probability = 0.5f});
    CHECK(a != d);
    std::vector<float> none = batch;
    data::vary_stroke_width(none, n, c, h, w, 7, {.probability = 0.0f});
    CHECK(none == batch);
    CHECK_THROWS_WITH_AS(data::vary_stroke_width(none, n + 1, c, h, w, 7),
                         doctest::Contains("401 images of (1, 6, 6) need 14436 values, got 14400"), Error);
}
