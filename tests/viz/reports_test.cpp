// Plots and reports: SVG documents well formed (a small XML checker), data
// at the pixel the frame says, non-finite values refused by series name;
// the confusion matrix's cells from counts worked by hand; the most
// confident mistakes of the trained LeNet-5 on both backends against a
// double-precision softmax of its logits; the training log parsed and
// plotted.
#include "vkcnn/viz/plot.h"
#include "vkcnn/viz/reports.h"

#include "vkcnn/nn/model.h"
#include "vkcnn/nn/models.h"

#include "support/gpu.h"
#include "support/trained.h"

#include <doctest/doctest.h>

#include <cctype>
#include <cmath>
#include <limits>
#include <map>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

// Well-formed XML, as far as these documents go: every tag closed in order,
// attribute values quoted, no raw '<' or '&' outside tags and entities.
// Returns the count of each element name.
// name="value" pairs after a lower-case element name, optionally ending in '/':
// what the SVG writer may put in a tag, by hand (std::regex trips a GCC
// warning inside libstdc++ under the sanitizer flags).
bool attributes_well_formed(const std::string& tag) {
    size_t i = 0;
    while (i < tag.size() && std::islower(static_cast<unsigned char>(tag[i]))) ++i;
    if (i == 0) return false;
    for (;;) {
        const size_t before = i;
        while (i < tag.size() && std::isspace(static_cast<unsigned char>(tag[i]))) ++i;
        if (i == tag.size() || (tag[i] == '/' && i + 1 == tag.size())) return true;
        if (i == before || !std::isalpha(static_cast<unsigned char>(tag[i]))) return false;
        while (i < tag.size() && (std::isalnum(static_cast<unsigned char>(tag[i])) || tag[i] == ':' || tag[i] == '-')) ++i;
        if (tag.compare(i, 2, "=\"") != 0) return false;
        const size_t close = tag.find('"', i + 2);
        if (close == std::string::npos || tag.find_first_of("<&", i + 2) < close) return false;
        i = close + 1;
    }
}

std::map<std::string, int> check_xml(const std::string& doc) {
    std::map<std::string, int> count;
    std::vector<std::string> open;
    size_t i = 0;
    while (i < doc.size()) {
        if (doc[i] == '&') {
            const size_t semi = doc.find(';', i);
            REQUIRE(semi != std::string::npos);
            const std::string entity = doc.substr(i, semi - i + 1);
            CHECK_MESSAGE((entity == "&amp;" || entity == "&lt;" || entity == "&gt;" || entity == "&quot;" ||
                           entity == "&apos;"),
                          entity);
            i = semi + 1;
            continue;
        }
        if (doc[i] == '>') FAIL("a raw '>' outside a tag at " << i);
        if (doc[i] != '<') {
            ++i;
            continue;
        }
        size_t end = i + 1;
        char quote = 0;
        while (end < doc.size() && (quote || doc[end] != '>')) {
            if (!quote && doc[end] == '<') FAIL("'<' inside a tag at " << end);
            if (doc[end] == '"' || doc[end] == '\'') quote = quote == doc[end] ? 0 : quote ? quote : doc[end];
            ++end;
        }
        REQUIRE(end < doc.size());
        std::string tag = doc.substr(i + 1, end - i - 1);
        i = end + 1;
        if (tag[0] == '/') {
            REQUIRE(!open.empty());
            CHECK(tag.substr(1) == open.back());
            open.pop_back();
            continue;
        }
        const bool self_closing = tag.back() == '/';
        const std::string name = tag.substr(0, tag.find_first_of(" /"));
        // Attributes: name="value" pairs only.
        CHECK_MESSAGE(attributes_well_formed(tag), tag);
        ++count[name];
        if (!self_closing) open.push_back(name);
    }
    CHECK(open.empty());
    return count;
}

// The value of attribute `attr` in every <element ...> tag that has it, as numbers.
std::vector<double> numbers_of(const std::string& doc, const std::string& element, const std::string& attr) {
    std::vector<double> v;
    for (size_t at = doc.find("<" + element); at != std::string::npos; at = doc.find("<" + element, at + 1)) {
        const size_t name_end = at + 1 + element.size();
        if (name_end >= doc.size() || !std::isspace(static_cast<unsigned char>(doc[name_end]))) continue; // <circles>
        const std::string tag = doc.substr(at, doc.find('>', at) - at);
        const size_t a = tag.find(" " + attr + "=\"");
        if (a == std::string::npos) continue;
        v.push_back(std::stod(tag.substr(a + attr.size() + 3)));
    }
    return v;
}

} // namespace

TEST_CASE("viz/reports: SVG plots are well formed, put points where the frame says and refuse non-finite values") {
    // Scatter: 3 classes, 5 points; each circle's centre is the frame's pixel (to the 0.01 written).
    const viz::ScatterPlot sp{"t-SNE <features> & \"labels\"", {0, 1, 2, 3, 4}, {10, -5, 0, 20, 7}, {0, 1, 2, 1, 0},
                              {"zero", "one", "two"}};
    const std::string svg = viz::scatter_svg(sp);
    const std::map<std::string, int> n = check_xml(svg);
    CHECK(n.at("svg") == 1);
    CHECK(n.at("circle") == 5 + 3); // the points and a legend disc per class
    CHECK(svg.find("t-SNE &lt;features&gt; &amp; &quot;labels&quot;") != std::string::npos);
    const viz::PlotFrame f = [&] {
        viz::PlotFrame frame = viz::plot_frame({}, 0, 4, -5, 20);
        frame.width = 640 - 64 - 120; // the plot area beside the legend
        return frame;
    }();
    const std::vector<double> cx = numbers_of(svg, "circle", "cx"), cy = numbers_of(svg, "circle", "cy");
    REQUIRE(cx.size() == 8);
    for (size_t i = 0; i < 5; ++i) {
        CHECK(cx[i] == doctest::Approx(f.px(sp.x[i])).epsilon(1e-4));
        CHECK(cy[i] == doctest::Approx(f.py(sp.y[i])).epsilon(1e-4));
    }
    // The frame itself: ticks of 5 over [-5, 20], x over [0, 4]; y grows downwards.
    CHECK((f.y0 == -5 && f.y1 == 20 && f.x0 == 0 && f.x1 == 4));
    CHECK(f.py(20) == doctest::Approx(f.top));
    CHECK(f.py(-5) == doctest::Approx(f.top + f.height));
    CHECK(viz::nice_ticks(-5, 20) == std::vector<double>{-5, 0, 5, 10, 15, 20});
    const std::vector<double> t = viz::nice_ticks(0, 0.93); // steps of 0.2, up to the first past 0.93
    REQUIRE(t.size() == 6);
    for (size_t i = 0; i < t.size(); ++i) CHECK(t[i] == doctest::Approx(0.2 * double(i)));
    // 0.3f is 0.30000001: the axis still ends at the tick 0.3, not 0.4.
    CHECK(viz::nice_ticks(0, double(0.3f)).back() == doctest::Approx(0.3));

    // Lines: a polyline per series, a legend entry each.
    viz::LinePlot lp{"accuracy vs eps", "eps", "accuracy",
                     {{"fgsm", {0, 0.1, 0.2, 0.3}, {0.98, 0.8, 0.4, 0.1}}, {"pgd", {0, 0.1, 0.2, 0.3}, {0.98, 0.5, 0.05, 0}}},
                     0.0, 1.0, true};
    const std::string line = viz::line_plot_svg(lp);
    const std::map<std::string, int> ln = check_xml(line);
    CHECK(ln.at("polyline") == 2);
    CHECK(ln.at("circle") == 8);
    CHECK(line.find(">fgsm</text>") != std::string::npos);
    lp.series[1].y[2] = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS_WITH_AS(viz::line_plot_svg(lp), doctest::Contains("series 'pgd' has nan at point 2"), Error);
    lp.series[1].y[2] = std::numeric_limits<double>::infinity();
    CHECK_THROWS_WITH_AS(viz::line_plot_svg(lp), doctest::Contains("series 'pgd' has inf at point 2"), Error);
    lp.series[0].x.pop_back();
    CHECK_THROWS_WITH_AS(viz::line_plot_svg(lp), doctest::Contains("series 'fgsm' has 3 x and 4 y values"), Error);

    // Bars: one per class, the highlighted one in the accent colour.
    const viz::BarChart bc{"p(class)", "probability", {"0", "1", "2"}, {0.1, 0.7, 0.2}, 1};
    const std::string bars = viz::bar_chart_svg(bc);
    CHECK(check_xml(bars).at("rect") == 1 + 1 + 3); // background, frame, bars
    CHECK(bars.find("fill=\"#d62728\"") != std::string::npos);

    // The raster scatter plot: each point a disc of its class colour at its pixel.
    const viz::Picture pic = viz::scatter_picture(sp, {}, 3);
    CHECK((pic.width == 640 && pic.height == 400));
    for (size_t i = 0; i < 5; ++i) {
        const viz::Rgb8 c = pic.at(uint32_t(f.px(sp.x[i])), uint32_t(f.py(sp.y[i])));
        const viz::Rgb8 want = viz::class_colour(sp.labels[i]);
        CHECK((c.r == want.r && c.g == want.g && c.b == want.b));
    }
    CHECK(pic.at(5, 5).r == 255); // white outside the plot
    viz::ScatterPlot bad = sp;
    bad.y[3] = -std::numeric_limits<double>::infinity();
    CHECK_THROWS_WITH_AS(viz::scatter_picture(bad), doctest::Contains("series 'y' has -inf at point 3"), Error);
}

TEST_CASE("viz/reports: the confusion matrix's cells are the row shares worked by hand") {
    // Rows: true class. Row 0 = 2, 1, 1 -> 0.5, 0.25, 0.25; row 1 all right; row 2 has no samples.
    const std::vector<int64_t> m{2, 1, 1, 0, 3, 0, 0, 0, 0};
    const viz::Picture p = viz::confusion_picture(m, 3, 4);
    CHECK((p.width == 3 * 4 + 2 && p.height == 3 * 4 + 2));
    const std::vector<float> shares{0.5f, 0.25f, 0.25f, 0.0f, 1.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    const std::vector<viz::Rgb8> want = viz::colours(shares, {0.0f, 1.0f}, ops::Colormap::Sequential);
    for (size_t i = 0; i < 9; ++i) {
        const viz::Rgb8 c = p.at(uint32_t(i % 3) * 5 + 2, uint32_t(i / 3) * 5 + 1);
        CHECK((c.r == want[i].r && c.g == want[i].g && c.b == want[i].b));
    }
    CHECK((want[4].r == 0xfd && want[4].g == 0xe7 && want[4].b == 0x25)); // 1: viridis' end
    CHECK((want[3].r == 0x44 && want[3].g == 0x01 && want[3].b == 0x54)); // 0: its start
    const std::string names[] = {"a<b", "b", "c"};
    const std::string svg = viz::confusion_svg(m, 3, names);
    const std::map<std::string, int> n = check_xml(svg);
    CHECK(n.at("rect") == 1 + 9);
    CHECK(svg.find(">3</text>") != std::string::npos);
    CHECK(svg.find(">a&lt;b</text>") != std::string::npos);
    CHECK_THROWS_WITH_AS(viz::confusion_picture(m, 4), doctest::Contains("9 counts for 4 classes, expected 16"), Error);
}

TEST_CASE("viz/reports: misclassified samples from logits, ranked by the wrong class's probability") {
    // 4 samples, 3 classes. Sample 1 is right; 0, 2 and 3 are wrong.
    const std::vector<float> logits{0, 2, 1, /**/ 3, 0, 0, /**/ 0, 0, 5, /**/ 1, 1, 0};
    const std::vector<int32_t> labels{0, 0, 1, 2};
    const std::vector<viz::Misclassified> w = viz::misclassified(logits, labels, 3, 10);
    REQUIRE(w.size() == 3);
    // Softmax by hand: sample 2 predicts 2 with e^5 / (2 + e^5); sample 0 predicts 1 with e^2 / (1 + e + e^2);
    // sample 3 ties classes 0 and 1 (the lower class first) at e / (2e + 1).
    const double e = std::exp(1.0);
    CHECK(w[0].index == 2);
    CHECK(w[0].top[0].cls == 2);
    CHECK(w[0].top[0].probability == doctest::Approx(std::exp(5.0) / (2 + std::exp(5.0))));
    CHECK(w[1].index == 0);
    CHECK(w[1].top[0].probability == doctest::Approx(e * e / (1 + e + e * e)));
    CHECK(w[1].top[1].cls == 2);
    CHECK(w[1].top[2].cls == 0);
    CHECK(w[2].index == 3);
    CHECK((w[2].top[0].cls == 0 && w[2].top[1].cls == 1));
    CHECK(viz::caption(w[1]) == "#0 label 0: 1 66.5%, 2 24.5%, 0 9.0%");
    CHECK(viz::misclassified(logits, labels, 3, 1).size() == 1);
    const std::vector<int32_t> bad{0, 0, 3, 0};
    CHECK_THROWS_WITH_AS(viz::misclassified(logits, bad, 3, 1), doctest::Contains("sample 2 has label 3"), Error);
}

TEST_CASE_FIXTURE(GpuTest, "viz/reports: the trained LeNet-5's most confident mistakes are the same on both backends") {
    VKCNN_REQUIRE_MNIST();
    cpu::ThreadPool pool(2);
    std::vector<int64_t> first(2000);
    for (size_t i = 0; i < first.size(); ++i) first[i] = static_cast<int64_t>(i);
    const data::Dataset test = mnist_test().subset(first);
    nn::Model cpu_model(nn::lenet5(), {}, pool), gpu_model(nn::lenet5(), {}, dev);
    cpu_model.load_weights(trained_lenet5());
    gpu_model.load_weights(trained_lenet5());
    const std::vector<viz::Misclassified> c = viz::misclassified(cpu_model, test, 12, 256);
    const std::vector<viz::Misclassified> g = viz::misclassified(gpu_model, test, 12, 256);
    MESSAGE(c.size() << " shown; the most confident: " << (c.empty() ? "" : viz::caption(c[0])));
    REQUIRE(c.size() >= 5); // ~1.5% of 2000 are wrong
    REQUIRE(g.size() == c.size());
    const std::vector<float> logits = cpu_model.predict(test.images(), test.size());
    for (size_t i = 0; i < c.size(); ++i) {
        CAPTURE(viz::caption(c[i]));
        // The backends' logits agree to ~1e-5, far below the gaps between
        // these probabilities: the same samples, in the same order.
        CHECK(g[i].index == c[i].index);
        CHECK(g[i].top[0].probability == doctest::Approx(c[i].top[0].probability).epsilon(1e-4));
        // Wrong, and the probability a softmax of its logits in double gives.
        const auto z = std::span<const float>(logits).subspan(static_cast<size_t>(c[i].index) * 10, 10);
        CHECK(c[i].label == test.label(c[i].index));
        CHECK(c[i].top[0].cls != c[i].label);
        double sum = 0;
        for (float v : z) sum += std::exp(static_cast<double>(v) - z[static_cast<size_t>(c[i].top[0].cls)]);
        CHECK(c[i].top[0].probability == doctest::Approx(1.0 / sum).epsilon(1e-9));
        if (i > 0) CHECK(c[i].top[0].probability <= c[i - 1].top[0].probability);
    }
    const viz::Picture p = viz::gallery(test, c, 3, 4);
    CHECK((p.width == 4 * 84 + 3 * 2));
    // The first sample's top-left pixel is MNIST's black background.
    CHECK(p.at(0, 0).r == 0);
}

TEST_CASE("viz/reports: a training log is parsed line by line and plotted as two panels") {
    const std::string text = std::string(viz::kLogHeader) +
                             "\ntrain,1,0.01,2.3,0.1,0.05\ntrain,2,0.02,2.1,0.2,0.05\n"
                             "test,100,1,0.4,0.9,\ntrain,3,0.03,1.9,0.3,0.0";
    const viz::TrainingLog log = viz::parse_training_log(text, "run.csv");
    REQUIRE(log.train.size() == 3);
    REQUIRE(log.test.size() == 1);
    CHECK(log.train[1].loss == 2.1);
    CHECK(log.train[2].learning_rate == 0.0);
    CHECK((log.test[0].step == 100 && log.test[0].accuracy == 0.9));
    // An interrupted run's last line, cut mid-number, is left out.
    CHECK(viz::parse_training_log(text + "\ntrain,4,0.0", "run.csv").train.size() == 3);
    CHECK_THROWS_WITH_AS(viz::parse_training_log(text + "\ntrain,4,x,1,1,1\n", "run.csv"),
                         doctest::Contains("run.csv:6: expected kind"), Error);
    CHECK_THROWS_WITH_AS(viz::parse_training_log("step,loss\n1,2\n", "run.csv"),
                         doctest::Contains("run.csv:1: expected the header"), Error);
    CHECK_THROWS_WITH_AS(viz::parse_training_log("", "run.csv"), doctest::Contains("run.csv: empty"), Error);

    const std::string svg = viz::curves_svg(log);
    const std::map<std::string, int> n = check_xml(svg);
    CHECK(n.at("svg") == 3); // the document and its two panels
    CHECK(n.at("polyline") == 4);
    CHECK(n.at("circle") == 2); // the test evaluation, a dot in each panel
    CHECK(svg.find(">cross-entropy</text>") != std::string::npos);
}
