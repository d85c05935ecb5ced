// PNG output decoded by an independent reader (tools/png_check.py: Python's zlib + struct, all
// five row filters, every CRC checked) must give back the pixels; the image grid's layout.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cformer/error.h"
#include "cformer/io.h"
#include "cformer/random.h"
#include "cformer/vision_data.h"
#include "support/expect_throw.h"

namespace cf::data {
namespace {

namespace fs = std::filesystem;

fs::path temp_dir() {
  const fs::path d = fs::temp_directory_path() / ("cformer_test_png_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

// Decodes path with tools/png_check.py; returns "W H C" and the pixels.
std::string decode(const fs::path& path, std::vector<uint8_t>* pixels) {
  const fs::path raw = path.string() + ".raw";
  const std::string cmd = "/usr/bin/python3 '" +
                          (fs::path(CFORMER_SOURCE_DIR) / "tools" / "png_check.py").string() +
                          "' '" + path.string() + "' '" + raw.string() + "' 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  EXPECT_NE(p, nullptr);
  std::string out;
  char buf[256];
  while (p && std::fgets(buf, sizeof(buf), p)) out += buf;
  const int rc = p ? ::pclose(p) : -1;
  EXPECT_EQ(rc, 0) << cmd << "\n" << out;
  if (rc == 0) *pixels = io::read_file(raw.string());
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// Noise on top of smooth gradients, so rows pick different filters.
Tensor test_image(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  Tensor noise = randint(0, 256, shape, gen);
  const std::vector<int64_t> v = noise.to_vector<int64_t>();
  std::vector<uint8_t> px(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    px[i] = static_cast<uint8_t>((i / 7) % 3 == 0 ? v[i] : (i * 5) / 3);
  return from_vector(px, shape);
}

TEST(Png, IndependentDecoderGetsThePixelsBack) {
  const fs::path d = temp_dir();
  struct Case {
    Shape shape;
    std::string dims;
  };
  for (const Case& c : {Case{{13, 17}, "17 13 1"}, Case{{5, 33, 3}, "33 5 3"},
                        Case{{1, 1, 1}, "1 1 1"}, Case{{64, 3, 1}, "3 64 1"}}) {
    const Tensor img = test_image(c.shape, 11);
    const fs::path path = d / "img.png";
    write_png(path.string(), img);
    std::vector<uint8_t> px;
    EXPECT_EQ(decode(path, &px), c.dims);
    EXPECT_EQ(px, img.to_vector<uint8_t>()) << img.shape();
  }
  // A non-contiguous view is written as its values.
  const Tensor big = test_image({6, 8, 3}, 12);
  const Tensor view = big.slice(1, 1, 8, 2);
  write_png((d / "view.png").string(), view);
  std::vector<uint8_t> px;
  EXPECT_EQ(decode(d / "view.png", &px), "4 6 3");
  EXPECT_EQ(px, view.contiguous().to_vector<uint8_t>());
  // The decoder is not a rubber stamp: a flipped byte fails its CRC check.
  std::vector<uint8_t> bytes = encode_png(test_image({4, 4}, 3));
  bytes[bytes.size() / 2] ^= 0x10;
  io::write_file_atomic((d / "broken.png").string(), bytes);
  const std::string cmd = "/usr/bin/python3 '" +
                          (fs::path(CFORMER_SOURCE_DIR) / "tools" / "png_check.py").string() +
                          "' '" + (d / "broken.png").string() + "' /dev/null > /dev/null 2>&1";
  EXPECT_NE(std::system(cmd.c_str()), 0);
  fs::remove_all(d);
}

TEST(Png, GridLayoutAndRealImages) {
  // Three 2x2 images (values 10+k, 20+k, 30+k, 40+k), two per row, padding 1, upscaled by 2.
  std::vector<uint8_t> px;
  for (int k = 0; k < 3; ++k)
    for (int i = 1; i <= 4; ++i) px.push_back(static_cast<uint8_t>(10 * i + k));
  const Tensor grid = make_image_grid(from_vector(px, Shape{3, 2, 2, 1}), 2, 1, 2, 255);
  ASSERT_EQ(grid.shape(), (Shape{11, 11, 1}));
  const std::vector<uint8_t> g = grid.to_vector<uint8_t>();
  auto at = [&g](int y, int x) { return g[y * 11 + x]; };
  EXPECT_EQ(at(0, 0), 255);  // border
  EXPECT_EQ(at(1, 1), 10);   // image 0, pixel (0, 0), upscaled 2x
  EXPECT_EQ(at(2, 2), 10);
  EXPECT_EQ(at(1, 3), 20);  // image 0, pixel (0, 1)
  EXPECT_EQ(at(4, 4), 40);
  EXPECT_EQ(at(1, 5), 255);  // padding between columns
  EXPECT_EQ(at(1, 6), 11);   // image 1
  EXPECT_EQ(at(6, 1), 12);   // image 2, second row
  EXPECT_EQ(at(6, 6), 255);  // the empty cell keeps the pad value
  EXPECT_EQ(make_image_grid(from_vector(px, Shape{3, 2, 2, 1}), 8, 0).shape(), (Shape{2, 6, 1}));

  const ImageDataset fashion = load_fashion_mnist(Split::test);
  const Tensor real = make_image_grid(fashion.images.narrow(0, 0, 16), 4, 2, 2);
  EXPECT_EQ(real.shape(), (Shape{4 * 58 + 2, 4 * 58 + 2, 1}));
  const fs::path d = temp_dir();
  write_png((d / "grid.png").string(), real);
  std::vector<uint8_t> back;
  EXPECT_EQ(decode(d / "grid.png", &back), "234 234 1");
  EXPECT_EQ(back, real.to_vector<uint8_t>());
  fs::remove_all(d);
}

TEST(Png, Errors) {
  EXPECT_THROW_OP(encode_png(zeros(Shape{2, 2})), DTypeError, "encode_png");
  EXPECT_THROW_OP(encode_png(zeros(Shape{2, 2, 2}, DType::u8)), ShapeError, "encode_png");
  EXPECT_THROW_OP(encode_png(zeros(Shape{0, 2}, DType::u8)), ShapeError, "encode_png");
  EXPECT_THROW_OP(encode_png(zeros(Shape{1, 70000}, DType::u8)), ShapeError, "encode_png");
  EXPECT_THROW_OP(make_image_grid(zeros(Shape{2, 2, 2}, DType::u8), 1), ShapeError,
                  "make_image_grid");
  EXPECT_THROW_OP(make_image_grid(zeros(Shape{0, 2, 2, 1}, DType::u8), 1), ShapeError,
                  "make_image_grid");
  EXPECT_THROW_OP(make_image_grid(zeros(Shape{1, 2, 2, 1}), 1), DTypeError, "make_image_grid");
  EXPECT_THROW_OP(make_image_grid(zeros(Shape{1, 2, 2, 1}, DType::u8), 0), ValueError,
                  "make_image_grid");
  EXPECT_THROW_OP(make_image_grid(zeros(Shape{1, 2, 2, 1}, DType::u8), 1, -1), ValueError,
                  "make_image_grid");
  EXPECT_THROW_OP(make_image_grid(zeros(Shape{1, 2, 2, 1}, DType::u8), 1, 0, 0), ValueError,
                  "make_image_grid");
  EXPECT_THROW_OP(make_image_grid(zeros(Shape{4000, 28, 28, 1}, DType::u8), 4000), ShapeError,
                  "make_image_grid");
  // The atomic write names the path and leaves nothing behind.
  const fs::path d = temp_dir();
  EXPECT_THROW_MSG(write_png((d / "no" / "such.png").string(), zeros(Shape{2, 2}, DType::u8)),
                   IoError, (d / "no" / "such.png").string());
  EXPECT_TRUE(fs::is_empty(d));
  fs::remove_all(d);
}

}  // namespace
}  // namespace cf::data
