// Plots as SVG text and one raster plot, drawn with nothing but arithmetic:
// a frame maps data to pixels, ticks are round numbers, text is native SVG.
#include "vkcnn/viz/plot.h"

#include "vkcnn/core/error.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace vkcnn::viz {

namespace {

// Margins of the plot area: room for the title, tick labels, axis labels and legend.
constexpr double kLeft = 64, kRight = 16, kTop = 36, kBottom = 48, kLegend = 120;

std::string num(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.2f", v);
    return b;
}

// A tick label: as few digits as the step needs.
std::string tick_label(double v, double step) {
    if (std::fabs(v) < step * 1e-9) v = 0; // no "-0" or 1e-17
    const int digits = step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
    char b[32];
    std::snprintf(b, sizeof b, "%.*f", std::min(digits, 8), v);
    return b;
}

std::string hex(Rgb8 c) {
    char b[8];
    std::snprintf(b, sizeof b, "#%02x%02x%02x", c.r, c.g, c.b);
    return b;
}

void check_finite(std::span<const double> v, const std::string& what, const std::string& name) {
    for (size_t i = 0; i < v.size(); ++i)
        check(std::isfinite(v[i]), what, ": series '", name, "' has ", v[i], " at point ", i,
              "; plots take finite values only");
}

struct Extent {
    double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
    void add(std::span<const double> v) {
        for (double x : v) lo = std::min(lo, x), hi = std::max(hi, x);
    }
    bool empty() const { return lo > hi; }
};

std::string header(PlotSize s) {
    return cat("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"", s.width, "\" height=\"", s.height,
               "\" viewBox=\"0 0 ", s.width, " ", s.height, "\" font-family=\"sans-serif\" font-size=\"12\">\n",
               "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
}

// The axes box, tick marks, grid lines and labels of a frame, and the title.
std::string axes(const PlotFrame& f, const std::string& title, const std::string& x_label, const std::string& y_label,
                 bool x_ticks = true) {
    std::string s;
    if (x_ticks) {
        const std::vector<double> xt = nice_ticks(f.x0, f.x1);
        const double xs = xt.size() > 1 ? xt[1] - xt[0] : 1;
        for (double t : xt) {
            if (t < f.x0 - 1e-9 * xs || t > f.x1 + 1e-9 * xs) continue;
            const std::string x = num(f.px(t));
            s += cat("<line x1=\"", x, "\" y1=\"", num(f.top), "\" x2=\"", x, "\" y2=\"", num(f.top + f.height),
                     "\" stroke=\"#e0e0e0\"/>\n");
            s += cat("<text x=\"", x, "\" y=\"", num(f.top + f.height + 16), "\" text-anchor=\"middle\">",
                     tick_label(t, xs), "</text>\n");
        }
    }
    const std::vector<double> yt = nice_ticks(f.y0, f.y1);
    const double ys = yt.size() > 1 ? yt[1] - yt[0] : 1;
    for (double t : yt) {
        if (t < f.y0 - 1e-9 * ys || t > f.y1 + 1e-9 * ys) continue;
        const std::string y = num(f.py(t));
        s += cat("<line x1=\"", num(f.left), "\" y1=\"", y, "\" x2=\"", num(f.left + f.width), "\" y2=\"", y,
                 "\" stroke=\"#e0e0e0\"/>\n");
        s += cat("<text x=\"", num(f.left - 6), "\" y=\"", y, "\" text-anchor=\"end\" dominant-baseline=\"middle\">",
                 tick_label(t, ys), "</text>\n");
    }
    s += cat("<rect x=\"", num(f.left), "\" y=\"", num(f.top), "\" width=\"", num(f.width), "\" height=\"",
             num(f.height), "\" fill=\"none\" stroke=\"#444444\"/>\n");
    s += cat("<text x=\"", num(f.left + f.width / 2), "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">",
             xml_escape(title), "</text>\n");
    s += cat("<text x=\"", num(f.left + f.width / 2), "\" y=\"", num(f.top + f.height + 36),
             "\" text-anchor=\"middle\">", xml_escape(x_label), "</text>\n");
    const std::string cy = num(f.top + f.height / 2);
    s += cat("<text x=\"16\" y=\"", cy, "\" text-anchor=\"middle\" transform=\"rotate(-90 16 ", cy, ")\">",
             xml_escape(y_label), "</text>\n");
    return s;
}

// A legend entry per name, at the right of the plot area.
std::string legend(const PlotFrame& f, const std::vector<std::string>& names, const std::vector<Rgb8>& colours,
                   bool discs) {
    std::string s;
    for (size_t i = 0; i < names.size(); ++i) {
        const double x = f.left + f.width + 12, y = f.top + 8 + 18.0 * static_cast<double>(i);
        if (discs)
            s += cat("<circle cx=\"", num(x + 6), "\" cy=\"", num(y), "\" r=\"4\" fill=\"", hex(colours[i]), "\"/>\n");
        else
            s += cat("<line x1=\"", num(x), "\" y1=\"", num(y), "\" x2=\"", num(x + 14), "\" y2=\"", num(y),
                     "\" stroke=\"", hex(colours[i]), "\" stroke-width=\"2\"/>\n");
        s += cat("<text x=\"", num(x + 20), "\" y=\"", num(y), "\" dominant-baseline=\"middle\">", xml_escape(names[i]),
                 "</text>\n");
    }
    return s;
}

PlotFrame frame_in(PlotSize size, double right, double x0, double x1, double y0, double y1) {
    PlotFrame f = plot_frame(size, x0, x1, y0, y1);
    f.width = std::max(1.0, static_cast<double>(size.width) - kLeft - right);
    return f;
}

void check_size(const char* what, PlotSize s) {
    check(s.width >= 200 && s.height >= 150 && s.width <= 16384 && s.height <= 16384, what, ": a plot of ", s.width,
          " x ", s.height, " pixels; expected 200 x 150 to 16384 x 16384");
}

} // namespace

std::vector<double> nice_ticks(double lo, double hi, int count) {
    check(std::isfinite(lo) && std::isfinite(hi) && lo <= hi && count >= 2, "nice_ticks: [", lo, ", ", hi, "] in ",
          count, " ticks");
    if (hi == lo) return {lo};
    const double raw = (hi - lo) / (count - 1);
    const double p = std::pow(10.0, std::floor(std::log10(raw)));
    double step = 10 * p;
    for (double m : {1.0, 2.0, 5.0})
        if (m * p >= raw) {
            step = m * p;
            break;
        }
    std::vector<double> t;
    // Within a millionth of a step counts as on a tick: 0.3f is 0.30000001,
    // and an axis to 0.3 should not run on to 0.4 for it.
    const double slack = 1e-6 * step;
    for (double k = std::floor((lo + slack) / step); k * step <= hi + step; k += 1) {
        t.push_back(k * step);
        if (k * step >= hi - slack) break;
    }
    return t;
}

PlotFrame plot_frame(PlotSize size, double x0, double x1, double y0, double y1) {
    auto widen = [](double& lo, double& hi) {
        if (lo == hi) lo -= 0.5, hi += 0.5;
        const std::vector<double> t = nice_ticks(lo, hi);
        lo = std::min(lo, t.front()), hi = std::max(hi, t.back());
    };
    widen(x0, x1);
    widen(y0, y1);
    PlotFrame f{x0, x1, y0, y1, kLeft, kTop, 0, 0};
    f.width = std::max(1.0, static_cast<double>(size.width) - kLeft - kRight);
    f.height = std::max(1.0, static_cast<double>(size.height) - kTop - kBottom);
    return f;
}

Rgb8 class_colour(int32_t c) {
    static constexpr Rgb8 kTab10[] = {{0x1f, 0x77, 0xb4}, {0xff, 0x7f, 0x0e}, {0x2c, 0xa0, 0x2c}, {0xd6, 0x27, 0x28},
                                      {0x94, 0x67, 0xbd}, {0x8c, 0x56, 0x4b}, {0xe3, 0x77, 0xc2}, {0x7f, 0x7f, 0x7f},
                                      {0xbc, 0xbd, 0x22}, {0x17, 0xbe, 0xcf}};
    return kTab10[static_cast<size_t>(c < 0 ? 0 : c) % std::size(kTab10)];
}

std::string xml_escape(std::string_view text) {
    std::string s;
    for (char c : text) {
        switch (c) {
        case '&': s += "&amp;"; break;
        case '<': s += "&lt;"; break;
        case '>': s += "&gt;"; break;
        case '"': s += "&quot;"; break;
        case '\'': s += "&apos;"; break;
        default: s += c;
        }
    }
    return s;
}

std::string line_plot_svg(const LinePlot& plot, PlotSize size) {
    check_size("line_plot_svg", size);
    check(!plot.series.empty(), "line_plot_svg '", plot.title, "': no series");
    Extent ex, ey;
    for (const Series& s : plot.series) {
        check(s.x.size() == s.y.size() && !s.x.empty(), "line_plot_svg: series '", s.name, "' has ", s.x.size(),
              " x and ", s.y.size(), " y values, expected as many and at least one");
        check_finite(s.x, "line_plot_svg", s.name);
        check_finite(s.y, "line_plot_svg", s.name);
        ex.add(s.x), ey.add(s.y);
    }
    double y0 = plot.y_min.value_or(ey.lo), y1 = plot.y_max.value_or(ey.hi);
    check(std::isfinite(y0) && std::isfinite(y1) && y0 <= y1, "line_plot_svg '", plot.title, "': the y axis [", y0,
          ", ", y1, "] is not a finite interval");
    const PlotFrame f = frame_in(size, kLegend, ex.lo, ex.hi, y0, y1);
    std::string s = header(size) + axes(f, plot.title, plot.x_label, plot.y_label);
    std::vector<std::string> names;
    std::vector<Rgb8> colours;
    for (size_t i = 0; i < plot.series.size(); ++i) {
        const Series& r = plot.series[i];
        const Rgb8 c = class_colour(static_cast<int32_t>(i));
        std::string points;
        for (size_t k = 0; k < r.x.size(); ++k)
            points += cat(k ? " " : "", num(f.px(r.x[k])), ",", num(f.py(std::clamp(r.y[k], f.y0, f.y1))));
        s += cat("<polyline fill=\"none\" stroke=\"", hex(c), "\" stroke-width=\"1.5\" points=\"", points, "\"/>\n");
        if (plot.markers || r.markers)
            for (size_t k = 0; k < r.x.size(); ++k)
                s += cat("<circle cx=\"", num(f.px(r.x[k])), "\" cy=\"", num(f.py(std::clamp(r.y[k], f.y0, f.y1))),
                         "\" r=\"3\" fill=\"", hex(c), "\"/>\n");
        names.push_back(r.name);
        colours.push_back(c);
    }
    return s + legend(f, names, colours, false) + "</svg>\n";
}

namespace {

void check_scatter(const char* what, const ScatterPlot& p) {
    check(p.x.size() == p.y.size() && p.x.size() == p.labels.size() && !p.x.empty(), what, " '", p.title, "': ",
          p.x.size(), " x, ", p.y.size(), " y and ", p.labels.size(), " labels, expected as many and at least one");
    check_finite(p.x, what, "x");
    check_finite(p.y, what, "y");
    for (size_t i = 0; i < p.labels.size(); ++i)
        check(p.labels[i] >= 0, what, ": point ", i, " has class ", p.labels[i], ", expected >= 0");
}

int32_t classes_of(const ScatterPlot& p) {
    const int32_t top = *std::max_element(p.labels.begin(), p.labels.end()) + 1;
    return std::max(top, static_cast<int32_t>(p.class_names.size()));
}

PlotFrame scatter_frame(const ScatterPlot& p, PlotSize size) {
    Extent ex, ey;
    ex.add(p.x), ey.add(p.y);
    return frame_in(size, kLegend, ex.lo, ex.hi, ey.lo, ey.hi);
}

} // namespace

std::string scatter_svg(const ScatterPlot& plot, PlotSize size) {
    check_size("scatter_svg", size);
    check_scatter("scatter_svg", plot);
    const PlotFrame f = scatter_frame(plot, size);
    std::string s = header(size) + axes(f, plot.title, "", "");
    for (size_t i = 0; i < plot.x.size(); ++i)
        s += cat("<circle cx=\"", num(f.px(plot.x[i])), "\" cy=\"", num(f.py(plot.y[i])), "\" r=\"2.5\" fill=\"",
                 hex(class_colour(plot.labels[i])), "\" fill-opacity=\"0.7\"/>\n");
    std::vector<std::string> names;
    std::vector<Rgb8> colours;
    for (int32_t c = 0; c < classes_of(plot); ++c) {
        names.push_back(static_cast<size_t>(c) < plot.class_names.size() ? plot.class_names[static_cast<size_t>(c)]
                                                                         : std::to_string(c));
        colours.push_back(class_colour(c));
    }
    return s + legend(f, names, colours, true) + "</svg>\n";
}

Picture scatter_picture(const ScatterPlot& plot, PlotSize size, double radius) {
    check_size("scatter_picture", size);
    check_scatter("scatter_picture", plot);
    check(std::isfinite(radius) && radius > 0 && radius <= 64, "scatter_picture: radius ", radius,
          ", expected (0, 64] pixels");
    const PlotFrame f = scatter_frame(plot, size);
    Picture p(size.width, size.height, {255, 255, 255});
    auto disc = [&](double cx, double cy, double r, Rgb8 c) {
        // Pixel (x, y) covers [x, x + 1) x [y, y + 1): inside when its centre is within r.
        const int64_t x0 = static_cast<int64_t>(std::floor(cx - r)), x1 = static_cast<int64_t>(std::ceil(cx + r));
        const int64_t y0 = static_cast<int64_t>(std::floor(cy - r)), y1 = static_cast<int64_t>(std::ceil(cy + r));
        for (int64_t y = std::max<int64_t>(y0, 0); y <= std::min<int64_t>(y1, p.height - 1); ++y)
            for (int64_t x = std::max<int64_t>(x0, 0); x <= std::min<int64_t>(x1, p.width - 1); ++x) {
                const double dx = static_cast<double>(x) + 0.5 - cx, dy = static_cast<double>(y) + 0.5 - cy;
                if (dx * dx + dy * dy <= r * r) p.set(static_cast<uint32_t>(x), static_cast<uint32_t>(y), c);
            }
    };
    const Rgb8 axis{0x44, 0x44, 0x44};
    const auto l = static_cast<uint32_t>(f.left), t = static_cast<uint32_t>(f.top);
    const auto r = static_cast<uint32_t>(f.left + f.width), b = static_cast<uint32_t>(f.top + f.height);
    for (uint32_t x = l; x <= r && x < p.width; ++x) p.set(x, t, axis), p.set(x, std::min(b, p.height - 1), axis);
    for (uint32_t y = t; y <= b && y < p.height; ++y) p.set(l, y, axis), p.set(std::min(r, p.width - 1), y, axis);
    for (size_t i = 0; i < plot.x.size(); ++i) disc(f.px(plot.x[i]), f.py(plot.y[i]), radius, class_colour(plot.labels[i]));
    for (int32_t c = 0; c < classes_of(plot); ++c)
        disc(f.left + f.width + 18, f.top + 8 + 18.0 * c, 5, class_colour(c));
    return p;
}

std::string bar_chart_svg(const BarChart& chart, PlotSize size) {
    check_size("bar_chart_svg", size);
    check(!chart.values.empty() && chart.labels.size() == chart.values.size(), "bar_chart_svg '", chart.title, "': ",
          chart.values.size(), " values and ", chart.labels.size(), " labels, expected as many and at least one");
    check_finite(chart.values, "bar_chart_svg", chart.title);
    Extent ey;
    ey.add(chart.values);
    const double n = static_cast<double>(chart.values.size());
    PlotFrame f = frame_in(size, kRight, -0.5, n - 0.5, std::min(0.0, ey.lo), std::max(0.0, ey.hi));
    f.x0 = -0.5, f.x1 = n - 0.5; // bars centred on 0 .. n-1, no widening
    std::string s = header(size) + axes(f, chart.title, "", chart.y_label, false);
    for (size_t i = 0; i < chart.values.size(); ++i) {
        const double v = chart.values[i], x = f.px(static_cast<double>(i) - 0.4), w = f.px(0.4) - f.px(-0.4);
        const double y = f.py(std::max(v, 0.0)), h = std::fabs(f.py(v) - f.py(0.0));
        const bool hi = chart.highlight && *chart.highlight == static_cast<int>(i);
        s += cat("<rect x=\"", num(x), "\" y=\"", num(y), "\" width=\"", num(w), "\" height=\"", num(h), "\" fill=\"",
                 hi ? "#d62728" : "#1f77b4", "\"/>\n");
        s += cat("<text x=\"", num(f.px(static_cast<double>(i))), "\" y=\"", num(f.top + f.height + 16),
                 "\" text-anchor=\"middle\">", xml_escape(chart.labels[i]), "</text>\n");
    }
    return s + "</svg>\n";
}

std::string stack_svg(std::span<const std::string> documents, PlotSize each) {
    check(!documents.empty(), "stack_svg: no documents");
    std::string s = header({each.width, each.height * static_cast<uint32_t>(documents.size())});
    for (size_t i = 0; i < documents.size(); ++i) {
        // Each document's own <svg ...> element, placed by a y offset.
        const std::string& d = documents[i];
        check(d.rfind("<svg ", 0) == 0, "stack_svg: document ", i, " does not start with <svg");
        s += cat("<svg y=\"", each.height * i, "\"", d.substr(4));
    }
    return s + "</svg>\n";
}

} // namespace vkcnn::viz
