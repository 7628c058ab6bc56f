// Reports: the confusion matrix, the most confident mistakes and the
// training curves, drawn with picture.h and plot.h.
#include "vkcnn/viz/reports.h"

#include "vkcnn/core/error.h"
#include "vkcnn/nn/model.h"
#include "vkcnn/viz/attribution.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>

namespace vkcnn::viz {

namespace {

void check_confusion(const char* what, std::span<const int64_t> confusion, uint32_t classes) {
    check(classes >= 1 && confusion.size() == size_t{classes} * classes, what, ": ", confusion.size(),
          " counts for ", classes, " classes, expected ", size_t{classes} * classes);
    for (size_t i = 0; i < confusion.size(); ++i)
        check(confusion[i] >= 0, what, ": count (", i / classes, ", ", i % classes, ") is ", confusion[i],
              ", expected >= 0");
}

// Row t divided by its total: the share of class t's samples predicted as each class.
std::vector<float> row_shares(std::span<const int64_t> confusion, uint32_t classes) {
    std::vector<float> share(confusion.size(), 0.0f);
    for (size_t t = 0; t < classes; ++t) {
        const int64_t row = std::accumulate(confusion.begin() + static_cast<ptrdiff_t>(t * classes),
                                            confusion.begin() + static_cast<ptrdiff_t>((t + 1) * classes), int64_t{0});
        if (row == 0) continue;
        for (size_t p = 0; p < classes; ++p)
            share[t * classes + p] = static_cast<float>(static_cast<double>(confusion[t * classes + p]) / static_cast<double>(row));
    }
    return share;
}

std::string hex(Rgb8 c) {
    char b[8];
    std::snprintf(b, sizeof b, "#%02x%02x%02x", c.r, c.g, c.b);
    return b;
}

} // namespace

Picture confusion_picture(std::span<const int64_t> confusion, uint32_t classes, uint32_t cell) {
    check_confusion("confusion_picture", confusion, classes);
    check(cell >= 1, "confusion_picture: cell is 0 pixels, expected at least 1");
    const std::vector<Rgb8> c = colours(row_shares(confusion, classes), {0.0f, 1.0f}, ops::Colormap::Sequential);
    std::vector<Picture> cells;
    for (const Rgb8& colour : c) cells.emplace_back(cell, cell, colour);
    return grid(cells, {.columns = classes, .padding = 1});
}

std::string confusion_svg(std::span<const int64_t> confusion, uint32_t classes, std::span<const std::string> names) {
    check_confusion("confusion_svg", confusion, classes);
    check(names.empty() || names.size() == classes, "confusion_svg: ", names.size(), " class names for ", classes,
          " classes");
    const std::vector<float> share = row_shares(confusion, classes);
    const std::vector<Rgb8> c = colours(share, {0.0f, 1.0f}, ops::Colormap::Sequential);
    constexpr uint32_t kCell = 40, kMargin = 70;
    const uint32_t side = kMargin + classes * kCell + 10;
    auto name = [&](size_t i) { return names.empty() ? std::to_string(i) : xml_escape(names[i]); };
    std::string s = cat("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"", side, "\" height=\"", side,
                        "\" viewBox=\"0 0 ", side, " ", side, "\" font-family=\"sans-serif\" font-size=\"12\">\n",
                        "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
    s += cat("<text x=\"", kMargin + classes * kCell / 2, "\" y=\"16\" text-anchor=\"middle\">predicted</text>\n");
    s += cat("<text x=\"14\" y=\"", kMargin + classes * kCell / 2, "\" text-anchor=\"middle\" transform=\"rotate(-90 14 ",
             kMargin + classes * kCell / 2, ")\">true</text>\n");
    for (size_t i = 0; i < classes; ++i) {
        const size_t mid = kMargin + i * kCell + kCell / 2;
        s += cat("<text x=\"", mid, "\" y=\"", kMargin - 8, "\" text-anchor=\"middle\">", name(i), "</text>\n");
        s += cat("<text x=\"", kMargin - 8, "\" y=\"", mid, "\" text-anchor=\"end\" dominant-baseline=\"middle\">",
                 name(i), "</text>\n");
    }
    for (size_t t = 0; t < classes; ++t)
        for (size_t p = 0; p < classes; ++p) {
            const size_t i = t * classes + p, x = kMargin + p * kCell, y = kMargin + t * kCell;
            s += cat("<rect x=\"", x, "\" y=\"", y, "\" width=\"", kCell, "\" height=\"", kCell, "\" fill=\"", hex(c[i]),
                     "\" stroke=\"white\"/>\n");
            // Dark text on viridis' light end (yellow-green), light text on its dark end.
            s += cat("<text x=\"", x + kCell / 2, "\" y=\"", y + kCell / 2,
                     "\" text-anchor=\"middle\" dominant-baseline=\"middle\" fill=\"", share[i] > 0.6f ? "black" : "white",
                     "\">", confusion[i], "</text>\n");
        }
    return s + "</svg>\n";
}

std::vector<Misclassified> misclassified(std::span<const float> logits, std::span<const int32_t> labels,
                                         uint32_t classes, size_t n) {
    check(classes >= 2 && logits.size() == labels.size() * classes, "misclassified: ", logits.size(), " scores for ",
          labels.size(), " samples of ", classes, " classes");
    std::vector<Misclassified> wrong;
    std::vector<int32_t> order(classes);
    for (size_t i = 0; i < labels.size(); ++i) {
        check(labels[i] >= 0 && static_cast<uint32_t>(labels[i]) < classes, "misclassified: sample ", i, " has label ",
              labels[i], ", expected 0..", classes - 1);
        const std::span<const float> z = logits.subspan(i * classes, classes);
        const std::vector<double> p = softmax(z);
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
            return p[static_cast<size_t>(a)] > p[static_cast<size_t>(b)];
        });
        if (order[0] == labels[i]) continue;
        Misclassified m{static_cast<int64_t>(i), labels[i], {}};
        for (size_t k = 0; k < 3; ++k) {
            const int32_t c = k < classes ? order[k] : -1;
            m.top[k] = c < 0 ? ClassScore{-1, 0.0} : ClassScore{c, p[static_cast<size_t>(c)]};
        }
        wrong.push_back(m);
    }
    std::stable_sort(wrong.begin(), wrong.end(), [](const Misclassified& a, const Misclassified& b) {
        return a.top[0].probability > b.top[0].probability;
    });
    if (wrong.size() > n) wrong.resize(n);
    return wrong;
}

std::vector<Misclassified> misclassified(nn::Model& model, const data::Dataset& dataset, size_t n, int64_t batch) {
    check(batch >= 1, "misclassified: batch ", batch, ", expected at least 1");
    check(dataset.size() > 0, "misclassified: the dataset is empty");
    const uint32_t classes = model.options().classes;
    std::vector<float> logits;
    logits.reserve(static_cast<size_t>(dataset.size()) * classes);
    const size_t per = static_cast<size_t>(dataset.image_elements());
    // Full batches, then the rest at its own size (a second, smaller program).
    for (int64_t start = 0; start < dataset.size(); start += batch) {
        const int64_t b = std::min(batch, dataset.size() - start);
        const std::span<const float> x = dataset.images().subspan(static_cast<size_t>(start) * per, static_cast<size_t>(b) * per);
        const std::vector<float> z = model.predict(x, b);
        logits.insert(logits.end(), z.begin(), z.end());
    }
    return misclassified(logits, dataset.labels(), classes, n);
}

std::string caption(const Misclassified& m) {
    std::string s = cat("#", m.index, " label ", m.label, ":");
    for (size_t k = 0; k < m.top.size(); ++k) {
        if (m.top[k].cls < 0) break;
        char b[40];
        std::snprintf(b, sizeof b, "%s %d %.1f%%", k ? "," : "", m.top[k].cls, 100.0 * m.top[k].probability);
        s += b;
    }
    return s;
}

Picture gallery(const data::Dataset& dataset, std::span<const Misclassified> samples, uint32_t scale, uint32_t columns) {
    check(!samples.empty(), "gallery: no samples to show");
    check(dataset.channels() == 1 || dataset.channels() == 3, "gallery: images of ", dataset.channels(),
          " channels; drawn as grey (1) or RGB (3)");
    const data::Normalization norm = dataset.normalization();
    const auto h = static_cast<uint32_t>(dataset.height()), w = static_cast<uint32_t>(dataset.width());
    std::vector<Picture> pictures;
    for (const Misclassified& m : samples) {
        check(m.index >= 0 && m.index < dataset.size(), "gallery: sample index ", m.index, " is outside the dataset (0..",
              dataset.size() - 1, ")");
        const std::span<const float> x = dataset.image(m.index);
        Picture p(w, h);
        auto level = [&](float v) {
            return static_cast<uint8_t>(std::lround(std::clamp(v * norm.std + norm.mean, 0.0f, 1.0f) * 255.0f));
        };
        const size_t hw = size_t{h} * w;
        for (size_t i = 0; i < hw; ++i) {
            const uint8_t r = level(x[i]);
            const Rgb8 c = dataset.channels() == 1 ? Rgb8{r, r, r} : Rgb8{r, level(x[hw + i]), level(x[2 * hw + i])};
            p.set(static_cast<uint32_t>(i % w), static_cast<uint32_t>(i / w), c);
        }
        pictures.push_back(upscale(p, scale));
    }
    // Mid-grey between the digits: MNIST's black background would merge with the usual dark one.
    return grid(pictures, {.columns = columns, .padding = 2, .background = {0x80, 0x80, 0x80}});
}

TrainingLog parse_training_log(std::string_view text, const std::string& source) {
    TrainingLog log;
    size_t pos = 0, line_no = 0;
    bool header = false;
    while (pos < text.size()) {
        const size_t end = text.find('\n', pos);
        const bool complete = end != std::string_view::npos;
        std::string_view line = text.substr(pos, complete ? end - pos : std::string_view::npos);
        pos = complete ? end + 1 : text.size();
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) continue;
        if (!header) {
            check(line == kLogHeader, source, ":", line_no, ": expected the header '", kLogHeader, "', got '", line, "'");
            header = true;
            continue;
        }
        std::vector<std::string_view> f;
        for (size_t s = 0;;) {
            const size_t comma = line.find(',', s);
            f.push_back(line.substr(s, comma == std::string_view::npos ? std::string_view::npos : comma - s));
            if (comma == std::string_view::npos) break;
            s = comma + 1;
        }
        // strtod, not from_chars: the WebAssembly build's libc++ has no
        // floating-point from_chars. No locale is set, so '.' is the point.
        auto number = [&](size_t i, double& v) {
            const std::string t(f[i]);
            char* stop = nullptr;
            v = std::strtod(t.c_str(), &stop);
            return !t.empty() && stop == t.c_str() + t.size() && std::isfinite(v);
        };
        LogLine l;
        double step = 0;
        bool ok = f.size() == 6 && (f[0] == "train" || f[0] == "test") && number(1, step) && step >= 0 &&
                  number(2, l.epoch) && number(3, l.loss) && number(4, l.accuracy) &&
                  (f[5].empty() || number(5, l.learning_rate));
        if (!ok && !complete) break; // the last line of an interrupted run, cut short
        check(ok, source, ":", line_no, ": expected kind (train or test), step, epoch, loss, accuracy, learning_rate; got '",
              line, "'");
        l.step = static_cast<uint64_t>(step);
        (f[0] == "train" ? log.train : log.test).push_back(l);
    }
    check(header, source, ": empty; expected the header '", kLogHeader, "'");
    check(!log.train.empty() || !log.test.empty(), source, ": no training or test lines after the header");
    return log;
}

std::string curves_svg(const TrainingLog& log, PlotSize each) {
    // Evaluations are few: each is a dot (a single one would draw no line).
    auto series = [](const std::vector<LogLine>& lines, const char* name, double LogLine::*field, bool dots) {
        Series s{name, {}, {}, dots};
        for (const LogLine& l : lines) s.x.push_back(l.epoch), s.y.push_back(l.*field);
        return s;
    };
    LinePlot loss{"loss", "epoch", "cross-entropy", {}, {}, {}, false};
    LinePlot accuracy{"accuracy", "epoch", "accuracy", {}, 0.0, 1.0, false};
    if (!log.train.empty()) {
        loss.series.push_back(series(log.train, "training", &LogLine::loss, false));
        accuracy.series.push_back(series(log.train, "batch", &LogLine::accuracy, false));
    }
    if (!log.test.empty()) {
        loss.series.push_back(series(log.test, "test", &LogLine::loss, true));
        accuracy.series.push_back(series(log.test, "test", &LogLine::accuracy, true));
    }
    loss.y_min = 0.0;
    const std::string docs[] = {line_plot_svg(loss, each), line_plot_svg(accuracy, each)};
    return stack_svg(docs, each);
}

} // namespace vkcnn::viz
