// safetensors reader and writer. Everything read is untrusted: sizes are bounded, arithmetic is
// overflow-checked, and offsets are validated before any data is touched.
#include <algorithm>
#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include "cformer/io.h"
#include "ops/copy.h"
#include "util/check.h"

namespace cf::io {
namespace {

using json = nlohmann::json;

struct DTypeSpec {
  const char* name;
  uint64_t size;
};
constexpr DTypeSpec kKnownDTypes[] = {
    {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2},
    {"U16", 2},  {"F16", 2}, {"BF16", 2}, {"I32", 4},    {"U32", 4},     {"F32", 4},
    {"F64", 8},  {"I64", 8}, {"U64", 8}};

uint64_t dtype_size(const std::string& name) {
  for (const auto& d : kKnownDTypes)
    if (name == d.name) return d.size;
  return 0;
}

const char* file_dtype(DType t) {
  switch (t) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::i64: return "I64";
    case DType::b8: return "BOOL";
    case DType::u8: return "U8";
    case DType::bf16: return "BF16";
  }
  return "?";
}

uint64_t read_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

uint64_t as_uint(const json& v, const std::string& source, const std::string& what) {
  CF_CHECK(v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0), FormatError,
           source, ": ", what, " must be a non-negative integer, got ", v.dump());
  return v.get<uint64_t>();
}

float half_to_float(uint16_t h) {
  const uint32_t sign = (h >> 15) & 1, exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  float v;
  if (exp == 0) v = std::ldexp(static_cast<float>(mant), -24);
  else if (exp == 31) v = mant ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  else v = std::ldexp(static_cast<float>(mant | 0x400), static_cast<int>(exp) - 25);
  return sign ? -v : v;
}

}  // namespace

const Tensor& NamedTensors::at(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return t;
  CF_THROW(ValueError, "no tensor named '", name, "'");
}

bool NamedTensors::contains(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return true;
  return false;
}

SafetensorsHeader parse_safetensors_header(std::span<const uint8_t> bytes, uint64_t total_size,
                                           const std::string& source) {
  CF_CHECK(total_size >= 8 && bytes.size() >= 8, FormatError, source, ": truncated: ", total_size,
           " bytes, fewer than the 8-byte header length");
  SafetensorsHeader h;
  h.header_size = read_le64(bytes.data());
  CF_CHECK(h.header_size <= kMaxSafetensorsHeader, FormatError, source, ": header length ",
           h.header_size, " exceeds the limit of ", kMaxSafetensorsHeader, " bytes");
  CF_CHECK(h.header_size <= total_size - 8, FormatError, source, ": header length ", h.header_size,
           " runs past the end of the file (", total_size, " bytes)");
  CF_CHECK(bytes.size() >= 8 + h.header_size, FormatError, source, ": truncated header");
  CF_CHECK(h.header_size >= 2, FormatError, source, ": header of ", h.header_size,
           " bytes cannot hold a JSON object");
  const char* text = reinterpret_cast<const char*>(bytes.data() + 8);
  CF_CHECK(text[0] == '{', FormatError, source, ": header does not start with '{' (byte 8 is 0x",
           std::hex, static_cast<int>(static_cast<uint8_t>(text[0])), ")");
  h.data_size = total_size - 8 - h.header_size;

  // Parse, rejecting duplicate names (nlohmann keeps the last silently).
  std::set<std::string> seen;
  std::string duplicate;
  json::parser_callback_t cb = [&seen, &duplicate](int depth, json::parse_event_t event, json& parsed) {
    if (depth == 1 && event == json::parse_event_t::key) {
      const std::string k = parsed.get<std::string>();
      if (!seen.insert(k).second && duplicate.empty()) duplicate = k;
    }
    return true;
  };
  json doc;
  try {
    doc = json::parse(text, text + h.header_size, cb);
  } catch (const json::exception& e) {
    CF_THROW(FormatError, source, ": header is not valid JSON: ", e.what());
  }
  CF_CHECK(duplicate.empty(), FormatError, source, ": duplicate tensor name '", duplicate, "'");
  CF_CHECK(doc.is_object(), FormatError, source, ": header is not a JSON object");

  for (auto it = doc.begin(); it != doc.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      CF_CHECK(v.is_object(), FormatError, source, ": __metadata__ must be an object of strings");
      for (auto m = v.begin(); m != v.end(); ++m) {
        CF_CHECK(m.value().is_string(), FormatError, source, ": __metadata__ value of '", m.key(),
                 "' is not a string");
        h.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + name + "'";
    CF_CHECK(!name.empty(), FormatError, source, ": empty tensor name");
    CF_CHECK(v.is_object(), FormatError, source, ": ", where, " is not an object");
    for (auto f = v.begin(); f != v.end(); ++f)
      CF_CHECK(f.key() == "dtype" || f.key() == "shape" || f.key() == "data_offsets", FormatError,
               source, ": ", where, " has an unknown field '", f.key(), "'");
    CF_CHECK(v.contains("dtype") && v["dtype"].is_string(), FormatError, source, ": ", where,
             " needs a string dtype");
    CF_CHECK(v.contains("shape") && v["shape"].is_array(), FormatError, source, ": ", where,
             " needs a shape array");
    CF_CHECK(v.contains("data_offsets") && v["data_offsets"].is_array() &&
                 v["data_offsets"].size() == 2,
             FormatError, source, ": ", where, " needs data_offsets [begin, end]");
    TensorInfo ti;
    ti.name = name;
    ti.dtype = v["dtype"].get<std::string>();
    const uint64_t esize = dtype_size(ti.dtype);
    CF_CHECK(esize != 0, FormatError, source, ": ", where, " has unknown dtype '", ti.dtype, "'");
    CF_CHECK(v["shape"].size() <= static_cast<size_t>(kMaxDims), FormatError, source, ": ", where,
             " has ", v["shape"].size(), " dims; at most ", kMaxDims, " are supported");
    uint64_t count = 1;
    for (const json& d : v["shape"]) {
      const uint64_t s = as_uint(d, source, where + " shape entry");
      CF_CHECK(s == 0 || count <= (uint64_t{1} << 50) / s, FormatError, source, ": ", where,
               " shape has too many elements");
      count *= s;
      ti.shape.push_back(static_cast<int64_t>(s));
    }
    ti.begin = as_uint(v["data_offsets"][0], source, where + " data_offsets[0]");
    ti.end = as_uint(v["data_offsets"][1], source, where + " data_offsets[1]");
    CF_CHECK(ti.begin <= ti.end, FormatError, source, ": ", where, " data_offsets [", ti.begin,
             ", ", ti.end, "] end before they begin");
    CF_CHECK(ti.end <= h.data_size, FormatError, source, ": ", where, " data_offsets [", ti.begin,
             ", ", ti.end, "] run past the data buffer of ", h.data_size, " bytes");
    CF_CHECK(ti.end - ti.begin == count * esize, FormatError, source, ": ", where, " of dtype ",
             ti.dtype, " and shape ", ti.shape, " needs ", count * esize, " bytes, data_offsets [",
             ti.begin, ", ", ti.end, "] hold ", ti.end - ti.begin);
    h.tensors.push_back(std::move(ti));
  }
  std::sort(h.tensors.begin(), h.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t pos = 0;
  for (const TensorInfo& ti : h.tensors) {
    CF_CHECK(ti.begin >= pos, FormatError, source, ": tensor '", ti.name, "' data_offsets [",
             ti.begin, ", ", ti.end, "] overlap the previous tensor (which ends at ", pos, ")");
    CF_CHECK(ti.begin == pos, FormatError, source, ": gap in the data buffer: bytes [", pos, ", ",
             ti.begin, ") belong to no tensor");
    pos = ti.end;
  }
  CF_CHECK(pos == h.data_size, FormatError, source, ": the data buffer has ", h.data_size,
           " bytes but the tensors cover ", pos, " (trailing bytes [", pos, ", ", h.data_size,
           ") belong to no tensor)");
  return h;
}

namespace {

Tensor decode_tensor(const TensorInfo& ti, const uint8_t* data, const std::string& source) {
  const int64_t n = ti.shape.numel();
  auto raw = [&](DType t) {
    Tensor out = empty(ti.shape, t);
    if (n > 0) std::memcpy(out.raw_data_ptr(), data, ti.end - ti.begin);
    return out;
  };
  auto widen_int = [&](auto tag) {
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
    for (int64_t i = 0; i < n; ++i)
      CF_CHECK(data[i] <= 1, FormatError, source, ": tensor '", ti.name, "' (BOOL) holds byte ",
               static_cast<int>(data[i]), " at element ", i, "; only 0 and 1 are valid");
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
  CF_THROW(NotImplementedError, source, ": tensor '", ti.name, "' has dtype ", d,
           ", which cformer cannot hold yet");
}

}  // namespace

NamedTensors parse_safetensors(std::span<const uint8_t> bytes, const std::string& source) {
  SafetensorsHeader h = parse_safetensors_header(bytes, bytes.size(), source);
  NamedTensors out;
  out.metadata = h.metadata;
  const uint8_t* data = bytes.data() + 8 + h.header_size;
  for (const TensorInfo& ti : h.tensors) out.tensors.emplace_back(ti.name, decode_tensor(ti, data + ti.begin, source));
  return out;
}

SafetensorsHeader read_safetensors_header(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  CF_CHECK(f != nullptr, IoError, path, ": cannot open: ", std::strerror(errno));
  std::fseek(f, 0, SEEK_END);
  const long size = std::ftell(f);
  std::fseek(f, 0, SEEK_SET);
  std::vector<uint8_t> head(8);
  const size_t got = size >= 8 ? std::fread(head.data(), 1, 8, f) : 0;
  if (got == 8) {
    const uint64_t n = read_le64(head.data());
    if (n <= kMaxSafetensorsHeader && n <= static_cast<uint64_t>(size) - 8) {
      head.resize(8 + n);
      if (std::fread(head.data() + 8, 1, n, f) != n) head.resize(8);
    }
  }
  std::fclose(f);
  return parse_safetensors_header(head, size < 0 ? 0 : static_cast<uint64_t>(size), path);
}

NamedTensors load_safetensors(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path);
  return parse_safetensors(bytes, path);
}

std::vector<uint8_t> serialize_safetensors(const std::vector<std::pair<std::string, Tensor>>& tensors,
                                           const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  std::set<std::string> names;
  uint64_t offset = 0;
  std::vector<Tensor> contiguous;
  for (const auto& [name, t] : tensors) {
    CF_CHECK(!name.empty() && name != "__metadata__", ValueError,
             "save_safetensors: invalid tensor name '", name, "'");
    CF_CHECK(names.insert(name).second, ValueError, "save_safetensors: duplicate tensor name '",
             name, "'");
    CF_CHECK(t.defined(), ValueError, "save_safetensors: tensor '", name, "' is undefined");
    Tensor c = t.detach().contiguous();
    const uint64_t nbytes = static_cast<uint64_t>(c.numel()) * c.element_size();
    json shape = json::array();
    for (int64_t s : c.shape()) shape.push_back(s);
    header[name] = {{"dtype", file_dtype(c.dtype())}, {"shape", shape},
                    {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    contiguous.push_back(c);
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
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
