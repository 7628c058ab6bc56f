// safetensors reading and writing. The header is parsed by nlohmann::json
// (never by hand); everything the format promises (offsets in range, sizes
// matching dtype x shape, tensors contiguous, names unique) is checked here,
// the same rules as the reference Rust implementation, each with its own
// message. Writes go through a temporary file and a rename.
#include "vkcnn/io/safetensors.h"

#include "vkcnn/core/error.h"
#include "vkcnn/io/temporary_file.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <set>
#include <stdexcept>
#include <tuple>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

// The format is little-endian and tensors are memcpy'd in and out; every
// target we build for (x86-64, arm64, wasm32) is little-endian.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace vkcnn::io {
namespace {

struct DTypeInfo {
    StDType type;
    const char* name;
    size_t size;
};
constexpr DTypeInfo kDTypes[] = {
    {StDType::BOOL, "BOOL", 1}, {StDType::U8, "U8", 1},   {StDType::I8, "I8", 1},     {StDType::F8_E5M2, "F8_E5M2", 1},
    {StDType::F8_E4M3, "F8_E4M3", 1}, {StDType::I16, "I16", 2}, {StDType::U16, "U16", 2}, {StDType::F16, "F16", 2},
    {StDType::BF16, "BF16", 2}, {StDType::I32, "I32", 4}, {StDType::U32, "U32", 4}, {StDType::F32, "F32", 4},
    {StDType::F64, "F64", 8},   {StDType::I64, "I64", 8}, {StDType::U64, "U64", 8},
};
static_assert(std::size(kDTypes) == size_t(StDType::U64) + 1, "every StDType needs a row in kDTypes");

// The reference implementation refuses headers over 100 MB; so do we, which
// also bounds what a corrupt length field can make us allocate.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

std::string shape_str(const std::vector<int64_t>& shape) {
    std::string s = "(";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + (shape.size() == 1 ? ",)" : ")");
}

std::string known_dtypes() {
    std::string s;
    for (const DTypeInfo& d : kDTypes) s += (s.empty() ? "" : ", ") + std::string(d.name);
    return s;
}

// Number of bytes for shape x element size, or nullopt on uint64 overflow.
// A zero dim anywhere holds nothing, however large the others.
std::optional<uint64_t> byte_count(const std::vector<uint64_t>& shape, uint64_t elem) {
    if (std::find(shape.begin(), shape.end(), uint64_t{0}) != shape.end()) return 0;
    uint64_t n = elem;
    for (uint64_t d : shape) {
        if (n > std::numeric_limits<uint64_t>::max() / d) return std::nullopt;
        n *= d;
    }
    return n;
}

// Errors show a hostile header's values without serialising them: dump()
// recurses once per nesting level (an array 90000 deep overflows the stack)
// and a value, a name or a parse error's "last read" may be megabytes long.
// Values are cut to kValueChars, names to kNameChars, parse errors to
// kParseErrorChars, at a UTF-8 character boundary; control characters are
// escaped so a name cannot rewrite the terminal.
constexpr size_t kValueChars = 40;
constexpr size_t kNameChars = 200;
constexpr size_t kParseErrorChars = 300;

std::string shown(std::string_view text, size_t max_chars) {
    size_t end = text.size();
    if (end > max_chars) {
        end = max_chars;
        while (end > 0 && (uint8_t(text[end]) & 0xC0) == 0x80) --end; // not inside a UTF-8 sequence
    }
    std::string out;
    for (size_t i = 0; i < end; ++i) {
        const auto c = uint8_t(text[i]);
        if (c < 0x20 || c == 0x7F) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02X", c);
            out += buf;
        } else {
            out += char(c);
        }
    }
    if (end < text.size()) out += cat("... (", text.size(), " bytes)");
    return out;
}

std::string name_str(std::string_view name) { return shown(name, kNameChars); }

// A header value as an error names it: a scalar as its (cut) JSON text, a
// short array of scalars as itself ("[0]"), anything else by type and size.
std::string describe(const nlohmann::json& v) {
    using T = nlohmann::json::value_t;
    switch (v.type()) {
    case T::array: {
        const bool flat = v.size() <= 4 && std::none_of(v.begin(), v.end(), [](const nlohmann::json& e) {
                              return e.is_structured();
                          });
        if (flat) {
            std::string s = "[";
            for (const nlohmann::json& e : v) {
                if (s.size() > 1) s += ',';
                s += describe(e);
            }
            if (s.size() < 2 * kValueChars) return s + "]";
        }
        return cat("an array of ", v.size(), v.size() == 1 ? " element" : " elements");
    }
    case T::object: return cat("an object of ", v.size(), v.size() == 1 ? " key" : " keys");
    case T::string: return cat('"', shown(v.get_ref<const std::string&>(), kValueChars), '"');
    default: return shown(v.dump(), kValueChars); // null, a boolean or a number: a few characters
    }
}

// "(2, 3)", "(5,)"; a shape of hundreds of dims shows its first few.
std::string shape_text(const std::vector<uint64_t>& shape) {
    constexpr size_t kShownDims = 8;
    std::string s = "(";
    for (size_t i = 0; i < std::min(shape.size(), kShownDims); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    if (shape.size() > kShownDims) return s + cat(", ... (", shape.size(), " dims))");
    return s + (shape.size() == 1 ? ",)" : ")");
}

uint64_t get_u64(const nlohmann::json& v, const std::string& source, const std::string& what) {
    if (!v.is_number_unsigned())
        throw Error(cat(source, ": ", what, " must be a non-negative integer, found ", describe(v)));
    return v.get<uint64_t>();
}

// The parsed header entry of one tensor.
struct Entry {
    std::string name;
    StDType dtype;
    std::vector<uint64_t> shape;
    uint64_t begin, end;
};

Entry parse_entry(const std::string& name, const nlohmann::json& v, const std::string& source, uint64_t data_size) {
    const std::string where = cat(source, ": tensor \"", name_str(name), "\"");
    if (!v.is_object()) throw Error(cat(where, ": expected an object, found ", describe(v)));
    for (const char* key : {"dtype", "shape", "data_offsets"})
        if (!v.contains(key)) throw Error(cat(where, ": missing \"", key, "\""));
    const nlohmann::json& dt = v["dtype"];
    if (!dt.is_string()) throw Error(cat(where, ": dtype must be a string, found ", describe(dt)));
    const auto dtype = st_dtype_from_name(dt.get<std::string>());
    if (!dtype) throw Error(cat(where, ": unknown dtype ", describe(dt), " (known: ", known_dtypes(), ")"));
    const nlohmann::json& sh = v["shape"];
    if (!sh.is_array()) throw Error(cat(where, ": shape must be an array, found ", describe(sh)));
    Entry e{name, *dtype, {}, 0, 0};
    for (const nlohmann::json& d : sh) e.shape.push_back(get_u64(d, where, "shape entry"));
    const nlohmann::json& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2)
        throw Error(cat(where, ": data_offsets must be [begin, end], found ", describe(off)));
    e.begin = get_u64(off[0], where, "data_offsets begin");
    e.end = get_u64(off[1], where, "data_offsets end");
    if (e.begin > e.end) throw Error(cat(where, ": data_offsets [", e.begin, ", ", e.end, "] has begin after end"));
    if (e.end > data_size)
        throw Error(cat(where, ": data_offsets [", e.begin, ", ", e.end, "] out of range: the data section has ",
                        data_size, " bytes"));
    const auto need = byte_count(e.shape, st_dtype_size(e.dtype));
    if (!need || *need != e.end - e.begin)
        throw Error(cat(where, ": shape ", shape_text(e.shape), " of ", st_dtype_name(e.dtype), " needs ",
                        need ? std::to_string(*need) : std::string("more than 2^64"), " bytes, data_offsets [",
                        e.begin, ", ", e.end, "] hold ", e.end - e.begin));
    return e;
}

Metadata parse_metadata(const nlohmann::json& v, const std::string& source) {
    Metadata m;
    if (v.is_null()) return m; // the reference writer's Option<HashMap> may be null
    if (!v.is_object()) throw Error(cat(source, ": __metadata__ must be an object, found ", describe(v)));
    for (const auto& [key, value] : v.items()) {
        if (!value.is_string())
            throw Error(cat(source, ": __metadata__ \"", name_str(key), "\" must be a string, found ", describe(value)));
        m.emplace(key, value.get<std::string>());
    }
    return m;
}

// Parses the header JSON. nlohmann keeps the last of duplicate keys without a
// word, so a callback sees every key and throws on the second sighting
// (a stack of key sets, one per open object).
nlohmann::json parse_header_json(std::string_view text, const std::string& source) {
    std::vector<std::set<std::string>> open_objects;
    std::vector<std::string> parent_keys; // the key under which each open object sits
    std::string last_key;
    auto callback = [&](int /*depth*/, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        using E = nlohmann::json::parse_event_t;
        if (event == E::object_start) {
            open_objects.emplace_back();
            parent_keys.push_back(last_key);
        } else if (event == E::object_end) {
            open_objects.pop_back();
            parent_keys.pop_back();
        } else if (event == E::key) {
            last_key = parsed.get<std::string>();
            if (!open_objects.back().insert(last_key).second) {
                if (open_objects.size() == 1)
                    throw Error(cat(source, ": duplicate tensor name \"", name_str(last_key), "\""));
                throw Error(cat(source, ": duplicate key \"", name_str(last_key), "\" in \"",
                                name_str(parent_keys.back()), "\""));
            }
        }
        return true;
    };
    // nlohmann's parser keeps its own stack (no recursion), and its values are
    // destroyed iteratively, so depth alone cannot crash it: the test reads a
    // header nested 100000 deep.
    try {
        return nlohmann::json::parse(text.begin(), text.end(), callback);
    } catch (const nlohmann::json::exception& e) {
        throw Error(cat(source, ": bad JSON header: ", shown(e.what(), kParseErrorChars)));
    }
}

struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
};

} // namespace

namespace {
// A StDType cast from a number (a SafeTensor's dtype set by hand) may lie outside the enum.
const DTypeInfo& info_of(StDType t) {
    check(size_t(t) < std::size(kDTypes), "safetensors: dtype ", unsigned(t), " is not a safetensors dtype (known: ",
          known_dtypes(), ")");
    return kDTypes[size_t(t)];
}
} // namespace

size_t st_dtype_size(StDType t) { return info_of(t).size; }
const char* st_dtype_name(StDType t) { return info_of(t).name; }
std::optional<StDType> st_dtype_from_name(std::string_view name) {
    for (const DTypeInfo& d : kDTypes)
        if (name == d.name) return d.type;
    return std::nullopt;
}

int64_t SafeTensor::numel() const {
    if (std::find(shape.begin(), shape.end(), int64_t{0}) != shape.end()) return 0;
    int64_t n = 1;
    for (int64_t d : shape) {
        check(d > 0 && n <= std::numeric_limits<int64_t>::max() / d, "safetensors: tensor \"", name_str(name),
              "\" has shape ", shape_str(shape), ", whose element count is negative or beyond 2^63");
        n *= d;
    }
    return n;
}

void SafeTensor::check_size() const {
    for (int64_t d : shape) check(d >= 0, "safetensors: tensor \"", name, "\" has a negative dim in ", shape_str(shape));
    check(uint64_t(numel()) <= std::numeric_limits<size_t>::max() / st_dtype_size(dtype), "safetensors: tensor \"", name,
          "\" of shape ", shape_str(shape), " needs more bytes than this machine can address");
    check(data.size() == size_t(numel()) * st_dtype_size(dtype), "safetensors: tensor \"", name, "\" of shape ",
          shape_str(shape), " and dtype ", st_dtype_name(dtype), " needs ", size_t(numel()) * st_dtype_size(dtype),
          " bytes, has ", data.size());
}

void SafeTensor::check_dtype(StDType want) const {
    check(dtype == want, "safetensors: tensor \"", name, "\" is ", st_dtype_name(dtype), ", read as ",
          st_dtype_name(want));
}

const SafeTensor* SafeTensors::find(std::string_view name) const {
    for (const SafeTensor& t : tensors)
        if (t.name == name) return &t;
    return nullptr;
}

const SafeTensor& SafeTensors::at(std::string_view name) const {
    if (const SafeTensor* t = find(name)) return *t;
    std::string names;
    for (const SafeTensor& t : tensors) names += (names.empty() ? "" : ", ") + t.name;
    throw Error(cat("safetensors: no tensor \"", name, "\" (have: ", names, ")"));
}

std::vector<std::byte> serialize_safetensors(std::span<const SafeTensor> tensors, const Metadata& metadata) {
    // ordered_json: the header lists tensors in the order they are written,
    // which is also their data order.
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::set<std::string_view> names;
    uint64_t offset = 0;
    for (const SafeTensor& t : tensors) {
        check(t.name != "__metadata__", "safetensors: \"__metadata__\" cannot name a tensor");
        check(names.insert(t.name).second, "safetensors: duplicate tensor name \"", t.name, "\"");
        t.check_size();
        header[t.name] = {{"dtype", st_dtype_name(t.dtype)},
                          {"shape", t.shape},
                          {"data_offsets", {offset, offset + t.data.size()}}};
        offset += t.data.size();
    }
    // The one dump() of the file: a header built here, three levels deep and
    // as long as the tensor list, never a value read from a file.
    std::string text;
    try {
        text = header.dump();
    } catch (const nlohmann::json::exception& e) { // invalid UTF-8 in a name or metadata
        throw Error(cat("safetensors: cannot encode the header: ", e.what()));
    }
    // Pad with spaces to a multiple of 8 as the reference writer does, so the
    // data starts 8-byte aligned in the file (and in a mapped buffer).
    text.append((8 - text.size() % 8) % 8, ' ');
    std::vector<std::byte> out(8 + text.size() + offset);
    uint64_t n = text.size();
    for (int i = 0; i < 8; ++i) out[size_t(i)] = std::byte(uint8_t(n >> (8 * i)));
    std::memcpy(out.data() + 8, text.data(), text.size());
    std::byte* p = out.data() + 8 + text.size();
    for (const SafeTensor& t : tensors) {
        if (!t.data.empty()) std::memcpy(p, t.data.data(), t.data.size());
        p += t.data.size();
    }
    return out;
}

SafeTensors parse_safetensors(std::span<const std::byte> bytes, const std::string& source) {
    if (bytes.size() < 8)
        throw Error(cat(source, ": ", bytes.size(), " bytes, shorter than the 8-byte header length of a safetensors file"));
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= uint64_t(bytes[size_t(i)]) << (8 * i);
    if (n > bytes.size() - 8)
        throw Error(cat(source, ": header length ", n, " goes beyond the file (", bytes.size() - 8,
                        " bytes after the length field)"));
    if (n > kMaxHeaderBytes) throw Error(cat(source, ": header length ", n, " exceeds the ", kMaxHeaderBytes, " limit"));
    const std::string_view text(reinterpret_cast<const char*>(bytes.data()) + 8, size_t(n));
    const nlohmann::json header = parse_header_json(text, source);
    if (!header.is_object()) throw Error(cat(source, ": bad JSON header: expected an object, found ", header.type_name()));

    const uint64_t data_size = bytes.size() - 8 - n;
    SafeTensors out;
    std::vector<Entry> entries;
    for (const auto& [key, value] : header.items()) {
        if (key == "__metadata__")
            out.metadata = parse_metadata(value, source);
        else
            entries.push_back(parse_entry(key, value, source, data_size));
    }
    // Data order; ties (empty tensors) by name so the order is deterministic.
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
        return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
    });
    uint64_t expected = 0;
    const Entry* prev = nullptr;
    for (const Entry& e : entries) {
        if (e.begin < expected)
            throw Error(cat(source, ": tensor \"", name_str(e.name), "\" data_offsets [", e.begin, ", ", e.end,
                            "] overlap \"", name_str(prev->name), "\" [", prev->begin, ", ", prev->end, "]"));
        if (e.begin > expected)
            throw Error(cat(source, ": tensors are not contiguous: ", e.begin - expected, " unused bytes before \"",
                            name_str(e.name), "\" at data offset ", expected));
        expected = e.end;
        prev = &e;
    }
    if (expected != data_size)
        throw Error(cat(source, ": ", data_size - expected, " bytes after the last tensor: the tensors cover ", expected,
                        " of the ", data_size, " data bytes"));
    const std::byte* data = bytes.data() + 8 + n;
    for (const Entry& e : entries) {
        SafeTensor t;
        t.name = e.name;
        t.dtype = e.dtype;
        for (uint64_t d : e.shape) {
            if (d > uint64_t(std::numeric_limits<int64_t>::max()))
                throw Error(cat(source, ": tensor \"", name_str(e.name), "\": dim ", d, " too large"));
            t.shape.push_back(int64_t(d));
        }
        t.data.assign(data + e.begin, data + e.end);
        out.tensors.push_back(std::move(t));
    }
    return out;
}

void write_safetensors(const std::string& path, std::span<const SafeTensor> tensors, const Metadata& metadata,
                       const WriteFaultHook& fault_hook) {
    // Serialise first: a bad tensor fails before any file is touched.
    const std::vector<std::byte> bytes = serialize_safetensors(tensors, metadata);
    // Earlier writers of this path that died leave their temporaries behind.
    remove_stale_temporaries(path);
    const std::string tmp_name = TemporaryFile::name_for(path);
    const auto step = [&](std::string_view name) {
        if (fault_hook) fault_hook(name);
    };
    const auto fail = [&](const char* what) {
        return Error(cat(path, ": cannot write safetensors: ", what, " ", tmp_name, ": ", std::strerror(errno)));
    };

    step("open");
    std::optional<TemporaryFile> tmp = TemporaryFile::create(path);
    if (!tmp) throw fail("cannot create");
    // From here on the temporary file is ours: every way out but success
    // removes it. Writes go through a copy of its descriptor, so the fclose
    // below leaves the lock held until the rename is done.
    std::unique_ptr<std::FILE, FileCloser> f;
    try {
        const int copy = ::dup(tmp->fd());
        if (copy >= 0) f.reset(::fdopen(copy, "wb"));
        if (!f) {
            if (copy >= 0) ::close(copy);
            throw fail("cannot open");
        }
        step("write");
        if (std::fwrite(bytes.data(), 1, bytes.size(), f.get()) != bytes.size()) throw fail("write to");
        step("flush");
        if (std::fflush(f.get()) != 0) throw fail("flush of");
        // Data on disk before the rename makes it visible: otherwise a crash
        // can leave the new name pointing at an empty file.
        step("fsync");
        if (::fsync(::fileno(f.get())) != 0) throw fail("fsync of");
        step("close");
        if (std::fclose(f.release()) != 0) throw fail("close of");
        step("rename");
        if (std::rename(tmp_name.c_str(), path.c_str()) != 0)
            throw Error(cat(path, ": cannot write safetensors: rename of ", tmp_name, " over it failed: ",
                            std::strerror(errno)));
    } catch (...) {
        f.reset();
        tmp->remove();
        throw;
    }
    tmp.reset(); // the file is the checkpoint now: drop the lock
    // The rename itself is durable only once the directory entry is synced.
    // File systems that cannot sync a directory (EINVAL) have nothing to do.
    step("fsync_dir");
    const size_t slash = path.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    const int fd = ::open(dir.c_str(), O_RDONLY);
    if (fd >= 0) {
        const int rc = ::fsync(fd);
        const int err = errno;
        ::close(fd);
        if (rc != 0 && err != EINVAL && err != EROFS)
            throw Error(cat(path, ": written, but fsync of its directory ", dir, " failed (", std::strerror(err),
                            "): the new file may not survive a crash"));
    }
}

SafeTensors read_safetensors(const std::string& path) {
    std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
    if (!f) throw Error(cat(path, ": cannot open: ", std::strerror(errno)));
    // fopen opens a directory, and a pipe or a device never ends: only a
    // regular file is read, so what is allocated is what the file holds.
    struct stat st {};
    if (::fstat(::fileno(f.get()), &st) != 0) throw Error(cat(path, ": cannot stat: ", std::strerror(errno)));
    if (S_ISDIR(st.st_mode)) throw Error(cat(path, ": is a directory, not a safetensors file"));
    if (!S_ISREG(st.st_mode)) throw Error(cat(path, ": not a regular file, not a safetensors file"));
    // The whole file is held in memory: one that this machine cannot hold (a
    // sparse file of terabytes, 4 GiB in wasm32) is an error naming its size.
    const uint64_t size = uint64_t(st.st_size);
    std::vector<std::byte> bytes;
    if (size > bytes.max_size())
        throw OutOfMemoryError(cat(path, ": ", size, " bytes, more than this build can hold in memory (",
                                   bytes.max_size(), " bytes)"));
    try {
        bytes.reserve(size_t(size));
        std::byte chunk[1 << 16];
        for (;;) {
            const size_t got = std::fread(chunk, 1, sizeof chunk, f.get());
            bytes.insert(bytes.end(), chunk, chunk + got);
            if (got < sizeof chunk) break;
        }
    } catch (const std::bad_alloc&) {
        throw OutOfMemoryError(cat(path, ": ", size, " bytes: out of host memory reading the file"));
    } catch (const std::length_error&) { // the file grew past max_size() while being read
        throw OutOfMemoryError(cat(path, ": grew past ", bytes.max_size(), " bytes while being read"));
    }
    if (std::ferror(f.get())) throw Error(cat(path, ": read error: ", std::strerror(errno)));
    return parse_safetensors(bytes, path);
}

} // namespace vkcnn::io
