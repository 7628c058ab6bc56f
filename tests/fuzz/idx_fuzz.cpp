// libFuzzer harness: IDX images and labels from memory, plain or gzip, as
// `vkcnn train`, `eval` and `predict --index` read a dataset's files. Built
// twice: fuzz_idx takes any bytes, fuzz_idx_gzip (VKCNN_FUZZ_GZIP_ONLY) only
// gzip streams, so its corpus stays on the inflate path. What decodes must
// be consistent with its header and build a Dataset.
#include "vkcnn/core/error.h"
#include "vkcnn/data/dataset.h"
#include "vkcnn/data/idx.h"

#include <cstddef>
#include <cstdint>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace vkcnn::data;
    const std::span<const uint8_t> file(data, size);
#if VKCNN_FUZZ_GZIP_ONLY
    if (size < 2 || data[0] != 0x1F || data[1] != 0x8B) return -1; // not gzip: not for this corpus
#endif
    try {
        const IdxImages images = decode_idx_images(file, "fuzz-images");
        if (images.count <= 0 || images.rows <= 0 || images.cols <= 0 ||
            images.pixels.size() != size_t(images.count * images.rows * images.cols))
            __builtin_trap();
        IdxPair pair{images, IdxLabels{std::vector<uint8_t>(size_t(images.count), 3)}};
        const Dataset ds = Dataset::from_idx(pair, 10, kMnistNormalization);
        if (ds.size() != images.count) __builtin_trap();
    } catch (const vkcnn::Error&) {
    }
    try {
        const IdxLabels labels = decode_idx_labels(file, "fuzz-labels", 10);
        for (uint8_t l : labels.labels)
            if (l >= 10) __builtin_trap();
    } catch (const vkcnn::Error&) {
    }
    return 0;
}
