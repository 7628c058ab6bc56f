// Receptive fields: which input pixels one output unit of a layer can see,
// from the kernels, strides, padding and dilation of the layers before it.
// Read from the model's graph itself rather than from the modules, so every
// network the graph can build is covered, residual blocks and all: a sum or
// concatenation of branches sees the union of their fields.
#pragma once

#include "vkcnn/core/tensor.h"
#include "vkcnn/nn/model.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vkcnn::viz {

// One axis of a field in input pixels: output unit o sees the input rows (or
// columns) [start + o * jump, start + o * jump + size). `start` is negative
// where padding puts part of the window outside the image.
struct FieldAxis {
    int64_t size = 1;  // the window's extent (for a dilated kernel: its span, holes included)
    int64_t jump = 1;  // input pixels between neighbouring output units (the product of the strides)
    int64_t start = 0; // where unit 0's window begins
};

struct ReceptiveField {
    std::string path; // "3", "4.body.1"; "input" for the input itself
    Shape shape;      // of the layer's output for one sample: (1, C, H, W), or (1, F) after Flatten
    FieldAxis y, x;
    // Every unit sees the whole input: after Flatten / Linear, global or
    // uneven adaptive pooling, or an op whose windows are not a fixed grid
    // (transposed convolution) — a bound that is always true.
    bool whole = false;
};

// A box of input pixels, half-open: columns [x0, x1), rows [y0, y1).
struct Box {
    int64_t x0 = 0, y0 = 0, x1 = 0, y1 = 0;
    int64_t width() const { return x1 - x0; }
    int64_t height() const { return y1 - y0; }
    bool operator==(const Box&) const = default;
};

// A unit of a layer's output: its channel (or feature) and spatial position.
// Layers without spatial axes (after Flatten) use channel alone, y = x = 0.
struct Unit {
    int64_t channel = 0, y = 0, x = 0;
};

// The field of "input" and of every layer of `net` on inputs of `input`
// (C, H, W), in build order (as Model::layers()).
std::vector<ReceptiveField> receptive_fields(const nn::Module& net, std::array<int64_t, 3> input);
std::vector<ReceptiveField> receptive_fields(const nn::Model& model);
// One layer's; an error listing the layer paths when `path` is none of them.
ReceptiveField receptive_field(const nn::Model& model, std::string_view path);

// The window `unit` of the field's layer sees, not clipped: it may reach
// outside the image by the padding. Whole fields give the whole image.
// Throws naming the layer, its shape and the unit when the unit is not in it.
Box field_box(const ReceptiveField& field, std::array<int64_t, 3> input, Unit unit);
// The same clipped to the image (C, H, W): the input pixels the unit depends on.
Box input_box(const ReceptiveField& field, std::array<int64_t, 3> input, Unit unit);

} // namespace vkcnn::viz
