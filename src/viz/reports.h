// Item 9, the reports people look at after training: the confusion matrix
// (heat map PNG and SVG with the counts), the gallery of the test digits the
// model gets most confidently wrong with their top-3, and training curves
// from the CSV log `vkcnn train --log` writes.
#pragma once

#include "vkcnn/data/dataset.h"
#include "vkcnn/viz/picture.h"
#include "vkcnn/viz/plot.h"

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vkcnn::nn {
class Model;
}

namespace vkcnn::viz {

// `confusion` is classes x classes counts, row = true class, column =
// predicted (nn::EvalResult::confusion). Each row normalised by its total
// (a row without samples stays 0), drawn through viridis over [0, 1], each
// cell `cell` x `cell` pixels, one pixel of background between cells.
Picture confusion_picture(std::span<const int64_t> confusion, uint32_t classes, uint32_t cell = 24);
// The same as SVG: cells shaded by the row share, each with its count
// written in, class names (empty: numbers) along both axes.
std::string confusion_svg(std::span<const int64_t> confusion, uint32_t classes,
                          std::span<const std::string> class_names = {});

struct ClassScore {
    int32_t cls = 0;
    double probability = 0; // softmax, in [0, 1]
};
struct Misclassified {
    int64_t index = 0; // in the dataset
    int32_t label = 0;
    std::array<ClassScore, 3> top{}; // top[0] is the (wrong) prediction
};
// The `n` test samples predicted wrong with the highest confidence in the
// wrong class (ties: lower index first), predicted in batches of `batch` on
// the model's live weights.
std::vector<Misclassified> misclassified(nn::Model& model, const data::Dataset& dataset, size_t n, int64_t batch = 256);
// The same from logits already computed (dataset.size() x classes).
std::vector<Misclassified> misclassified(std::span<const float> logits, std::span<const int32_t> labels,
                                         uint32_t classes, size_t n);
// "#1234 label 4: 9 87.1%, 4 10.2%, 7 1.0%"
std::string caption(const Misclassified& m);
// The samples as grey pictures (the dataset's normalisation undone, [0, 1]
// pixels black to white), each upscaled by `scale`, in a grid.
Picture gallery(const data::Dataset& dataset, std::span<const Misclassified> samples, uint32_t scale = 3,
                uint32_t columns = 0);

// A training run's log (`vkcnn train --log FILE`): CSV with the header
// kLogHeader, a "train" line per logged step and a "test" line per evaluation.
inline constexpr std::string_view kLogHeader = "kind,step,epoch,loss,accuracy,learning_rate";
struct LogLine {
    uint64_t step = 0;
    double epoch = 0; // fractional: step / steps per epoch
    double loss = 0, accuracy = 0, learning_rate = 0;
};
struct TrainingLog {
    std::vector<LogLine> train, test;
};
// Parses the text; errors name `source` and the line. A last line without
// its newline (a run interrupted mid-write) is ignored when incomplete.
TrainingLog parse_training_log(std::string_view text, const std::string& source);
// Loss (training and test) above accuracy (batch and test) against the epoch, one SVG.
std::string curves_svg(const TrainingLog& log, PlotSize each = {});

} // namespace vkcnn::viz
