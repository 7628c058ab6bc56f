// IDX files, the format of MNIST and Fashion-MNIST: a big-endian header
// (magic 0x00000803 for u8 images N x rows x cols, 0x00000801 for u8 labels N)
// then the raw bytes, plain or gzip-compressed. Every problem with a file is a
// vkcnn::Error naming the file and what is wrong with it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace vkcnn::data {

inline constexpr uint32_t kIdxImagesMagic = 0x00000803; // u8, 3 dims
inline constexpr uint32_t kIdxLabelsMagic = 0x00000801; // u8, 1 dim

// The most an IDX file's content (header and data, after gunzip) may hold:
// 2 GiB, about four times the largest IDX set we know (EMNIST ByClass's
// training images, 547 MB). A header that says more is refused before
// anything is allocated, and so is a file larger than this.
inline constexpr uint64_t kMaxIdxBytes = uint64_t{1} << 31;

struct IdxImages {
    int64_t count = 0, rows = 0, cols = 0;
    std::vector<uint8_t> pixels; // (count, rows, cols), row-major
};

struct IdxLabels {
    std::vector<uint8_t> labels; // (count,), each < the class count it was read with
};

// Whether .gz files can be read. False in the WebAssembly build, which has no
// zlib (Emscripten's zlib port would be downloaded at build time); there a
// gzip file is reported as such and plain IDX files still work.
bool gzip_supported();

// The whole file, gunzipped when it starts with the gzip magic (1f 8b).
// Throws for a missing or unreadable file, a directory or other non-regular
// file, corrupt or truncated gzip, and content beyond kMaxIdxBytes.
std::vector<uint8_t> read_maybe_gzip(const std::string& path);

// Parse IDX bytes (plain, as after gunzip); `source` names the file in error messages.
IdxImages parse_idx_images(const std::vector<uint8_t>& bytes, const std::string& source);
IdxLabels parse_idx_labels(const std::vector<uint8_t>& bytes, const std::string& source, int num_classes);

// An IDX file's bytes as stored, plain or gzip (they start with 1f 8b), as
// the read_idx_* functions below see them. A gzip stream is inflated only as
// far as its IDX header says the content goes: the header is inflated
// first, its size checked against kMaxIdxBytes, and more data than it
// describes is an error as soon as it appears, so a small file that inflates
// to gigabytes costs no more than its header's worth.
IdxImages decode_idx_images(std::span<const uint8_t> file, const std::string& source);
IdxLabels decode_idx_labels(std::span<const uint8_t> file, const std::string& source, int num_classes);

IdxImages read_idx_images(const std::string& path);
// Labels must lie in [0, num_classes).
IdxLabels read_idx_labels(const std::string& path, int num_classes);

// An images file and its labels file, with the counts checked to agree.
struct IdxPair {
    IdxImages images;
    IdxLabels labels;
};
IdxPair read_idx_pair(const std::string& images_path, const std::string& labels_path, int num_classes);
// The same from the files' bytes as stored (plain or gzip; the browser fetches them).
IdxPair decode_idx_pair(std::span<const uint8_t> images, const std::string& images_source,
                        std::span<const uint8_t> labels, const std::string& labels_source, int num_classes);

// Writes a plain (uncompressed) IDX file; for tests and for exporting subsets.
void write_idx_images(const std::string& path, const IdxImages& images);
void write_idx_labels(const std::string& path, const IdxLabels& labels);

} // namespace vkcnn::data
