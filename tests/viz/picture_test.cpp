// Pictures: the colour map's bytes (the op's reference, and the Vulkan
// colormap on the device), grey levels and blending computed by hand, grids
// and upscaling pixel by pixel, PNG bytes decoded back, and the filter and
// activation pictures of a LeNet-5 on both backends.
#include "vkcnn/viz/picture.h"

#include "vkcnn/exec/vulkan_colormap.h"
#include "vkcnn/io/image.h"
#include "vkcnn/nn/model.h"
#include "vkcnn/nn/models.h"

#include "support/compare.h"
#include "support/files.h"
#include "support/gpu.h"

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <limits>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

viz::Rgb8 unpack(uint32_t c) {
    return {static_cast<uint8_t>(c & 0xff), static_cast<uint8_t>(c >> 8 & 0xff), static_cast<uint8_t>(c >> 16 & 0xff)};
}

// The colour map op's own picture of one h x w tile (its range from the data).
viz::Picture op_picture(std::span<const float> map, uint32_t h, uint32_t w, ops::Colormap cmap, ops::Normalize norm) {
    const ops::ColormapShape shape{.n = 1, .c = 1, .h = h, .w = w};
    const ops::ColormapAttrs attrs{.map = cmap, .norm = norm, .padding = 0};
    std::vector<uint32_t> rgba(size_t{h} * w);
    ops::colormap_reference(shape, attrs, map, rgba);
    viz::Picture p(w, h);
    for (size_t i = 0; i < rgba.size(); ++i) p.set(static_cast<uint32_t>(i % w), static_cast<uint32_t>(i / w), unpack(rgba[i]));
    return p;
}

bool same(viz::Rgb8 a, viz::Rgb8 b) { return a.r == b.r && a.g == b.g && a.b == b.b; }

// The largest difference of any byte of two pictures of one size.
int max_byte_difference(const viz::Picture& a, const viz::Picture& b) {
    REQUIRE(a.width == b.width);
    REQUIRE(a.height == b.height);
    int d = 0;
    for (size_t i = 0; i < a.rgb.size(); ++i) d = std::max(d, std::abs(int(a.rgb[i]) - int(b.rgb[i])));
    return d;
}

} // namespace

TEST_CASE_FIXTURE(GpuTest, "viz/picture: heat maps are the colour map op's bytes, on the CPU and on the device") {
    const uint32_t h = 9, w = 13;
    std::vector<float> map = uniform(size_t{h} * w, 5, -3.0f, 2.0f);
    map[4] = std::numeric_limits<float>::quiet_NaN();
    map[17] = std::numeric_limits<float>::infinity();
    map[30] = -std::numeric_limits<float>::infinity();

    const viz::Picture seq = viz::heat(map, h, w);
    const viz::Picture div = viz::signed_heat(map, h, w);
    CHECK(max_byte_difference(seq, op_picture(map, h, w, ops::Colormap::Sequential, ops::Normalize::MinMax)) == 0);
    CHECK(max_byte_difference(div, op_picture(map, h, w, ops::Colormap::Diverging, ops::Normalize::Symmetric)) == 0);
    CHECK(same(seq.at(4, 0), {0xff, 0x00, 0xff}));           // NaN: magenta
    CHECK(same(div.at(17 % w, 17 / w), {0xb2, 0x18, 0x2b})); // +inf: the last stop
    CHECK(same(div.at(30 % w, 30 / w), {0x21, 0x66, 0xac})); // -inf: the first

    // The device draws the same tile with exec::VulkanColormap: the same bytes.
    vulkan::Buffer buf = dev.create_buffer(map.size() * 4, "picture_test.map");
    dev.upload(buf, std::span<const float>(map));
    const std::vector<int64_t> dims{h, w};
    exec::VulkanColormap gpu_image(dev, buf, dims,
                                   {.map = ops::Colormap::Sequential, .norm = ops::Normalize::MinMax, .padding = 0});
    gpu_image.submit();
    const std::vector<uint32_t> rgba = gpu_image.read();
    size_t differ = 0;
    for (size_t i = 0; i < rgba.size(); ++i) differ += !same(unpack(rgba[i]), seq.at(uint32_t(i % w), uint32_t(i / w)));
    CHECK(differ == 0);

    // A given range: values past it clamp to its ends, and a value inside
    // gets the colour it has in a map spanning exactly that range.
    const viz::Range r{-1.0f, 1.0f};
    const std::vector<float> probe{-5.0f, -1.0f, 0.25f, 1.0f, 7.0f};
    const std::vector<viz::Rgb8> c = viz::colours(probe, r, ops::Colormap::Diverging);
    CHECK(same(c[0], c[1]));
    CHECK(same(c[3], c[4]));
    const std::vector<float> spanning{-1.0f, 0.25f, 1.0f};
    const viz::Picture want = op_picture(spanning, 1, 3, ops::Colormap::Diverging, ops::Normalize::MinMax);
    CHECK(same(c[2], want.at(1, 0)));
    CHECK(same(c[1], want.at(0, 0)));
    CHECK(same(c[3], want.at(2, 0)));
    CHECK_THROWS_WITH_AS(viz::colours(probe, {1.0f, -1.0f}, ops::Colormap::Sequential),
                         doctest::Contains("the range [1, -1] is not a finite interval"), Error);
    CHECK_THROWS_WITH_AS(viz::heat(map, h, w + 1), doctest::Contains("117 values, expected 9 x 14"), Error);
}

TEST_CASE("viz/picture: grey levels, overlays, upscaling and grids, pixel by pixel") {
    // Grey: round(255 (v - lo) / (hi - lo)), clamped; by hand for [-1, 3].
    const std::vector<float> map{-1.0f, 0.0f, 1.0f, 3.0f, 5.0f, -2.0f};
    const viz::Picture g = viz::grey(map, 2, 3, viz::Range{-1.0f, 3.0f});
    const uint8_t want[] = {0, 64, 128, 255, 255, 0}; // 63.75 -> 64, 127.5 -> 128
    for (size_t i = 0; i < 6; ++i) CHECK(g.at(uint32_t(i % 3), uint32_t(i / 3)).r == want[i]);
    CHECK(g.at(1, 0).g == 64);
    CHECK(viz::grey(std::vector<float>(4, 2.5f), 2, 2).at(1, 1).r == 128); // constant: the middle

    // Overlay: (1 - a) under + a over, rounded.
    viz::Picture under(2, 1, {100, 0, 255}), over(2, 1, {200, 50, 0});
    const viz::Picture o = viz::overlay(under, over, 0.25f);
    CHECK((o.at(1, 0).r == 125 && o.at(1, 0).g == 13 && o.at(1, 0).b == 191)); // 12.5 -> 13, 191.25 -> 191
    CHECK_THROWS_WITH_AS(viz::overlay(under, viz::Picture(3, 1), 0.5f), doctest::Contains("2 x 1 and 3 x 1"), Error);

    // Upscaling: each pixel a block.
    viz::Picture small(2, 2);
    small.set(0, 0, {1, 2, 3}), small.set(1, 0, {4, 5, 6}), small.set(0, 1, {7, 8, 9}), small.set(1, 1, {10, 11, 12});
    const viz::Picture big = viz::upscale(small, 3);
    CHECK((big.width == 6 && big.height == 6));
    for (uint32_t y = 0; y < 6; ++y)
        for (uint32_t x = 0; x < 6; ++x) CHECK(same(big.at(x, y), small.at(x / 3, y / 3)));

    // Grid: five pictures of different sizes, 3 to a row, padding 2: cells
    // of the largest (4 x 3), placed at the cell's top-left.
    std::vector<viz::Picture> pics;
    for (uint8_t i = 0; i < 5; ++i) pics.emplace_back(i == 2 ? 4u : 2u, i == 4 ? 3u : 1u, viz::Rgb8{i, i, i});
    const viz::Rgb8 bg{9, 99, 199};
    const viz::Picture grid = viz::grid(pics, {.columns = 3, .padding = 2, .background = bg});
    CHECK(grid.width == 3 * 4 + 2 * 2);
    CHECK(grid.height == 2 * 3 + 2);
    CHECK(same(grid.at(0, 0), {0, 0, 0}));
    CHECK(same(grid.at(2, 0), bg)); // past picture 0's width
    CHECK(same(grid.at(4, 0), bg)); // padding
    CHECK(same(grid.at(6, 0), {1, 1, 1}));
    CHECK(same(grid.at(12 + 3, 0), {2, 2, 2}));
    CHECK(same(grid.at(6, 5 + 2), {4, 4, 4})); // picture 4: row 1, column 1, its last row
    CHECK(same(grid.at(12, 5), bg));           // the cell after the last picture
    CHECK_THROWS_WITH_AS(viz::grid({}), doctest::Contains("no pictures"), Error);

    // Stack: each its own height, left-aligned, padding rows between.
    const viz::Picture st = viz::stack(pics, 1, bg);
    CHECK((st.width == 4 && st.height == 1 + 1 + 1 + 1 + 3 + 4));
    CHECK(same(st.at(0, 2), {1, 1, 1}));
    CHECK(same(st.at(3, 4), {2, 2, 2}));
    CHECK(same(st.at(2, 2), bg));
    CHECK(same(st.at(1, 10), {4, 4, 4}));
}

TEST_CASE("viz/picture: PNGs decode to the picture's bytes, and a failed write names the path and leaves nothing") {
    viz::Picture p(7, 5);
    for (uint32_t y = 0; y < 5; ++y)
        for (uint32_t x = 0; x < 7; ++x)
            p.set(x, y, {uint8_t(x * 36), uint8_t(y * 60), uint8_t((x * 31 + y * 17) % 256)});
    const TempDir dir;
    const std::string path = (dir.path / "p.png").string();
    viz::write_png(path, p);
    const io::Image back = io::read_image(path);
    CHECK((back.width == 7 && back.height == 5 && back.channels == 3));
    CHECK(back.pixels == p.rgb);
    const std::vector<uint8_t> bytes = viz::encode_png(p);
    REQUIRE(bytes.size() > 24);
    CHECK(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 8) ==
          std::vector<uint8_t>{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
    CHECK(std::filesystem::file_size(path) == bytes.size());

    const std::string missing = (dir.path / "no-such-dir" / "p.png").string();
    const std::string message = missing + ": cannot write the PNG";
    CHECK_THROWS_WITH_AS(viz::write_png(missing, p), doctest::Contains(message.c_str()), Error);
    CHECK(!std::filesystem::exists(missing));
    // A full device: the write fails after the file was opened.
    if (std::filesystem::exists("/dev/full")) {
        CHECK_THROWS_WITH_AS(viz::write_png("/dev/full", p), doctest::Contains("/dev/full: cannot write the PNG"), Error);
    }
    CHECK_THROWS_WITH_AS(viz::encode_png(viz::Picture{}), doctest::Contains("0 x 0"), Error);
}

TEST_CASE_FIXTURE(GpuTest, "viz/picture: first-layer filters and every layer's activations of LeNet-5, on both backends") {
    cpu::ThreadPool pool(2);
    nn::Model gpu_model(nn::lenet5(), {.seed = 3}, dev);
    nn::Model cpu_model(nn::lenet5(), {.seed = 3}, pool);
    const nn::StateDict w = cpu_model.weights();
    const std::vector<float>& w0 = w.at("0.weight"); // (6, 1, 5, 5)

    // Six 5x5 filters at 8x in 3 columns of 40 pixels, padding 1.
    const viz::Picture f = viz::filters(cpu_model, "0.weight");
    CHECK((f.width == 3 * 40 + 2 && f.height == 2 * 40 + 1));
    CHECK(max_byte_difference(f, viz::filters(gpu_model, "0.weight")) == 0); // the same weights from each state
    // By hand: filter 4 (row 1, column 1), weight (2, 3), its own symmetric range.
    float m = 0;
    for (size_t i = 0; i < 25; ++i) m = std::max(m, std::fabs(w0[4 * 25 + i]));
    const double v = w0[4 * 25 + 2 * 5 + 3];
    const auto level = static_cast<uint8_t>(std::lround((v + m) / (2.0 * m) * 255.0));
    CHECK(f.at(41 + 3 * 8 + 5, 41 + 2 * 8 + 2).r == level);
    // Shared range: only the filter holding the largest |w| reaches 0 or 255.
    const viz::Picture fs = viz::filters(cpu_model, "0.weight", {.shared_range = true, .scale = 1});
    CHECK((fs.width == 3 * 5 + 2 && fs.height == 2 * 5 + 1));
    size_t strongest = 0;
    float top = 0;
    for (size_t i = 0; i < w0.size(); ++i)
        if (std::fabs(w0[i]) > top) top = std::fabs(w0[i]), strongest = i / 25;
    for (size_t k = 0; k < 6; ++k) {
        bool extreme = false;
        for (uint32_t y = 0; y < 5; ++y)
            for (uint32_t x = 0; x < 5; ++x) {
                const uint8_t g = fs.at(uint32_t(k % 3) * 6 + x, uint32_t(k / 3) * 6 + y).r;
                extreme |= g == 0 || g == 255;
            }
        CHECK(extreme == (k == strongest));
    }
    CHECK_THROWS_WITH_AS(viz::filters(cpu_model, "5.weight"),
                         doctest::Contains("no parameter '5.weight'; convolution weights: 0.weight, 3.weight"), Error);
    CHECK_THROWS_WITH_AS(viz::filters(cpu_model, "3.weight"), doctest::Contains("has 6 input channels"), Error);
    // RGB: a (2, 3, 1, 1) weight, channel c of filter f as R, G, B.
    const std::vector<float> rgb{1.0f, -1.0f, 0.0f, 0.5f, 0.25f, -0.5f};
    const viz::Picture fr = viz::filters(rgb, Shape{2, 3, 1, 1}, {.scale = 1, .padding = 0});
    CHECK(same(fr.at(0, 0), {255, 0, 128}));
    CHECK(same(fr.at(1, 0), {255, 191, 0})); // range [-0.5, 0.5]: 0.25 -> 191.25

    // Every layer for one image: the input and LeNet-5's 12 layers ("11" the logits).
    const std::vector<float> image = uniform(784, 8, -0.4f, 2.8f);
    const std::vector<viz::LayerPicture> cpu_layers = viz::layer_pictures(cpu_model, image);
    const std::vector<viz::LayerPicture> gpu_layers = viz::layer_pictures(gpu_model, image);
    REQUIRE(cpu_layers.size() == cpu_model.layers().size() + 1);
    REQUIRE(gpu_layers.size() == cpu_layers.size());
    CHECK(cpu_layers[0].path == "input");
    auto program = cpu_model.program({.batch = 1, .keep = {"0"}});
    program->set_input(image);
    program->run();
    const std::vector<float> a0 = program->activation("0"); // (1, 6, 28, 28)
    CHECK(max_byte_difference(cpu_layers[1].picture, viz::tiles(a0, 6, 28, 28, {.scale = 4})) == 0);
    int worst = 0;
    for (size_t i = 0; i < cpu_layers.size(); ++i) {
        CAPTURE(cpu_layers[i].path);
        CHECK(cpu_layers[i].path == gpu_layers[i].path);
        worst = std::max(worst, max_byte_difference(cpu_layers[i].picture, gpu_layers[i].picture));
        // The backends' activations agree to ~1e-6 relative (model_test); a
        // level is 1/65536 of a tile's range and neighbouring levels differ
        // by at most one byte, so a byte may differ by 1, never more.
        CHECK(max_byte_difference(cpu_layers[i].picture, gpu_layers[i].picture) <= 1);
    }
    MESSAGE("largest byte difference of the layers' pictures, CPU vs Vulkan: " << worst);
    const viz::LayerPicture& logits = cpu_layers.back(); // (1, 10): a strip of 10 cells of 8 pixels
    CHECK(logits.path == "11");
    CHECK((logits.picture.width == 10 * 8 && logits.picture.height == 8));
    // Its cells: the logits through one min-max range, the largest yellow.
    const std::vector<float> z = cpu_model.predict(image, 1);
    const std::vector<viz::Rgb8> want = viz::colours(z, viz::min_max(z), ops::Colormap::Sequential);
    for (uint32_t k = 0; k < 10; ++k) CHECK(same(logits.picture.at(k * 8 + 3, 5), want[k]));
    const viz::LayerPicture& flat = cpu_layers[7]; // "6", Flatten: (1, 400) in 10 rows of 40
    CHECK(flat.path == "6");
    CHECK((flat.picture.width == 40 * 8 && flat.picture.height == 10 * 8));
    CHECK_THROWS_WITH_AS(viz::activation_picture(a0, Shape{1, 6, 28, 27}),
                         doctest::Contains("4704 values for (1, 6, 28, 27)"), Error);
}
