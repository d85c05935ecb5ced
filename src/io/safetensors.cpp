// safetensors reader and writer. Everything read is untrusted: sizes are bounded, arithmetic is
// overflow-checked, offsets are validated before any data is touched, and no recursion depends on
// the input (nlohmann's parser is iterative; values are never dump()ed into messages).
// See Note [safetensors validation] in docs/notes/safetensors.md.
#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "cformer/io.h"
#include "util/check.h"

namespace cf::io {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; cformer copies it as is");

using json = nlohmann::json;

// Largest element count (and product of the non-zero dims) of one tensor: keeps every count,
// byte size and stride far from int64 overflow.
constexpr uint64_t kMaxElements = uint64_t{1} << 50;

struct DTypeSpec {
  const char* name;
  uint64_t size;
};
constexpr DTypeSpec kKnownDTypes[] = {{"BOOL", 1},    {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1},
                                      {"F8_E4M3", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
                                      {"BF16", 2},    {"I32", 4}, {"U32", 4}, {"F32", 4},
                                      {"F64", 8},     {"I64", 8}, {"U64", 8}};

uint64_t dtype_size(const std::string& name) {
  for (const auto& d : kKnownDTypes)
    if (name == d.name) return d.size;
  return 0;
}

const char* file_dtype(DType t) {
  switch (t) {
    case DType::f32:
      return "F32";
    case DType::f64:
      return "F64";
    case DType::i64:
      return "I64";
    case DType::b8:
      return "BOOL";
    case DType::u8:
      return "U8";
    case DType::bf16:
      return "BF16";
  }
  return "?";
}

uint64_t read_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Offset of the first byte that is not part of well-formed UTF-8 (RFC 3629: no overlong forms,
// no surrogates, nothing above U+10FFFF), or s.size() when all of it is.
size_t utf8_error_offset(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const uint8_t c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint8_t lo = 0x80, hi = 0xBF;  // range of the second byte
    if (c >= 0xC2 && c <= 0xDF)
      len = 2;
    else if (c == 0xE0)
      len = 3, lo = 0xA0;
    else if (c >= 0xE1 && c <= 0xEC)
      len = 3;
    else if (c == 0xED)
      len = 3, hi = 0x9F;
    else if (c >= 0xEE && c <= 0xEF)
      len = 3;
    else if (c == 0xF0)
      len = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3)
      len = 4;
    else if (c == 0xF4)
      len = 4, hi = 0x8F;
    else
      return i;
    if (n - i < len || p[i + 1] < lo || p[i + 1] > hi) return i;
    for (size_t k = 2; k < len; ++k)
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return i;
    i += len;
  }
  return n;
}

// A name for messages: quoted, at most 100 bytes (cut at a character boundary), escaped.
std::string quote_name(const std::string& s) {
  std::string cut = s.substr(0, 100);
  while (!cut.empty() && utf8_error_offset(cut) != cut.size()) cut.pop_back();
  std::string out = json(cut).dump(-1, ' ', false, json::error_handler_t::replace);
  out.front() = out.back() = '\'';
  return s.size() > cut.size() ? out + "..." : out;
}

// What a JSON value is, for messages; never recursive (the input may nest a million levels).
std::string describe(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return v.get<bool>() ? "true" : "false";
    case json::value_t::number_integer:
      return "the integer " + std::to_string(v.get<int64_t>());
    case json::value_t::number_unsigned:
      return "the integer " + std::to_string(v.get<uint64_t>());
    case json::value_t::number_float:
      return "the number " + v.dump();
    case json::value_t::string:
      return "the string " + quote_name(v.get<std::string>());
    case json::value_t::array:
      return "an array of " + std::to_string(v.size()) + " elements";
    case json::value_t::object:
      return "an object";
    case json::value_t::binary:
    case json::value_t::discarded:
      break;
  }
  return "an unexpected value";
}

uint64_t as_uint(const json& v, const std::string& source, const std::string& what) {
  CF_CHECK(v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0), FormatError,
           source, ": ", what, " must be a non-negative integer, got ", describe(v));
  return v.get<uint64_t>();
}

// The JSON value of field key in an object, or nullptr.
const json* field(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

float half_to_float(uint16_t h) {
  const uint32_t sign = (h >> 15) & 1, exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  float v;
  if (exp == 0)
    v = std::ldexp(static_cast<float>(mant), -24);
  else if (exp == 31)
    v = mant ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  else
    v = std::ldexp(static_cast<float>(mant | 0x400), static_cast<int>(exp) - 25);
  return sign ? -v : v;
}

// Checks the JSON structure while it is parsed, before the DOM can grow: a header is an object
// of objects whose fields hold strings, numbers or short arrays of numbers, so nothing nests
// deeper than 3 and no array needs more than kMaxArray elements (a 100 MB header of nested or
// long arrays would otherwise cost gigabytes). Duplicate keys are rejected at every depth:
// nlohmann keeps the last silently, another reader may keep the first, so a file with
// duplicates means different things to different readers.
class HeaderGuard {
 public:
  explicit HeaderGuard(const std::string& source) : source_(source) {}

  bool on_event(json::parse_event_t event, const json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start: {
        count_element();
        const bool array = event == json::parse_event_t::array_start;
        CF_CHECK(frames_.size() < kMaxDepth, FormatError, source_,
                 ": header nests JSON values deeper than a safetensors header can (",
                 array ? "an array" : "an object", " inside ", where(), ")");
        frames_.push_back({array, 0, {}, frames_.empty() ? "" : last_key_});
        break;
      }
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (!frames_.empty()) frames_.pop_back();
        break;
      case json::parse_event_t::key:
        last_key_ = parsed.get<std::string>();
        if (!frames_.empty() && !frames_.back().keys.insert(last_key_).second) {
          CF_CHECK(frames_.size() != 1 || last_key_ != "__metadata__", FormatError, source_,
                   ": duplicate __metadata__");
          CF_CHECK(frames_.size() != 1, FormatError, source_, ": duplicate tensor name ",
                   quote_name(last_key_));
          CF_THROW(FormatError, source_, ": duplicate key ", quote_name(last_key_), " in ",
                   where());
        }
        break;
      case json::parse_event_t::value:
        count_element();
        break;
    }
    return true;
  }

 private:
  static constexpr size_t kMaxDepth = 3;   // header object > entry > shape / data_offsets
  static constexpr size_t kMaxArray = 64;  // far above any valid shape (8) or data_offsets (2)
  struct Frame {
    bool array;
    size_t count;                // elements so far (arrays)
    std::set<std::string> keys;  // keys so far (objects)
    std::string owner;           // the key whose value this is ("" at the top)
  };

  void count_element() {
    if (frames_.empty() || !frames_.back().array) return;
    CF_CHECK(++frames_.back().count <= kMaxArray, FormatError, source_,
             ": an array in the header (", where(), ") has more than ", kMaxArray,
             " elements; no safetensors field holds that many");
  }

  // The innermost container, for messages: "'shape' of the entry 'w'", "the entry 'w'".
  std::string where() const {
    if (frames_.size() <= 1) return "the header object";
    const std::string& entry = frames_[1].owner;
    const std::string top =
        entry == "__metadata__" ? "__metadata__" : "the entry " + quote_name(entry);
    if (frames_.size() == 2) return top;
    return quote_name(frames_.back().owner) + " of " + top;
  }

  const std::string& source_;
  std::vector<Frame> frames_;
  std::string last_key_;
};

TensorInfo parse_entry(const std::string& name, const json& v, uint64_t data_size,
                       const std::string& source) {
  const std::string where = source + ": tensor " + quote_name(name);
  CF_CHECK(!name.empty(), FormatError, source, ": empty tensor name");
  CF_CHECK(v.is_object(), FormatError, where,
           " must be an object {dtype, shape, data_offsets}, got ", describe(v));
  for (auto f = v.begin(); f != v.end(); ++f)
    CF_CHECK(f.key() == "dtype" || f.key() == "shape" || f.key() == "data_offsets", FormatError,
             where, " has an unknown field ", quote_name(f.key()),
             " (expected dtype, shape, data_offsets)");
  const json* dtype = field(v, "dtype");
  const json* shape = field(v, "shape");
  const json* offsets = field(v, "data_offsets");
  CF_CHECK(dtype != nullptr, FormatError, where, " has no dtype");
  CF_CHECK(dtype->is_string(), FormatError, where, " dtype must be a string, got ",
           describe(*dtype));
  CF_CHECK(shape != nullptr, FormatError, where, " has no shape");
  CF_CHECK(shape->is_array(), FormatError, where, " shape must be an array, got ",
           describe(*shape));
  CF_CHECK(offsets != nullptr, FormatError, where, " has no data_offsets");
  CF_CHECK(offsets->is_array() && offsets->size() == 2, FormatError, where,
           " data_offsets must be an array [begin, end], got ", describe(*offsets));

  TensorInfo ti;
  ti.name = name;
  ti.dtype = dtype->get<std::string>();
  const uint64_t esize = dtype_size(ti.dtype);
  CF_CHECK(esize != 0, FormatError, where, " has unknown dtype ", quote_name(ti.dtype));
  CF_CHECK(shape->size() <= static_cast<size_t>(kMaxDims), FormatError, where, " has ",
           shape->size(), " dims; at most ", kMaxDims, " are supported");
  std::string shape_text = "[";
  uint64_t count = 1, nonzero = 1;  // element count; product of the non-zero dims
  for (size_t i = 0; i < shape->size(); ++i) {
    const uint64_t s = as_uint((*shape)[i], source,
                               "tensor " + quote_name(name) + " shape[" + std::to_string(i) + "]");
    shape_text += (i ? ", " : "") + std::to_string(s);
    const bool fits = s == 0 || nonzero <= kMaxElements / s;
    CF_CHECK(fits, FormatError, where, " shape ", shape_text,
             (i + 1 < shape->size() ? ", ...]" : "]"), " has more than 2^50 elements");
    if (s != 0) nonzero *= s;
    count *= s;
    ti.shape.push_back(static_cast<int64_t>(s));
  }
  shape_text += "]";
  ti.begin = as_uint((*offsets)[0], source, "tensor " + quote_name(name) + " data_offsets[0]");
  ti.end = as_uint((*offsets)[1], source, "tensor " + quote_name(name) + " data_offsets[1]");
  const std::string range =
      "data_offsets [" + std::to_string(ti.begin) + ", " + std::to_string(ti.end) + "]";
  CF_CHECK(ti.begin <= ti.end, FormatError, where, " ", range, " end before they begin");
  CF_CHECK(ti.end <= data_size, FormatError, where, " ", range,
           " run past the end of the data buffer (", data_size, " bytes)");
  CF_CHECK(ti.end - ti.begin == count * esize, FormatError, where, " of dtype ", ti.dtype,
           " and shape ", shape_text, " needs ", count * esize, " bytes, but ", range, " hold ",
           ti.end - ti.begin);
  return ti;
}

}  // namespace

const Tensor& NamedTensors::at(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return t;
  CF_THROW(ValueError, "no tensor named ", quote_name(name));
}

bool NamedTensors::contains(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return true;
  return false;
}

SafetensorsHeader parse_safetensors_header(std::span<const uint8_t> bytes, uint64_t total_size,
                                           const std::string& source) {
  CF_CHECK(total_size >= 8, FormatError, source, ": truncated: the file has ", total_size,
           " bytes, fewer than the 8-byte header length");
  CF_CHECK(bytes.size() >= 8 && bytes.size() <= total_size, ValueError,
           "parse_safetensors_header: ", bytes.size(), " bytes given of a file of ", total_size);
  SafetensorsHeader h;
  h.header_size = read_le64(bytes.data());
  CF_CHECK(h.header_size <= kMaxSafetensorsHeader, FormatError, source, ": header length ",
           h.header_size, " exceeds the limit of ", kMaxSafetensorsHeader, " bytes");
  CF_CHECK(h.header_size <= total_size - 8, FormatError, source, ": header length ", h.header_size,
           " runs past the end of the file (", total_size, " bytes)");
  CF_CHECK(bytes.size() >= 8 + h.header_size, ValueError, "parse_safetensors_header: the header ",
           "needs ", 8 + h.header_size, " bytes, ", bytes.size(), " given");
  CF_CHECK(h.header_size >= 2, FormatError, source, ": header of ", h.header_size,
           " bytes cannot hold a JSON object");
  const std::string_view text(reinterpret_cast<const char*>(bytes.data() + 8), h.header_size);
  CF_CHECK(text[0] == '{', FormatError, source, ": header does not start with '{' (byte 8 is 0x",
           std::hex, static_cast<int>(static_cast<uint8_t>(text[0])), ")");
  const size_t bad = utf8_error_offset(text);
  CF_CHECK(bad == text.size(), FormatError, source, ": header is not valid UTF-8 (byte ", bad + 8,
           " of the file)");
  // nlohmann stops at a NUL byte as if the input ended there, so "{}\0anything" would parse;
  // raw NUL is never valid JSON (control characters must be escaped inside strings).
  const size_t nul = text.find('\0');
  CF_CHECK(nul == std::string_view::npos, FormatError, source,
           ": header is not valid JSON: NUL byte at byte ", nul + 8, " of the file");
  h.data_size = total_size - 8 - h.header_size;

  HeaderGuard guard(source);
  json doc;
  try {
    doc = json::parse(text.begin(), text.end(),
                      [&guard](int /*depth*/, json::parse_event_t event, json& parsed) {
                        return guard.on_event(event, parsed);
                      });
  } catch (const json::parse_error& e) {
    CF_THROW(FormatError, source, ": header is not valid JSON (near byte ", 8 + e.byte,
             " of the file): ", e.what());
  } catch (const json::exception& e) {
    CF_THROW(FormatError, source, ": header is not valid JSON: ", e.what());
  }
  CF_CHECK(doc.is_object(), FormatError, source, ": header is not a JSON object");

  for (auto it = doc.begin(); it != doc.end(); ++it) {
    const json& v = it.value();
    if (it.key() == "__metadata__") {
      CF_CHECK(v.is_object(), FormatError, source,
               ": __metadata__ must be an object of strings, got ", describe(v));
      for (auto m = v.begin(); m != v.end(); ++m) {
        CF_CHECK(m.value().is_string(), FormatError, source, ": __metadata__ value of ",
                 quote_name(m.key()), " must be a string, got ", describe(m.value()));
        h.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    h.tensors.push_back(parse_entry(it.key(), v, h.data_size, source));
  }
  // The tensors must tile the data buffer: no overlap (aliasing), no gap, no trailing bytes.
  std::stable_sort(h.tensors.begin(), h.tensors.end(),
                   [](const TensorInfo& a, const TensorInfo& b) {
                     return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
                   });
  uint64_t pos = 0;
  const TensorInfo* prev = nullptr;
  for (const TensorInfo& ti : h.tensors) {
    CF_CHECK(ti.begin >= pos, FormatError, source, ": tensor ", quote_name(ti.name),
             " data_offsets [", ti.begin, ", ", ti.end, "] overlap tensor ", quote_name(prev->name),
             " data_offsets [", prev->begin, ", ", prev->end, "]");
    CF_CHECK(ti.begin == pos, FormatError, source, ": gap in the data buffer: bytes [", pos, ", ",
             ti.begin, ") belong to no tensor");
    pos = ti.end;
    prev = &ti;
  }
  CF_CHECK(pos == h.data_size, FormatError, source, ": the data buffer has ", h.data_size,
           " bytes but the tensors cover ", pos, ": trailing bytes [", pos, ", ", h.data_size,
           ") belong to no tensor");
  return h;
}

namespace {

// The tensor for ti, whose bytes start at data (file offset file_offset). Narrow integer and F16
// data widen to the cformer dtype that holds every value (i64, f32).
Tensor decode_tensor(const TensorInfo& ti, const uint8_t* data, uint64_t file_offset,
                     const std::string& source) {
  const int64_t n = ti.shape.numel();
  const uint64_t nbytes = ti.end - ti.begin;
  auto raw = [&ti, n, data, nbytes](DType t) {
    Tensor out = empty(ti.shape, t);
    if (n > 0) std::memcpy(out.raw_data_ptr(), data, nbytes);
    return out;
  };
  auto widen_int = [&ti, n, data](auto tag) {
    using S = decltype(tag);
    Tensor out = empty(ti.shape, DType::i64);
    int64_t* o = n > 0 ? out.data_ptr<int64_t>() : nullptr;
    for (int64_t i = 0; i < n; ++i) {
      S v;
      std::memcpy(&v, data + i * sizeof(S), sizeof(S));
      o[i] = static_cast<int64_t>(v);
    }
    return out;
  };
  const std::string& d = ti.dtype;
  if (d == "F32") return raw(DType::f32);
  if (d == "F64") return raw(DType::f64);
  if (d == "I64") return raw(DType::i64);
  if (d == "U8") return raw(DType::u8);
  if (d == "BF16") return raw(DType::bf16);
  if (d == "BOOL") {
    // Any other byte would be a bool with an invalid object representation.
    for (int64_t i = 0; i < n; ++i)
      CF_CHECK(data[i] <= 1, FormatError, source, ": tensor ", quote_name(ti.name),
               " (BOOL) holds byte ", static_cast<int>(data[i]), " at element ", i,
               " (file offset ", file_offset + i, "); only 0 and 1 are valid");
    return raw(DType::b8);
  }
  if (d == "F16") {
    Tensor out = empty(ti.shape, DType::f32);
    float* o = n > 0 ? out.data_ptr<float>() : nullptr;
    for (int64_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, data + 2 * i, 2);
      o[i] = half_to_float(h);
    }
    return out;
  }
  if (d == "I32") return widen_int(int32_t{});
  if (d == "I16") return widen_int(int16_t{});
  if (d == "I8") return widen_int(int8_t{});
  if (d == "U16") return widen_int(uint16_t{});
  if (d == "U32") return widen_int(uint32_t{});
  CF_THROW(NotImplementedError, source, ": tensor ", quote_name(ti.name), " has dtype ", d,
           ", which cformer cannot hold yet");
}

// Reads exactly n bytes at offset into out; throws IoError.
void pread_exact(int fd, uint8_t* out, size_t n, uint64_t offset, const std::string& path) {
  size_t done = 0;
  while (done < n) {
    const ssize_t r = ::pread(fd, out + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    CF_CHECK(r >= 0, IoError, path, ": read failed at offset ", offset + done, ": ",
             std::strerror(errno));
    CF_CHECK(r > 0, IoError, path, ": file shrank while reading (end at offset ", offset + done,
             ")");
    done += static_cast<size_t>(r);
  }
}

}  // namespace

NamedTensors parse_safetensors(std::span<const uint8_t> bytes, const std::string& source) {
  SafetensorsHeader h = parse_safetensors_header(bytes, bytes.size(), source);
  NamedTensors out;
  out.metadata = h.metadata;
  const uint64_t base = 8 + h.header_size;
  for (const TensorInfo& ti : h.tensors)
    out.tensors.emplace_back(
        ti.name, decode_tensor(ti, bytes.data() + base + ti.begin, base + ti.begin, source));
  return out;
}

SafetensorsHeader read_safetensors_header(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  CF_CHECK(fd >= 0, IoError, path, ": cannot open: ", std::strerror(errno));
  try {
    struct stat st {};
    CF_CHECK(::fstat(fd, &st) == 0, IoError, path, ": cannot stat: ", std::strerror(errno));
    CF_CHECK(S_ISREG(st.st_mode), IoError, path, ": not a regular file");
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    std::vector<uint8_t> head(size < 8 ? size : 8);
    pread_exact(fd, head.data(), head.size(), 0, path);
    if (head.size() == 8) {
      const uint64_t n = read_le64(head.data());
      if (n <= kMaxSafetensorsHeader && n <= size - 8) {  // else the parser names the defect
        head.resize(8 + n);
        pread_exact(fd, head.data() + 8, n, 8, path);
      }
    } else {
      head.resize(8);  // the parser reports the truncation from size
    }
    ::close(fd);
    return parse_safetensors_header(head, size, path);
  } catch (...) {
    ::close(fd);
    throw;
  }
}

NamedTensors load_safetensors(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path);
  return parse_safetensors(bytes, path);
}

std::vector<uint8_t> serialize_safetensors(
    const std::vector<std::pair<std::string, Tensor>>& tensors,
    const std::map<std::string, std::string>& metadata) {
  auto check_text = [](const std::string& s, const char* what) {
    CF_CHECK(utf8_error_offset(s) == s.size(), ValueError, "save_safetensors: ", what,
             " is not valid UTF-8 (byte ", utf8_error_offset(s), ")");
  };
  json header = json::object();
  std::set<std::string> names;
  uint64_t offset = 0;
  std::vector<Tensor> contiguous;
  for (const auto& [name, t] : tensors) {
    check_text(name, "a tensor name");
    CF_CHECK(!name.empty() && name != "__metadata__", ValueError,
             "save_safetensors: invalid tensor name ", quote_name(name));
    CF_CHECK(names.insert(name).second, ValueError, "save_safetensors: duplicate tensor name ",
             quote_name(name));
    CF_CHECK(t.defined(), ValueError, "save_safetensors: tensor ", quote_name(name),
             " is undefined");
    CF_CHECK(t.device() == Device::cpu, DeviceError, "save_safetensors: tensor ", quote_name(name),
             " is on ", device_name(t.device()), "; move it to the cpu first");
    Tensor c = t.detach().contiguous();
    const uint64_t nbytes = static_cast<uint64_t>(c.numel()) * c.element_size();
    json shape = json::array();
    for (int64_t s : c.shape()) shape.push_back(s);
    header[name] = {{"dtype", file_dtype(c.dtype())},
                    {"shape", shape},
                    {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    contiguous.push_back(c);
  }
  for (const auto& [k, v] : metadata) {
    check_text(k, "a metadata key");
    check_text(v, "a metadata value");
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps the data 8-byte aligned
  CF_CHECK(text.size() <= kMaxSafetensorsHeader, ValueError, "save_safetensors: the header would ",
           "take ", text.size(), " bytes, more than the limit of ", kMaxSafetensorsHeader);
  std::vector<uint8_t> out(8 + text.size() + offset);
  const uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(n >> (8 * i));
  std::memcpy(out.data() + 8, text.data(), text.size());
  uint8_t* data = out.data() + 8 + text.size();
  for (const Tensor& c : contiguous) {
    const size_t nbytes = c.numel() * c.element_size();
    if (nbytes) std::memcpy(data, c.raw_data_ptr(), nbytes);
    data += nbytes;
  }
  return out;
}

void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::vector<uint8_t> bytes = serialize_safetensors(tensors, metadata);
  write_file_atomic(path, bytes);
}

}  // namespace cf::io
