// On-device image augmentation, torchvision's RandomAffine (no shear) on a
// batch x (N, C, H, W) of already normalised images: each sample n gets its own
// rotation, isotropic scale and translation about the image centre, drawn with
// Philox4x32-10 keyed by (seed, step) as dropout draws its masks, so a recorded
// command buffer draws new transforms every run once the host rewrites the key.
// Reference, CPU kernel, GPU launch (shaders/augment.comp).
//
// The draw. Sample n takes the Philox block for counter {n, stream, 0x61756700
// ("aug\0"), 0} under key {seed, step} (the third word keeps it apart from
// dropout's counters {i / 4, stream, 0, 0}); its four words b0..b3 give
// u_k = (b_k >> 8) * 2^-24 in [0, 1) and s_k = 2 u_k - 1 in [-1, 1) (both exact
// in float), then, in float, in this order:
//   degrees = max_degrees * s0,  radians = degrees * float(pi / 180),
//   cos_a = cos(radians), sin_a = sin(radians),
//   scale = 1 + max_scale * s1,  tx = max_translate * s2,  ty = max_translate * s3.
//
// The transform. With the centre (cx, cy) = ((W - 1) / 2, (H - 1) / 2) the
// forward map sends an input point p to c + scale * R(a) * (p - c) + t, with
// R(a) = [[cos, -sin], [sin, cos]] in (x right, y down) pixel coordinates (a
// positive angle turns the content clockwise on screen, as torchvision's
// F.affine). Output pixel (x, y) samples the input at the inverse image:
//   dx = x - cx - tx,  dy = y - cy - ty,
//   px = cx + (cos_a * dx + sin_a * dy) / scale,
//   py = cy + (cos_a * dy - sin_a * dx) / scale,
// with bilinear interpolation. Taps at x0 = floor(px), x0 + 1, y0 = floor(py),
// y0 + 1 with weights wx = px - x0, wy = py - y0:
//   top = (1 - wx) * v(x0, y0) + wx * v(x0 + 1, y0)   (just v(x0, y0) when wx == 0)
//   bot = the same on row y0 + 1
//   out = (1 - wy) * top + wy * bot                     (just top when wy == 0)
// where a tap outside the input reads `fill`; a point with no tap inside
// (not (-1 < px < W and -1 < py < H), or NaN) gives fill exactly. All channels
// of a sample share its transform. Zero-weight taps are skipped, so the
// identity transform copies x bit for bit.
// Differences from torchvision: translations are continuous (torchvision
// rounds them to whole pixels); at the border torchvision blends
// img * mask + (1 - mask) * fill with mask the bilinear coverage, here each
// outside tap reads fill (the same away from the border band).
#pragma once

#include "vkcnn/core/kernel_launch.h"
#include "vkcnn/cpu/thread_pool.h"
#include "vkcnn/ops/philox.h"

#include <cstdint>
#include <span>

namespace vkcnn::ops {

struct AugmentAttrs {
    float max_degrees = 0;   // rotation angle uniform in [-max_degrees, max_degrees], max_degrees in [0, 180]
    float max_scale = 0;     // scale uniform in [1 - max_scale, 1 + max_scale], max_scale in [0, 1)
    float max_translate = 0; // tx, ty uniform in [-max_translate, max_translate] pixels, finite and >= 0
    float fill = 0;          // what points outside the input read (the normalised background), finite
    uint32_t stream = 0;     // Philox counter word 1: each augment of a pipeline its own
};

// One sample's transform (see the top of this file).
struct AffineParams {
    float cos_a = 1, sin_a = 0, scale = 1, tx = 0, ty = 0;
};

// Throws vkcnn::Error naming "augment" and the value for attrs outside their ranges (or NaN).
void check_augment_attrs(const AugmentAttrs& attrs);

// The transform of sample n drawn from key: the float arithmetic above, which
// the shader repeats (its sin / cos may differ in the last bits). Checks attrs.
AffineParams augment_params(const AugmentAttrs& attrs, PhiloxKey key, uint32_t n);

// References: plain loops, the spec. affine_reference applies explicit params
// (one per sample, params.size() == N); augment_reference draws them with
// augment_params. Write (=) y. x_shape must be 4-D (N, C, H, W), no dimension
// empty, H and W at most 2^24, N below 2^32 (the Philox counter).
template <typename T>
void affine_reference(std::span<const AffineParams> params, float fill, std::span<const int64_t> x_shape,
                      std::span<const T> x, // (N, C, H, W)
                      std::span<T> y);      // (N, C, H, W)
template <typename T>
void augment_reference(const AugmentAttrs& attrs, PhiloxKey key, std::span<const int64_t> x_shape,
                       std::span<const T> x, std::span<T> y);

// CPU backend kernel, bitwise equal to augment_reference<float>; threads over
// the rows of the batch (deterministic: each output written once, no
// reductions). Writes (=) y.
void augment_cpu(cpu::ThreadPool& pool, const AugmentAttrs& attrs, PhiloxKey key, std::span<const int64_t> x_shape,
                 std::span<const float> x, std::span<float> y);

// Vulkan launch of shaders/augment.comp, arguments (x (N, C, H, W), key (two
// uint32: PhiloxKey {seed, step}), y (N, C, H, W)); writes (=) y. One
// invocation per output pixel, grid-stride; each redraws its sample's
// transform. Equal to augment_cpu but for the GPU's sin / cos (and division
// where the driver's is not correctly rounded): see tests/ops/augment_test.cpp.
KernelLaunch augment_launch(const AugmentAttrs& attrs, std::span<const int64_t> x_shape);

} // namespace vkcnn::ops
