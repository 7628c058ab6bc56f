// Plots without a plotting engine (Debian packages no small C++ one): SVG
// documents for curves (training, accuracy vs epsilon), scatter plots
// coloured by class (PCA, t-SNE) and bar charts (class probabilities), plus
// a raster scatter plot (points as discs) for those who want a PNG. Every
// value must be finite: NaN or infinity is an error naming the series.
#pragma once

#include "vkcnn/viz/picture.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vkcnn::viz {

struct PlotSize {
    uint32_t width = 640, height = 400;
};

// Where data lands on the page: the data range [x0, x1] x [y0, y1] spans
// the plot area (left, top, width, height, in pixels; y grows downwards).
struct PlotFrame {
    double x0 = 0, x1 = 1, y0 = 0, y1 = 1;
    double left = 0, top = 0, width = 1, height = 1;

    double px(double x) const { return left + (x1 > x0 ? (x - x0) / (x1 - x0) : 0.5) * width; }
    double py(double y) const { return top + height - (y1 > y0 ? (y - y0) / (y1 - y0) : 0.5) * height; }
};
// The frame of a plot of this size whose data spans [x0, x1] x [y0, y1]
// (widened to the ticks' round numbers; a single value gets a unit around it).
PlotFrame plot_frame(PlotSize size, double x0, double x1, double y0, double y1);
// About `count` round tick values (steps of 1, 2 or 5 times a power of ten) covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int count = 6);

// The colour of class c in scatter plots and legends (matplotlib's tab10, cycled).
Rgb8 class_colour(int32_t c);
// Text for an SVG document: & < > " ' escaped.
std::string xml_escape(std::string_view text);

struct Series {
    std::string name;
    std::vector<double> x, y;
    bool markers = false; // a dot at every point of this series (LinePlot::markers: of every series)
};
struct LinePlot {
    std::string title, x_label, y_label;
    std::vector<Series> series;
    std::optional<double> y_min, y_max; // fixed ends of the y axis (accuracy: 0 and 1)
    bool markers = false;               // a dot at every point (few points: accuracy per epsilon)
};
std::string line_plot_svg(const LinePlot& plot, PlotSize size = {});

struct ScatterPlot {
    std::string title;
    std::vector<double> x, y;
    std::vector<int32_t> labels;           // a class per point, >= 0
    std::vector<std::string> class_names;  // legend text per class; empty: the class numbers
};
std::string scatter_svg(const ScatterPlot& plot, PlotSize size = {});
// The points as discs of `radius` pixels on white, axes as grey lines, a
// legend of colour swatches in class order at the right (no text: no font).
Picture scatter_picture(const ScatterPlot& plot, PlotSize size = {}, double radius = 2.5);

struct BarChart {
    std::string title, y_label;
    std::vector<std::string> labels;
    std::vector<double> values;
    std::optional<int> highlight; // this bar in the accent colour (the predicted class)
};
std::string bar_chart_svg(const BarChart& chart, PlotSize size = {});

// SVG documents one above another in one document (nested <svg> elements).
std::string stack_svg(std::span<const std::string> documents, PlotSize each);

} // namespace vkcnn::viz
