// MNIST's preprocessing of a drawn digit (data/digit.h): boxes, centres of mass
// and filters recomputed here by plain loops, aspect ratio, MNIST's own test
// digits (data/mnist, when scripts/fetch_data.sh has been run) coming back
// nearly unchanged, empty and inverted drawings, and the errors.
#include "vkcnn/data/digit.h"

#include "vkcnn/core/error.h"
#include "vkcnn/data/idx.h"

#include "support/data_dir.h"
#include "support/files.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <vector>

using namespace vkcnn;
using namespace vkcnn::data;
using namespace vkcnn::test;

namespace {

struct Canvas {
    int width, height;
    std::vector<float> v; // (height, width)
    Canvas(int w, int h) : width(w), height(h), v(size_t(w) * size_t(h), 0.0f) {}
    float& at(int x, int y) { return v[size_t(y) * size_t(width) + size_t(x)]; }
    // An elliptical ring (a "0") centred at (cx, cy), radii rx, ry, stroke
    // `thick` pixels, anti-aliased by 4x4 supersampling.
    void ring(double cx, double cy, double rx, double ry, double thick) {
        for (int y = 0; y < height; ++y)
            for (int x = 0; x < width; ++x) {
                int hits = 0;
                for (int sy = 0; sy < 4; ++sy)
                    for (int sx = 0; sx < 4; ++sx) {
                        const double px = x + (sx + 0.5) / 4 - 0.5 - cx, py = y + (sy + 0.5) / 4 - 0.5 - cy;
                        const double r = std::hypot(px / rx, py / ry); // 1 on the ellipse
                        if (std::abs(r - 1.0) * std::min(rx, ry) < thick / 2) ++hits;
                    }
                at(x, y) = std::max(at(x, y), hits / 16.0f);
            }
    }
    void rect(int x0, int y0, int w, int h, float value) {
        for (int y = y0; y < y0 + h; ++y)
            for (int x = x0; x < x0 + w; ++x) at(x, y) = value;
    }
};

struct Box {
    int x0 = 0, y0 = 0, width = 0, height = 0;
};

// The bounding box of values > threshold in a (height, width) image.
Box box_of(const float* p, int width, int height, float threshold = 0.0f) {
    int x0 = width, y0 = height, x1 = -1, y1 = -1;
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x)
            if (p[y * width + x] > threshold) {
                x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
            }
    return x1 < 0 ? Box{} : Box{x0, y0, x1 - x0 + 1, y1 - y0 + 1};
}

struct Centre {
    double x = 0, y = 0, mass = 0;
};

Centre centre_of(const float* p, int width, int height) {
    Centre c;
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x) {
            c.mass += p[y * width + x];
            c.x += double(p[y * width + x]) * x;
            c.y += double(p[y * width + x]) * y;
        }
    c.x /= c.mass;
    c.y /= c.mass;
    return c;
}

Box box_of(const DigitImage& d) { return box_of(d.pixels.data(), 28, 28); }
Centre centre_of(const DigitImage& d) { return centre_of(d.pixels.data(), 28, 28); }

void check_range(const DigitImage& d) {
    for (float p : d.pixels) {
        REQUIRE(p >= 0.0f);
        REQUIRE(p <= 1.0f);
    }
}

double mean_abs_difference(const DigitImage& a, const DigitImage& b) {
    double s = 0;
    for (size_t i = 0; i < a.pixels.size(); ++i) s += std::abs(double(a.pixels[i]) - b.pixels[i]);
    return s / double(a.pixels.size());
}

} // namespace

TEST_CASE("data/digit: a small digit in a corner is fitted into 20x20 and centred by its mass") {
    Canvas c(200, 150);
    c.ring(170, 125, 9, 16, 3.5); // about 22 x 36 pixels near the bottom-right corner
    const Box in_box = box_of(c.v.data(), c.width, c.height, 0.02f);
    const Centre in_centre = centre_of(c.v.data(), c.width, c.height);
    const DigitImage d = mnist_preprocess(c.v, c.width, c.height);
    REQUIRE_FALSE(d.empty);
    CHECK_FALSE(d.inverted);
    check_range(d);
    CHECK(d.box_x == in_box.x0);
    CHECK(d.box_y == in_box.y0);
    CHECK(d.box_width == in_box.width);
    CHECK(d.box_height == in_box.height);
    CHECK(d.fitted_height == 20);
    CHECK(d.fitted_width == int(std::lround(20.0 * in_box.width / in_box.height)));
    CHECK(d.scale == doctest::Approx(20.0 / in_box.height));
    // The centre reported in the drawing's coordinates is the drawing's own (up to the filter).
    CHECK(std::abs(d.centre_x - in_centre.x) < 0.5);
    CHECK(std::abs(d.centre_y - in_centre.y) < 0.5);

    const Box out_box = box_of(d);
    CHECK(std::max(out_box.width, out_box.height) >= 19);
    CHECK(std::max(out_box.width, out_box.height) <= 21);
    CHECK(out_box.height == 20);
    const Centre out_centre = centre_of(d);
    CHECK(std::abs(out_centre.x - 14.0) <= 0.5);
    CHECK(std::abs(out_centre.y - 14.0) <= 0.5);
    // Area averaging keeps the mass per area: the mass scales by (fitted area / box area), about scale^2.
    const double area_ratio = double(d.fitted_width * d.fitted_height) / double(in_box.width * in_box.height);
    CHECK(out_centre.mass == doctest::Approx(in_centre.mass * area_ratio).epsilon(1e-4));
    CHECK(out_centre.mass == doctest::Approx(in_centre.mass * d.scale * d.scale).epsilon(0.05));
}

TEST_CASE("data/digit: shrinking by 2 averages 2x2 blocks; the offset rounds 14 - centre") {
    // A 40x40 box of pseudo-random ink (corners set so the box is exact) in a 90x70 canvas.
    Canvas c(90, 70);
    uint32_t s = 12345;
    for (int y = 0; y < 40; ++y)
        for (int x = 0; x < 40; ++x) {
            s = s * 1664525u + 1013904223u;
            const float v = float(s >> 8) / float(1u << 24);
            c.at(31 + x, 17 + y) = v < 0.5f ? 0.0f : v; // sparse, grey ink
        }
    for (auto [x, y] : {std::pair{0, 0}, {39, 0}, {0, 39}, {39, 39}}) c.at(31 + x, 17 + y) = 1.0f;
    const DigitImage d = mnist_preprocess(c.v, c.width, c.height);
    REQUIRE(d.box_width == 40);
    REQUIRE(d.box_height == 40);
    std::vector<float> ref(400);
    for (int y = 0; y < 20; ++y)
        for (int x = 0; x < 20; ++x)
            ref[size_t(y * 20 + x)] = (c.at(31 + 2 * x, 17 + 2 * y) + c.at(32 + 2 * x, 17 + 2 * y) +
                                       c.at(31 + 2 * x, 18 + 2 * y) + c.at(32 + 2 * x, 18 + 2 * y)) / 4;
    const Centre rc = centre_of(ref.data(), 20, 20);
    CHECK(d.offset_x == int(std::lround(14.0 - rc.x)));
    CHECK(d.offset_y == int(std::lround(14.0 - rc.y)));
    float worst = 0;
    for (int y = 0; y < 28; ++y)
        for (int x = 0; x < 28; ++x) {
            const int fx = x - d.offset_x, fy = y - d.offset_y;
            const float want = fx >= 0 && fx < 20 && fy >= 0 && fy < 20 ? ref[size_t(fy * 20 + fx)] : 0.0f;
            worst = std::max(worst, std::abs(d.pixels[size_t(y * 28 + x)] - want));
        }
    CHECK(worst < 1e-5f);
}

TEST_CASE("data/digit: a small drawing grows by bilinear interpolation, not nearest") {
    // A solid 10x10 square: growing by 2, bilinear gives its edges grey levels; nearest would not.
    Canvas c(64, 64);
    c.rect(5, 40, 10, 10, 1.0f);
    c.at(5, 40) = 0.5f; // one grey corner pixel, to check the interpolation against a plain formula
    const DigitImage d = mnist_preprocess(c.v, c.width, c.height);
    REQUIRE(d.fitted_width == 20);
    REQUIRE(d.fitted_height == 20);
    check_range(d);
    CHECK(box_of(d).width == 20);
    CHECK(box_of(d).height == 20);
    // Bilinear with pixel centres aligned: output o samples input o / 2 - 0.25, clamped to [0, 9].
    const auto sample = [&](int ox, int oy) {
        const double sx = std::clamp(ox / 2.0 - 0.25, 0.0, 9.0), sy = std::clamp(oy / 2.0 - 0.25, 0.0, 9.0);
        const int x0 = int(sx), y0 = int(sy), x1 = std::min(x0 + 1, 9), y1 = std::min(y0 + 1, 9);
        const double fx = sx - x0, fy = sy - y0;
        const auto in = [&](int x, int y) { return double(c.at(5 + x, 40 + y)); };
        return (1 - fy) * ((1 - fx) * in(x0, y0) + fx * in(x1, y0)) + fy * ((1 - fx) * in(x0, y1) + fx * in(x1, y1));
    };
    int grey = 0;
    double worst = 0;
    for (int y = 0; y < 20; ++y)
        for (int x = 0; x < 20; ++x) {
            const float p = d.pixels[size_t((y + d.offset_y) * 28 + x + d.offset_x)];
            worst = std::max(worst, std::abs(p - sample(x, y)));
            grey += p > 0.0f && p < 1.0f;
        }
    CHECK(worst < 1e-5);
    // Clamping keeps the square's edges at 1; the grey corner spreads over 3x3
    // interpolated pixels (nearest would copy 0.5 into a 2x2 block).
    CHECK(grey == 9);
    const Centre oc = centre_of(d);
    CHECK(std::abs(oc.x - 14.0) <= 0.5);
    CHECK(std::abs(oc.y - 14.0) <= 0.5);
}

TEST_CASE("data/digit: the aspect ratio is kept") {
    Canvas tall(100, 120);
    tall.rect(40, 10, 6, 60, 1.0f); // 6 x 60: fitted 2 x 20
    const DigitImage t = mnist_preprocess(tall.v, tall.width, tall.height);
    CHECK(t.fitted_width == 2);
    CHECK(t.fitted_height == 20);
    CHECK(box_of(t).width == 2);
    CHECK(box_of(t).height == 20);
    CHECK(std::abs(centre_of(t).x - 14.0) <= 0.5);

    Canvas wide(150, 50);
    wide.rect(3, 30, 75, 15, 0.8f); // 75 x 15: fitted 20 x 4
    const DigitImage w = mnist_preprocess(wide.v, wide.width, wide.height);
    CHECK(w.fitted_width == 20);
    CHECK(w.fitted_height == 4);
    CHECK(box_of(w).width == 20);
    CHECK(box_of(w).height == 4);
    // A flat grey stays flat under area averaging: 80 pixels of 0.8, the rest 0.
    int flat = 0;
    for (float v : w.pixels) flat += std::abs(v - 0.8f) < 1e-5f;
    CHECK(flat == 80);

    Canvas dot(30, 30);
    dot.at(3, 4) = 1.0f; // one pixel: 20 x 20 of ink
    const DigitImage p = mnist_preprocess(dot.v, dot.width, dot.height);
    CHECK(box_of(p).width == 20);
    CHECK(box_of(p).height == 20);
}

TEST_CASE("data/digit: MNIST's own digits come back nearly unchanged") {
    const auto dir = data_dir() / "mnist";
    std::vector<std::vector<float>> digits;
    if (std::filesystem::exists(dir / "t10k-images-idx3-ubyte")) {
        const IdxImages test = read_idx_images((dir / "t10k-images-idx3-ubyte").string());
        for (int64_t n = 0; n < 200; ++n) {
            std::vector<float> v(784);
            for (size_t i = 0; i < 784; ++i) v[i] = test.pixels[size_t(n) * 784 + i] / 255.0f;
            digits.push_back(std::move(v));
        }
    } else {
        MESSAGE("no MNIST in " << dir.string() << " (scripts/fetch_data.sh): synthetic digits instead");
        for (int n = 0; n < 20; ++n) { // drawn anywhere, preprocessed once: MNIST-like
            Canvas c(64, 64);
            c.ring(20 + n, 25 + n / 2.0, 6 + n % 5, 12 + n % 7, 2.5);
            const DigitImage d = mnist_preprocess(c.v, c.width, c.height);
            digits.emplace_back(d.pixels.begin(), d.pixels.end());
        }
    }
    double total = 0;
    int unchanged_placement = 0;
    for (const auto& v : digits) {
        const DigitImage d = mnist_preprocess(v, 28, 28);
        DigitImage original;
        std::copy(v.begin(), v.end(), original.pixels.begin());
        total += mean_abs_difference(d, original);
        unchanged_placement += box_of(d).x0 == box_of(v.data(), 28, 28).x0 && box_of(d).y0 == box_of(v.data(), 28, 28).y0;
        CHECK(std::abs(centre_of(d).x - 14.0) <= 0.5);
        CHECK(std::abs(centre_of(d).y - 14.0) <= 0.5);
    }
    const double mean = total / double(digits.size());
    MESSAGE("mean |difference| per pixel " << mean << "; placement unchanged for " << unchanged_placement << " of "
                                           << digits.size());
    CHECK(mean < 0.01);
    CHECK(unchanged_placement >= int(digits.size() * 8 / 10));
}

TEST_CASE("data/digit: an empty drawing is flagged, not an error") {
    Canvas c(50, 40);
    DigitImage d = mnist_preprocess(c.v, c.width, c.height);
    CHECK(d.empty);
    CHECK(std::all_of(d.pixels.begin(), d.pixels.end(), [](float p) { return p == 0.0f; }));
    CHECK(d.box_width == 0);
    std::fill(c.v.begin(), c.v.end(), 0.015f); // faint noise under the threshold
    d = mnist_preprocess(c.v, c.width, c.height);
    CHECK(d.empty);
    std::fill(c.v.begin(), c.v.end(), 1.0f); // a blank white page, background detected
    d = mnist_preprocess(c.v, c.width, c.height, {.background = DigitBackground::Detect});
    CHECK(d.empty);
    CHECK(d.inverted);
    CHECK(std::all_of(d.pixels.begin(), d.pixels.end(), [](float p) { return p == 0.0f; }));
}

TEST_CASE("data/digit: dark ink on a light background gives the same image") {
    Canvas c(120, 90);
    c.ring(30, 60, 10, 14, 4);
    c.rect(50, 20, 4, 30, 0.9f);
    std::vector<float> paper(c.v.size());
    for (size_t i = 0; i < paper.size(); ++i) paper[i] = 1.0f - c.v[i];
    const DigitImage want = mnist_preprocess(c.v, c.width, c.height);
    CHECK_FALSE(has_light_background(c.v, c.width, c.height));
    CHECK(has_light_background(paper, c.width, c.height));
    for (DigitBackground b : {DigitBackground::Light, DigitBackground::Detect}) {
        const DigitImage got = mnist_preprocess(paper, c.width, c.height, {.background = b});
        CHECK(got.inverted);
        CHECK(got.box_x == want.box_x);
        CHECK(got.box_width == want.box_width);
        CHECK(got.offset_x == want.offset_x);
        CHECK(got.offset_y == want.offset_y);
        CHECK(mean_abs_difference(got, want) < 1e-6);
    }
    // Detect leaves a dark background alone; Light on it inverts (and finds a full-canvas box).
    CHECK_FALSE(mnist_preprocess(c.v, c.width, c.height, {.background = DigitBackground::Detect}).inverted);
    CHECK(mnist_preprocess(c.v, c.width, c.height, {.background = DigitBackground::Light}).box_width == c.width);
}

TEST_CASE("data/digit: the border decides the background; a 1-pixel-wide drawing has only border") {
    Canvas c(10, 10);
    c.rect(0, 0, 10, 10, 1.0f);
    c.rect(1, 1, 8, 8, 0.0f); // a light frame around a dark inside
    CHECK(has_light_background(c.v, 10, 10));
    c.rect(0, 0, 10, 5, 0.0f); // the top half of the frame dark: mean 18/36, not above 0.5
    CHECK_FALSE(has_light_background(c.v, 10, 10));
    const std::vector<float> column{1.0f, 0.2f, 0.9f};
    CHECK(has_light_background(column, 1, 3));
    CHECK(has_light_background(std::vector<float>{0.6f}, 1, 1));
}

TEST_CASE("data/digit: lopsided mass is clipped at the edge, values outside [0, 1] are clamped") {
    Canvas c(40, 40);
    c.rect(5, 5, 1, 20, 1.0f); // a heavy left column
    c.at(24, 5) = 0.05f;       // a faint dot 19 pixels to its right: the box is 20 x 20
    c.at(5, 6) = 7.0f;         // clamped to 1
    c.at(10, 10) = -3.0f;      // clamped to 0
    c.at(11, 10) = std::nanf("");
    const DigitImage d = mnist_preprocess(c.v, c.width, c.height);
    check_range(d);
    CHECK(d.box_width == 20);
    CHECK(d.offset_x == 14); // centre of mass ~0.05: the dot lands at x = 33 and is clipped
    CHECK(box_of(d).width == 1);
    CHECK(std::abs(centre_of(d).x - 14.0) <= 0.5);
}

TEST_CASE("data/digit: bad sizes are errors naming them") {
    const std::vector<float> v(12, 0.0f);
    CHECK(contains(error_of([&] { mnist_preprocess(v, 0, 12); }), "the drawing is 0x12; width and height must be positive"));
    CHECK(contains(error_of([&] { mnist_preprocess(v, 4, -3); }), "the drawing is 4x-3"));
    CHECK(contains(error_of([&] { mnist_preprocess(v, 5, 3); }), "a 5x3 drawing needs 15 values, got 12"));
    CHECK(contains(error_of([&] { has_light_background(v, 3, 3); }), "a 3x3 drawing needs 9 values, got 12"));
    CHECK(contains(error_of([&] { mnist_preprocess(v, 4, 3, {.ink_threshold = 1.5f}); }), "ink_threshold is 1.5"));
    CHECK_NOTHROW(mnist_preprocess(v, 4, 3));
}
