// Images a user hands us (`vkcnn predict --image`, an upload in the browser):
// PNG, BMP, TGA or PNM, decoded by stb_image (JPEG and GIF are refused, with
// an error saying so: see image.cpp). The size is read
// from the header and checked before a pixel is decoded, and the decoder's
// allocations are capped by what an image of that size needs, so a small
// file cannot make us allocate gigabytes; every problem is a vkcnn::Error
// naming the file and what is wrong with it. No Vulkan, no threads: it is in
// the WebAssembly build too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>
#include <vector>

namespace vkcnn::io {

struct Image {
    uint32_t width = 0, height = 0, channels = 0; // channels: 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA
    std::vector<uint8_t> pixels;                  // row-major, `channels` bytes per pixel
};

// Decodes a PNG (or another format stb reads) from memory. The dimensions are
// read from the header first (stbi_info_from_memory) and checked against
// max_side before anything is decoded; errors (vkcnn::Error) name `source`
// and the problem, never an empty reason. 16-bit images come out as 8 bits
// per channel (the high byte), palettes expanded to RGB or RGBA.
Image decode_image(std::span<const std::byte> bytes, std::string_view source, uint32_t max_side = 4096);

// Reads the file and decodes it. Errors for a missing file, a directory or
// other non-regular file, and a file larger than any image of at most
// max_side x max_side pixels can reasonably be.
Image read_image(const std::filesystem::path& path, uint32_t max_side = 4096);

// One grey byte per pixel: grey stays, RGB becomes luminance with stb's
// weights ((77 R + 150 G + 29 B) >> 8, ITU-R BT.601 rounded), alpha is
// dropped — what stbi_load(..., 1) gives.
std::vector<uint8_t> grey_pixels(const Image& image);

} // namespace vkcnn::io
