// libFuzzer harness: safetensors parsing from memory — the header length,
// the JSON header (nesting, duplicate keys, types), offsets and dtypes — as
// `vkcnn eval`, `predict` and `train --resume` reach it. What parses must
// also survive a round trip through the writer unchanged.
#include "vkcnn/core/error.h"
#include "vkcnn/io/safetensors.h"

#include <cstddef>
#include <cstdint>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace vkcnn::io;
    SafeTensors file;
    try {
        file = parse_safetensors(std::as_bytes(std::span(data, size)), "fuzz.safetensors");
    } catch (const vkcnn::Error&) {
        return 0; // a clear error is the right answer to a bad file
    }
    for (const SafeTensor& t : file.tensors) t.check_size();
    const std::vector<std::byte> bytes = serialize_safetensors(file.tensors, file.metadata);
    const SafeTensors again = parse_safetensors(bytes, "round trip");
    if (again.metadata != file.metadata || again.tensors.size() != file.tensors.size()) __builtin_trap();
    for (size_t i = 0; i < file.tensors.size(); ++i) {
        const SafeTensor &a = file.tensors[i], &b = again.tensors[i];
        if (a.name != b.name || a.dtype != b.dtype || a.shape != b.shape || a.data != b.data) __builtin_trap();
    }
    return 0;
}
