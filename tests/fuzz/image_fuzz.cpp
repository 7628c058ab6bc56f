// libFuzzer harness: image decoding from memory (io::decode_image: PNG,
// BMP, TGA and PNM through stb_image, JPEG and GIF refused), behind the
// header size check and the allocation budget, as `vkcnn predict --image`
// reads a file. What decodes must have the pixels its size says, and
// convert to grey.
#include "vkcnn/core/error.h"
#include "vkcnn/io/image.h"

#include <cstddef>
#include <cstdint>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace vkcnn::io;
    try {
        // 512 a side: the checks are the same at any limit, and larger
        // images only make each run slower.
        const Image image = decode_image(std::as_bytes(std::span(data, size)), "fuzz.png", 512);
        if (image.width == 0 || image.height == 0 || image.width > 512 || image.height > 512 || image.channels < 1 ||
            image.channels > 4 || image.pixels.size() != size_t(image.width) * image.height * image.channels)
            __builtin_trap();
        if (grey_pixels(image).size() != size_t(image.width) * image.height) __builtin_trap();
    } catch (const vkcnn::Error&) {
    }
    return 0;
}
