// safetensors reader/writer and atomic file writes: exact byte layout, round trips of every dtype,
// the malformed-file corpus (tests/data/safetensors, written by tools/make_safetensors_corpus.py)
// with the expected message of each file, every truncation and seeded random byte flips (parse or
// throw cf::Error, never crash), header-only reads of huge files, and write_file_atomic.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "cformer/io.h"
#include "cformer/tensor.h"

namespace cf {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;
using NamedList = std::vector<std::pair<std::string, Tensor>>;

fs::path corpus_dir() {
  return fs::path(CFORMER_SOURCE_DIR) / "tests" / "data" / "safetensors";
}

// A fresh directory removed at the end of the test.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    path_ = fs::temp_directory_path() / ("cformer_io_" + tag + "_" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(path_)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  fs::path path_;
};

Bytes bytes_of(const Tensor& t) {
  Tensor c = t.contiguous();
  Bytes b(c.numel() * c.element_size());
  if (!b.empty()) std::memcpy(b.data(), c.raw_data_ptr(), b.size());
  return b;
}

Bytes str_bytes(const std::string& s) {
  return Bytes(s.begin(), s.end());
}

// A file image: the 8-byte length of json, json, then data_bytes zero bytes.
Bytes file_image(const std::string& json, size_t data_bytes = 0) {
  Bytes b(8 + json.size() + data_bytes, 0);
  for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(uint64_t{json.size()} >> (8 * i));
  std::memcpy(b.data() + 8, json.data(), json.size());
  return b;
}

void write_bytes(const fs::path& p, const Bytes& b) {
  FILE* f = std::fopen(p.c_str(), "wb");
  ASSERT_NE(f, nullptr) << p;
  ASSERT_EQ(std::fwrite(b.data(), 1, b.size(), f), b.size());
  std::fclose(f);
}

std::string read_text(const fs::path& p) {
  Bytes b = io::read_file(p);
  return std::string(b.begin(), b.end());
}

// The message of the cf::Error that fn throws ("" and a failure when it throws none).
template <class Err, class Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Err& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an exception";
  return "";
}

Tensor bf16_tensor(const std::vector<uint16_t>& bits, const Shape& shape) {
  Tensor t = empty(shape, DType::bf16);
  if (!bits.empty()) std::memcpy(t.raw_data_ptr(), bits.data(), 2 * bits.size());
  return t;
}

NamedList sample_tensors() {
  std::mt19937 rng(1234);
  std::normal_distribution<float> normal;
  std::vector<float> f(6);
  for (float& v : f) v = normal(rng);
  return {
      {"f32", from_vector<float>(f, Shape{2, 3})},
      {"f64", from_vector<double>({1e-300, -0.0, 3.141592653589793, 1e300, -7.5}, Shape{5})},
      {"i64", from_vector<int64_t>({INT64_MIN, -1, 0, INT64_MAX}, Shape{2, 1, 2})},
      {"bool", from_vector<bool>({true, false, true}, Shape{3, 1})},
      {"u8", from_vector<uint8_t>({0, 1, 127, 128, 255, 7, 9}, Shape{7})},
      {"bf16", bf16_tensor({0x3F80, 0xC020, 0x7F80, 0x0001}, Shape{2, 2})},
      {"empty", zeros(Shape{0, 3})},
      {"empty_i64", zeros(Shape{4, 0, 2}, DType::i64)},
      {"scalar", scalar_tensor(2.5, DType::f64)},
      {"scalar_bool", scalar_tensor(1, DType::b8)},
      {"transposed", from_vector<float>({1, 2, 3, 4, 5, 6}, Shape{2, 3}).t()},
      {"layer.0/weight ü", full(Shape{1, 1, 1, 1, 1, 1, 1, 2}, -1.0)},
  };
}

const std::map<std::string, std::string> kMetadata = {
    {"format", "pt"}, {"step", "120"}, {"note", "ünïcode \"quoted\"\n"}};

void expect_same(const NamedList& expected, const io::NamedTensors& got) {
  ASSERT_EQ(got.tensors.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(expected[i].first);
    const Tensor& e = expected[i].second;
    EXPECT_EQ(got.tensors[i].first, expected[i].first);  // written in order, read in data order
    const Tensor& g = got.at(expected[i].first);
    EXPECT_EQ(g.dtype(), e.dtype());
    EXPECT_EQ(g.shape(), e.shape());
    EXPECT_TRUE(g.is_contiguous());
    EXPECT_EQ(bytes_of(g), bytes_of(e));
  }
}

// ---------------------------------------------------------------------------- writing

TEST(Safetensors, SerializesTheExactByteLayout) {
  Bytes got = io::serialize_safetensors(
      {{"b", from_vector<float>({1.0f, 2.0f})}, {"a", from_vector<uint8_t>({7})}}, {{"k", "v"}});
  // JSON keys sorted, no spaces, space padding to a multiple of 8, data in the given order.
  std::string json =
      R"({"__metadata__":{"k":"v"},"a":{"data_offsets":[8,9],"dtype":"U8","shape":[1]},)"
      R"("b":{"data_offsets":[0,8],"dtype":"F32","shape":[2]}})";
  json.append((8 - json.size() % 8) % 8, ' ');
  Bytes expected = file_image(json, 9);
  const uint8_t data[] = {0, 0, 0x80, 0x3F, 0, 0, 0, 0x40, 7};  // 1.0f, 2.0f little-endian, 7
  std::memcpy(expected.data() + 8 + json.size(), data, 9);
  EXPECT_EQ(got, expected);
  EXPECT_EQ(json.size() % 8, 0u);
}

TEST(Safetensors, RoundTripsEveryDTypeAndShape) {
  const NamedList tensors = sample_tensors();
  Bytes bytes = io::serialize_safetensors(tensors, kMetadata);
  io::NamedTensors back = io::parse_safetensors(bytes, "memory");
  expect_same(tensors, back);
  EXPECT_EQ(back.metadata, kMetadata);
  EXPECT_FLOAT_EQ(back.at("transposed").to_vector<float>()[1], 4.0f);
  EXPECT_EQ(back.at("scalar").dim(), 0);
  EXPECT_EQ(back.at("scalar").item(), 2.5);

  TempDir dir("roundtrip");
  const std::string path = dir.path() / "model.safetensors";
  io::save_safetensors(path, tensors, kMetadata);
  EXPECT_EQ(io::read_file(path), bytes);
  expect_same(tensors, io::load_safetensors(path));
  io::SafetensorsHeader h = io::read_safetensors_header(path);
  EXPECT_EQ(h.tensors.size(), tensors.size());
  EXPECT_EQ(h.metadata, kMetadata);
  EXPECT_EQ(8 + h.header_size + h.data_size, bytes.size());
  EXPECT_EQ(h.header_size % 8, 0u);
  for (size_t i = 1; i < h.tensors.size(); ++i) EXPECT_LE(h.tensors[i - 1].end, h.tensors[i].begin);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"model.safetensors"});
}

TEST(Safetensors, NoTensorsAndNoMetadata) {
  Bytes bytes = io::serialize_safetensors({});
  EXPECT_EQ(bytes, str_bytes(std::string("\x08\0\0\0\0\0\0\0{}      ", 16)));
  io::NamedTensors back = io::parse_safetensors(bytes, "memory");
  EXPECT_TRUE(back.tensors.empty());
  EXPECT_TRUE(back.metadata.empty());
}

TEST(Safetensors, WriterRejectsBadNames) {
  const Tensor t = zeros(Shape{2});
  for (const std::string& name : {std::string(""), std::string("__metadata__")})
    EXPECT_NE(error_of<ValueError>([&name, &t]() {
                io::serialize_safetensors({{name, t}});
              }).find("save_safetensors: invalid tensor name"),
              std::string::npos);
  EXPECT_NE(error_of<ValueError>([&t]() {
              io::serialize_safetensors({{"w", t}, {"w", t}});
            }).find("save_safetensors: duplicate tensor name 'w'"),
            std::string::npos);
  EXPECT_NE(error_of<ValueError>([&t]() {
              io::serialize_safetensors({{"bad\xff", t}});
            }).find("a tensor name is not valid UTF-8 (byte 3)"),
            std::string::npos);
  EXPECT_NE(error_of<ValueError>([&t]() {
              io::serialize_safetensors({{"w", t}}, {{"k", "\xc0\xaf"}});
            }).find("a metadata value is not valid UTF-8"),
            std::string::npos);
  EXPECT_NE(error_of<ValueError>([]() {
              io::serialize_safetensors({{"w", Tensor{}}});
            }).find("tensor 'w' is undefined"),
            std::string::npos);
}

TEST(Safetensors, MissingTensorNamesIt) {
  io::NamedTensors nt =
      io::parse_safetensors(io::serialize_safetensors({{"a", zeros(Shape{1})}}), "m");
  EXPECT_TRUE(nt.contains("a"));
  EXPECT_FALSE(nt.contains("b"));
  EXPECT_NE(error_of<ValueError>([&nt]() { nt.at("b"); }).find("no tensor named 'b'"),
            std::string::npos);
}

// ---------------------------------------------------------------------------- the corpus

struct MalformedCase {
  const char* file;     // stem in tests/data/safetensors/malformed/
  const char* message;  // substring of the FormatError
  bool data_defect;     // only visible in the data: the header alone is valid
};

// Kept in step with tools/make_safetensors_corpus.py (and its README); the test below fails on
// any file without a row or row without a file.
const MalformedCase kMalformed[] = {
    {"empty", "fewer than the 8-byte header length", false},
    {"seven_bytes", "fewer than the 8-byte header length", false},
    {"header_length_past_end", "header length 100 runs past the end of the file (10 bytes)", false},
    {"header_length_over_limit", "header length 100000001 exceeds the limit of 100000000 bytes",
     false},
    {"header_length_u64_max", "header length 18446744073709551615 exceeds the limit", false},
    {"header_length_zero", "header of 0 bytes cannot hold a JSON object", false},
    {"header_length_one", "header of 1 bytes cannot hold a JSON object", false},
    {"header_leading_space", "header does not start with '{' (byte 8 is 0x20)", false},
    {"header_json_array", "header does not start with '{' (byte 8 is 0x5b)", false},
    {"invalid_json", "header is not valid JSON", false},
    {"invalid_json_trailing_garbage", "header is not valid JSON", false},
    {"invalid_json_nul_padding", "header is not valid JSON: NUL byte at byte 10 of the file",
     false},
    {"invalid_json_nan", "header is not valid JSON", false},
    {"invalid_json_lone_surrogate", "header is not valid JSON", false},
    {"invalid_utf8", "header is not valid UTF-8 (byte 10 of the file)", false},
    {"invalid_utf8_overlong", "header is not valid UTF-8 (byte 10 of the file)", false},
    {"duplicate_tensor_name", "duplicate tensor name 'a'", false},
    {"duplicate_key_in_entry", "duplicate key 'dtype' in the entry 'a'", false},
    {"duplicate_metadata", "duplicate __metadata__", false},
    {"unknown_dtype", "tensor 'a' has unknown dtype 'F17'", false},
    {"dtype_lowercase", "tensor 'a' has unknown dtype 'f32'", false},
    {"dtype_not_string", "tensor 'a' dtype must be a string, got the integer 4", false},
    {"dtype_missing", "tensor 'a' has no dtype", false},
    {"shape_missing", "tensor 'a' has no shape", false},
    {"shape_not_array", "tensor 'a' shape must be an array, got the integer 2", false},
    {"shape_negative", "tensor 'a' shape[0] must be a non-negative integer, got the integer -2",
     false},
    {"shape_float", "tensor 'a' shape[0] must be a non-negative integer, got the number 2.0",
     false},
    {"shape_string", "tensor 'a' shape[1] must be a non-negative integer, got the string '2'",
     false},
    {"shape_beyond_u64", "tensor 'a' shape[0] must be a non-negative integer, got the number",
     false},
    {"shape_overflow_product", "shape [4294967296, 4294967296] has more than 2^50 elements", false},
    {"shape_u64_max", "shape [18446744073709551615] has more than 2^50 elements", false},
    {"shape_zero_hides_huge_dims", "shape [0, 1099511627776, 1099511627776] has more than 2^50",
     false},
    {"shape_too_many_dims", "tensor 'a' has 9 dims; at most 8 are supported", false},
    {"shape_deeply_nested",
     "header nests JSON values deeper than a safetensors header can (an array inside 'shape' of "
     "the entry 'a')",
     false},
    {"shape_long_array",
     "an array in the header ('shape' of the entry 'a') has more than 64 elements", false},
    {"metadata_nested_deep",
     "header nests JSON values deeper than a safetensors header can (an object inside 'k' of "
     "__metadata__)",
     false},
    {"offsets_missing", "tensor 'a' has no data_offsets", false},
    {"offsets_wrong_length",
     "data_offsets must be an array [begin, end], got an array of 1 elements", false},
    {"offsets_three", "data_offsets must be an array [begin, end], got an array of 3 elements",
     false},
    {"offsets_not_array", "data_offsets must be an array [begin, end], got the string '0:8'",
     false},
    {"offsets_not_integers", "data_offsets[0] must be a non-negative integer, got the number 0.0",
     false},
    {"offsets_negative", "data_offsets[0] must be a non-negative integer, got the integer -8",
     false},
    {"offsets_null", "data_offsets[1] must be a non-negative integer, got null", false},
    {"offsets_reversed", "tensor 'a' data_offsets [8, 0] end before they begin", false},
    {"offsets_past_end", "data_offsets [0, 16] run past the end of the data buffer (8 bytes)",
     false},
    {"offsets_near_u64_max",
     "data_offsets [18446744073709551607, 18446744073709551615] run past the end of the data "
     "buffer",
     false},
    {"offsets_overlap", "tensor 'b' data_offsets [4, 12] overlap tensor 'a' data_offsets [0, 8]",
     false},
    {"offsets_alias", "tensor 'b' data_offsets [0, 8] overlap tensor 'a' data_offsets [0, 8]",
     false},
    {"offsets_empty_inside_other", "tensor 'e' data_offsets [4, 4] overlap tensor 'a'", false},
    {"offsets_gap", "gap in the data buffer: bytes [4, 8) belong to no tensor", false},
    {"offsets_not_from_zero", "gap in the data buffer: bytes [0, 4) belong to no tensor", false},
    {"trailing_bytes", "trailing bytes [4, 8) belong to no tensor", false},
    {"no_tensors_trailing_bytes", "trailing bytes [0, 8) belong to no tensor", false},
    {"byte_count_mismatch",
     "tensor 'a' of dtype F32 and shape [2, 3] needs 24 bytes, but data_offsets [0, 20] hold 20",
     false},
    {"byte_count_dtype_mismatch",
     "of dtype F64 and shape [2] needs 16 bytes, but data_offsets [0, 8] hold 8", false},
    {"scalar_byte_count", "and shape [] needs 4 bytes, but data_offsets [0, 8] hold 8", false},
    {"metadata_not_object", "__metadata__ must be an object of strings, got an array of 2 elements",
     false},
    {"metadata_null", "__metadata__ must be an object of strings, got null", false},
    {"metadata_value_not_string",
     "__metadata__ value of 'step' must be a string, got the integer 10", false},
    {"metadata_value_object", "__metadata__ value of 'cfg' must be a string, got an object", false},
    {"unknown_field", "tensor 'a' has an unknown field 'offset'", false},
    {"entry_not_object",
     "tensor 'a' must be an object {dtype, shape, data_offsets}, got an array of 2 elements",
     false},
    {"empty_tensor_name", "empty tensor name", false},
    {"bool_byte_2",
     "tensor 'm' (BOOL) holds byte 2 at element 1 (file offset 65); only 0 and 1 are valid", true},
    {"truncated_data", "data_offsets [0, 8] run past the end of the data buffer (5 bytes)", false},
    {"truncated_header", "runs past the end of the file (20 bytes)", false},
};

TEST(SafetensorsCorpus, EveryMalformedFileThrowsItsFormatError) {
  const fs::path dir = corpus_dir() / "malformed";
  std::set<std::string> on_disk;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".safetensors") on_disk.insert(e.path().stem());
  std::set<std::string> in_table;
  for (const MalformedCase& c : kMalformed) {
    SCOPED_TRACE(c.file);
    EXPECT_TRUE(in_table.insert(c.file).second) << "row listed twice";
    EXPECT_TRUE(on_disk.count(c.file)) << "no file " << c.file << ".safetensors in " << dir;
    const std::string path = dir / (std::string(c.file) + ".safetensors");
    const std::string msg = error_of<FormatError>([&path]() { io::load_safetensors(path); });
    EXPECT_NE(msg.find(c.message), std::string::npos) << "message: " << msg;
    EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << "the message must start with the path: " << msg;
    if (c.data_defect) {
      EXPECT_NO_THROW(io::read_safetensors_header(path));
    } else {
      const std::string header_msg =
          error_of<FormatError>([&path]() { io::read_safetensors_header(path); });
      EXPECT_NE(header_msg.find(c.message), std::string::npos) << "header-only: " << header_msg;
    }
  }
  // The corpus README (written by the same script as the files) lists the same messages.
  const std::string readme = read_text(corpus_dir() / "README.md");
  for (const MalformedCase& c : kMalformed) {
    const std::string row = "| " + std::string(c.file) + ".safetensors |";
    const size_t at = readme.find(row);
    ASSERT_NE(at, std::string::npos) << c.file << " is not in README.md";
    const std::string line = readme.substr(at, readme.find('\n', at) - at);
    EXPECT_NE(line.find("| `" + std::string(c.message) + "` |"), std::string::npos)
        << "README.md and the table disagree on " << c.file << ": " << line;
  }
  for (const std::string& f : on_disk)
    EXPECT_TRUE(in_table.count(f)) << f << " has no row in the table";
  EXPECT_GE(in_table.size(), 35u);
}

TEST(SafetensorsCorpus, EveryValidFileLoads) {
  const fs::path dir = corpus_dir() / "valid";
  auto load = [&dir](const char* stem) {
    return io::load_safetensors(dir / (std::string(stem) + ".safetensors"));
  };
  std::set<std::string> on_disk;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".safetensors") on_disk.insert(e.path().stem());
  EXPECT_EQ(on_disk, (std::set<std::string>{"bf16", "empty_tensor", "f16_i32", "metadata_only",
                                            "no_tensors", "padded_header", "scalar", "small_ints",
                                            "unicode_name", "unordered"}));

  io::NamedTensors e = load("empty_tensor");
  ASSERT_EQ(e.tensors.size(), 3u);
  EXPECT_EQ(e.at("e").shape(), (Shape{0, 3}));
  EXPECT_EQ(e.at("x").to_vector<float>(), (std::vector<float>{1, 2}));
  EXPECT_EQ(e.at("z").shape(), (Shape{2, 0}));
  EXPECT_EQ(e.at("z").dtype(), DType::i64);

  io::NamedTensors s = load("scalar");
  EXPECT_EQ(s.at("s").dim(), 0);
  EXPECT_EQ(s.at("s").dtype(), DType::f64);
  EXPECT_EQ(s.at("s").item(), 3.5);

  io::NamedTensors m = load("metadata_only");
  EXPECT_TRUE(m.tensors.empty());
  EXPECT_EQ(m.metadata,
            (std::map<std::string, std::string>{{"format", "pt"}, {"note", "no tensors"}}));
  EXPECT_TRUE(load("no_tensors").tensors.empty());

  io::NamedTensors p = load("padded_header");
  EXPECT_EQ(p.at("a").to_vector<float>(), (std::vector<float>{1, 2}));

  io::NamedTensors h = load("f16_i32");
  EXPECT_EQ(h.at("h").dtype(), DType::f32);
  EXPECT_EQ(h.at("h").to_vector<float>(), (std::vector<float>{1, -2, 0.5, 65504, 0x1p-24f}));
  EXPECT_EQ(h.at("i").dtype(), DType::i64);
  EXPECT_EQ(h.at("i").to_vector<int64_t>(), (std::vector<int64_t>{-1, INT32_MAX, INT32_MIN}));

  io::NamedTensors b = load("bf16");
  EXPECT_EQ(b.at("b").dtype(), DType::bf16);
  EXPECT_EQ(b.at("b").to(DType::f32).to_vector<float>(), (std::vector<float>{1, -2.5, 3.140625}));

  io::NamedTensors i = load("small_ints");
  EXPECT_EQ(i.at("i8").to_vector<int64_t>(), (std::vector<int64_t>{-128, 127}));
  EXPECT_EQ(i.at("i16").to_vector<int64_t>(), (std::vector<int64_t>{-32768, 32767}));
  EXPECT_EQ(i.at("u16").to_vector<int64_t>(), (std::vector<int64_t>{0, 65535}));
  EXPECT_EQ(i.at("u32").to_vector<int64_t>(), (std::vector<int64_t>{0, 4294967295}));

  io::NamedTensors u = load("unordered");
  ASSERT_EQ(u.tensors.size(), 2u);
  EXPECT_EQ(u.tensors[0].first, "first");  // data order, not header order
  EXPECT_EQ(u.at("first").to_vector<uint8_t>(), (std::vector<uint8_t>{1, 2, 3, 4}));
  EXPECT_EQ(u.at("second").to_vector<float>(), (std::vector<float>{7}));
  EXPECT_EQ(u.metadata.at("k"), "v");

  io::NamedTensors n = load("unicode_name");
  EXPECT_EQ(n.at("\xc3\xbcn\xc3\xaf/\xe5\x90\x8d\xe5\x89\x8d").to_vector<bool>(),
            (std::vector<bool>{true, false, true}));
}

// Hand-built files for dtypes the format knows but cformer cannot hold.
TEST(Safetensors, UnsupportedDTypesThrowNotImplemented) {
  for (const char* dtype : {"U64", "F8_E4M3", "F8_E5M2"}) {
    SCOPED_TRACE(dtype);
    const int64_t esize = std::string(dtype) == "U64" ? 8 : 1;
    std::string json = std::string(R"({"x":{"dtype":")") + dtype +
                       R"(","shape":[2],"data_offsets":[0,)" + std::to_string(2 * esize) + "]}}";
    const Bytes b = file_image(json, 2 * esize);
    EXPECT_NO_THROW(io::parse_safetensors_header(b, b.size(), "m"));
    EXPECT_NE(
        error_of<NotImplementedError>([&b]() {
          io::parse_safetensors(b, "m");
        }).find("m: tensor 'x' has dtype " + std::string(dtype) + ", which cformer cannot hold"),
        std::string::npos);
  }
}

// ---------------------------------------------------------------------------- robustness

// Parses b; returns true when it parsed. Anything thrown that is not a cf::Error fails the test.
bool parses_or_throws_cf_error(const Bytes& b, const std::string& what) {
  try {
    io::NamedTensors nt = io::parse_safetensors(b, "fuzz");
    for (const auto& [name, t] : nt.tensors) {
      EXPECT_FALSE(name.empty()) << what;
      EXPECT_LE(static_cast<size_t>(t.numel()) * t.element_size(), 8 * b.size()) << what;
    }
    return true;
  } catch (const Error&) {
    return false;
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": threw a non-cf exception: " << e.what();
    return false;
  }
}

TEST(SafetensorsRobustness, EveryTruncationThrowsFormatError) {
  const Bytes full_file = io::serialize_safetensors(sample_tensors(), kMetadata);
  ASSERT_NO_THROW(io::parse_safetensors(full_file, "m"));
  for (size_t len = 0; len < full_file.size(); ++len) {
    const Bytes cut(full_file.begin(), full_file.begin() + len);
    EXPECT_THROW(io::parse_safetensors(cut, "m"), FormatError) << "length " << len;
    if (len >= 8) {
      EXPECT_THROW(io::parse_safetensors_header(cut, len, "m"), FormatError) << "length " << len;
    }
  }
}

TEST(SafetensorsRobustness, RandomByteFlipsParseOrThrowCfError) {
  const auto start = std::chrono::steady_clock::now();
  const Bytes original = io::serialize_safetensors(sample_tensors(), kMetadata);
  const uint64_t seed = 20261121;
  std::mt19937_64 rng(seed);
  const uint64_t header_end =
      8 + io::parse_safetensors_header(original, original.size(), "m").header_size;
  int parsed = 0, rejected = 0;
  const int kTrials = 4000;
  for (int trial = 0; trial < kTrials; ++trial) {
    Bytes b = original;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      // Mostly the length and the JSON, where the parser's decisions are; sometimes the data.
      const size_t limit = rng() % 8 == 0 ? b.size() : header_end;
      const size_t pos = rng() % limit;
      switch (rng() % 4) {
        case 0:
          b[pos] ^= static_cast<uint8_t>(1u << (rng() % 8));
          break;
        case 1:
          b[pos] = static_cast<uint8_t>(rng());
          break;
        case 2:
          b[pos] = static_cast<uint8_t>("0123456789{}[]\",:-. e"[rng() % 21]);
          break;
        default:
          b[pos] = static_cast<uint8_t>(b[pos] + 1);
          break;
      }
    }
    if (parses_or_throws_cf_error(
            b, "seed " + std::to_string(seed) + " trial " + std::to_string(trial)))
      ++parsed;
    else
      ++rejected;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("random byte flips: seed %llu, %d trials: %d parsed, %d rejected, %.2f s\n",
              static_cast<unsigned long long>(seed), kTrials, parsed, rejected, seconds);
  EXPECT_GT(rejected, kTrials / 2);  // the mutations do reach the validation
  EXPECT_GT(parsed, 0);              // and some land in data bytes or keep the JSON valid
}

// Edits of the JSON text with the length prefix kept right, so that the mutants get past the
// framing checks and reach the semantic ones (offsets, shapes, dtypes, tiling, BOOL bytes).
TEST(SafetensorsRobustness, RandomHeaderEditsParseOrThrowCfError) {
  const auto start = std::chrono::steady_clock::now();
  const Bytes original = io::serialize_safetensors(sample_tensors(), kMetadata);
  const io::SafetensorsHeader h0 = io::parse_safetensors_header(original, original.size(), "m");
  const std::string json0(original.begin() + 8, original.begin() + 8 + h0.header_size);
  const Bytes data(original.begin() + 8 + h0.header_size, original.end());
  const char* tokens[] = {"-1",
                          "0",
                          "1",
                          "1e400",
                          "18446744073709551616",
                          "0.5",
                          "null",
                          "[]",
                          "{}",
                          "\"x\"",
                          "[0,0]",
                          "\"BOOL\"",
                          "\"F16\"",
                          "\"I8\"",
                          ",",
                          "]",
                          "}",
                          "[",
                          "{",
                          ":",
                          "\"__metadata__\"",
                          "9999"};
  const uint64_t seed = 7;
  std::mt19937_64 rng(seed);
  int parsed = 0, rejected = 0;
  const int kTrials = 3000;
  for (int trial = 0; trial < kTrials; ++trial) {
    std::string text = json0;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < edits && !text.empty(); ++k) {
      const size_t pos = rng() % text.size();
      switch (rng() % 4) {
        case 0:  // another digit: moves offsets, resizes shapes
          if (std::isdigit(static_cast<unsigned char>(text[pos])))
            text[pos] = '0' + rng() % 10;
          else
            text[pos] = "0123456789"[rng() % 10];
          break;
        case 1:
          text.insert(pos, tokens[rng() % std::size(tokens)]);
          break;
        case 2:
          text.erase(pos, 1 + rng() % 8);
          break;
        default:
          text.insert(pos, text.substr(rng() % text.size(), 1 + rng() % 24));
          break;
      }
    }
    Bytes b = file_image(text, data.size());
    std::memcpy(b.data() + 8 + text.size(), data.data(), data.size());
    if (parses_or_throws_cf_error(
            b, "seed " + std::to_string(seed) + " trial " + std::to_string(trial) + ": " + text))
      ++parsed;
    else
      ++rejected;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("random header edits: seed %llu, %d trials: %d parsed, %d rejected, %.2f s\n",
              static_cast<unsigned long long>(seed), kTrials, parsed, rejected, seconds);
  EXPECT_GT(rejected, kTrials / 2);
  EXPECT_GT(parsed, 0);
}

// ---------------------------------------------------------------------------- header-only reads

TEST(Safetensors, HeaderOnlyReadDoesNotTouchTheData) {
  TempDir dir("header_only");
  const fs::path path = dir.path() / "huge.safetensors";
  // A 64 GiB tensor in a sparse file: reading the data would take minutes or fail to allocate.
  const uint64_t data_bytes = uint64_t{1} << 36;
  std::string json = R"({"__metadata__":{"k":"v"},"w":{"dtype":"F32","shape":[131072,131072],)"
                     R"("data_offsets":[0,)" +
                     std::to_string(data_bytes) + "]}}";
  const Bytes head = file_image(json);
  write_bytes(path, head);
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(head.size() + data_bytes)), 0)
      << "cannot make a sparse file: " << std::strerror(errno);

  const auto start = std::chrono::steady_clock::now();
  io::SafetensorsHeader h = io::read_safetensors_header(path);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 0.5);
  ASSERT_EQ(h.tensors.size(), 1u);
  EXPECT_EQ(h.tensors[0].name, "w");
  EXPECT_EQ(h.tensors[0].dtype, "F32");
  EXPECT_EQ(h.tensors[0].shape, (Shape{131072, 131072}));
  EXPECT_EQ(h.tensors[0].end, data_bytes);
  EXPECT_EQ(h.data_size, data_bytes);
  EXPECT_EQ(h.header_size, json.size());
  EXPECT_EQ(h.metadata.at("k"), "v");

  // One byte short of the declared data: the header reader sees it from the file size alone.
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(head.size() + data_bytes - 1)), 0);
  EXPECT_NE(error_of<FormatError>([&path]() {
              io::read_safetensors_header(path);
            }).find("run past the end of the data buffer (68719476735 bytes)"),
            std::string::npos);
}

TEST(Safetensors, HeaderReadErrorsNameThePath) {
  TempDir dir("header_errors");
  const std::string missing = dir.path() / "missing.safetensors";
  EXPECT_NE(error_of<IoError>([&missing]() {
              io::read_safetensors_header(missing);
            }).find(missing + ": cannot open: No such file or directory"),
            std::string::npos);
  EXPECT_NE(error_of<IoError>([&missing]() { io::load_safetensors(missing); }).find(missing),
            std::string::npos);
  const std::string d = dir.path();
  EXPECT_NE(error_of<IoError>([&d]() {
              io::read_safetensors_header(d);
            }).find(d + ": not a regular file"),
            std::string::npos);
  EXPECT_NE(error_of<IoError>([&d]() { io::read_file(d); }).find(d + ": is a directory"),
            std::string::npos);
}

// ---------------------------------------------------------------------------- atomic writes

TEST(WriteFileAtomic, WritesThenReplacesWithoutLeavingTemporaries) {
  TempDir dir("atomic");
  const std::string path = dir.path() / "ckpt.bin";
  io::write_file_atomic(path, str_bytes("first version"));
  EXPECT_EQ(read_text(path), "first version");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"ckpt.bin"});

  // A reader holding the old file keeps seeing it whole: the new file replaces the directory
  // entry (rename), it is never written in place.
  const int old_fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(old_fd, 0);
  struct stat before {};
  ASSERT_EQ(::stat(path.c_str(), &before), 0);
  io::write_file_atomic(path, str_bytes("second, longer version"));
  struct stat after {};
  ASSERT_EQ(::stat(path.c_str(), &after), 0);
  EXPECT_NE(before.st_ino, after.st_ino);
  char buf[64] = {};
  EXPECT_EQ(::pread(old_fd, buf, sizeof(buf), 0), 13);
  EXPECT_EQ(std::string(buf), "first version");
  ::close(old_fd);
  EXPECT_EQ(read_text(path), "second, longer version");
  EXPECT_EQ(after.st_mode & 0777, before.st_mode & 0777);

  io::write_file_atomic(path, {});  // an empty file is a valid content too
  EXPECT_EQ(read_text(path), "");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"ckpt.bin"});
}

TEST(WriteFileAtomic, MissingDirectoryThrowsIoErrorNamingThePath) {
  TempDir dir("atomic_missing");
  const std::string path = dir.path() / "no_such_dir" / "ckpt.safetensors";
  const std::string msg =
      error_of<IoError>([&path]() { io::write_file_atomic(path, str_bytes("x")); });
  EXPECT_EQ(msg.rfind(path + ": write_file_atomic: cannot create the temporary file", 0), 0u)
      << msg;
  EXPECT_NE(msg.find("No such file or directory"), std::string::npos) << msg;
  EXPECT_THROW(io::save_safetensors(path, {{"w", zeros(Shape{2})}}), IoError);
  EXPECT_TRUE(dir.entries().empty());
}

TEST(WriteFileAtomic, FailedRenameKeepsTheOldContentAndNoTemporary) {
  TempDir dir("atomic_rename");
  const fs::path target = dir.path() / "taken";
  fs::create_directories(target / "child");  // a non-empty directory cannot be replaced by a file
  const std::string msg =
      error_of<IoError>([&target]() { io::write_file_atomic(target, str_bytes("data")); });
  EXPECT_NE(msg.find(target.string() + ": write_file_atomic: rename failed"), std::string::npos)
      << msg;
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"taken"});
  EXPECT_TRUE(fs::is_directory(target / "child"));
}

TEST(WriteFileAtomic, RelativePathInTheWorkingDirectory) {
  TempDir dir("atomic_relative");
  const fs::path cwd = fs::current_path();
  fs::current_path(dir.path());
  io::write_file_atomic("plain.bin", str_bytes("abc"));
  fs::current_path(cwd);
  EXPECT_EQ(read_text(dir.path() / "plain.bin"), "abc");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"plain.bin"});
}

}  // namespace
}  // namespace cf
