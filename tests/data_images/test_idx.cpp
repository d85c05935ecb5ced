// IDX reading: the real Fashion-MNIST of Debian's dataset-fashion-mnist (installed by
// scripts/setup.sh; the tests fail when it is missing) and a corpus of malformed files
// generated here, each rejected with a FormatError that names the file and the problem.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "cformer/error.h"
#include "cformer/vision_data.h"
#include "support/expect_throw.h"

namespace cf::data {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

fs::path temp_dir(const std::string& name) {
  const fs::path d =
      fs::temp_directory_path() / ("cformer_test_idx_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string write(const fs::path& p, const Bytes& b) {
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), b.size());
  return p.string();
}

void put_u32(Bytes& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}

// An IDX file of unsigned bytes: magic 0x0000 08 ndims, sizes, then the payload.
Bytes idx(const std::vector<uint32_t>& dims, const Bytes& payload, uint32_t magic = 0) {
  Bytes b;
  put_u32(b, magic ? magic : 0x800u | static_cast<uint32_t>(dims.size()));
  for (uint32_t d : dims) put_u32(b, d);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

Bytes gzip(const Bytes& in) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  Bytes out(deflateBound(&zs, in.size()) + 64);
  zs.next_in = const_cast<uint8_t*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// Three 2x3 images with pixel values 0..17 and labels 2, 0, 1.
Bytes pixels() {
  Bytes p(18);
  for (int i = 0; i < 18; ++i) p[i] = static_cast<uint8_t>(i * 13);
  return p;
}
const std::vector<std::string> kClasses = {"a", "b", "c"};

TEST(Idx, ReadsPlainAndGzipAlike) {
  const fs::path d = temp_dir("ok");
  const std::string im = write(d / "im", idx({3, 2, 3}, pixels()));
  const std::string imgz = write(d / "im.gz", gzip(idx({3, 2, 3}, pixels())));
  const std::string lb = write(d / "lb.gz", gzip(idx({3}, {2, 0, 1})));
  for (const std::string& path : {im, imgz}) {
    ImageDataset ds = read_idx_dataset(path, lb, kClasses);
    EXPECT_EQ(ds.images.shape(), (Shape{3, 2, 3, 1}));
    EXPECT_EQ(ds.images.to_vector<uint8_t>(), pixels());
    EXPECT_EQ(ds.labels.to_vector<int64_t>(), (std::vector<int64_t>{2, 0, 1}));
    EXPECT_EQ(ds.class_counts(), (std::vector<int64_t>{1, 1, 1}));
  }
  // Two concatenated gzip members are one stream (as gunzip reads them).
  Bytes whole = idx({3, 2, 3}, pixels());
  Bytes a = gzip(Bytes(whole.begin(), whole.begin() + 10)),
        b = gzip(Bytes(whole.begin() + 10, whole.end()));
  a.insert(a.end(), b.begin(), b.end());
  EXPECT_EQ(read_idx_u8(write(d / "two.gz", a), 3).to_vector<uint8_t>(), pixels());
  fs::remove_all(d);
}

TEST(Idx, MalformedFilesNameTheFileAndTheProblem) {
  const fs::path d = temp_dir("bad");
  const Bytes good = idx({3, 2, 3}, pixels());
  const std::string lb = write(d / "lb", idx({3}, {2, 0, 1}));

  // Truncated payload, plain and gzip; truncated header.
  const std::string cut = write(d / "cut", Bytes(good.begin(), good.end() - 5));
  EXPECT_THROW_MSG(read_idx_u8(cut, 3), FormatError,
                   cut +
                       ": truncated: sizes (3, 2, 3) need 18 bytes of data after the 16-byte "
                       "header, found 13");
  const Bytes gz = gzip(good);
  const std::string gzcut = write(d / "cut.gz", Bytes(gz.begin(), gz.begin() + gz.size() / 2));
  EXPECT_THROW_MSG(read_idx_u8(gzcut, 3), FormatError, "the gzip stream ends early");
  EXPECT_THROW_MSG(read_idx_u8(gzcut, 3), FormatError, gzcut);
  // Everything but the 8-byte trailer (CRC-32, length): all pixels inflate, the check fails.
  const std::string notrailer = write(d / "notrailer.gz", Bytes(gz.begin(), gz.end() - 8));
  EXPECT_THROW_MSG(read_idx_u8(notrailer, 3), FormatError, "CRC trailer is missing");
  const std::string head = write(d / "head", Bytes(good.begin(), good.begin() + 9));
  EXPECT_THROW_MSG(read_idx_u8(head, 3), FormatError,
                   "truncated: expected 12 bytes of sizes after the magic, found 5");
  const std::string tiny = write(d / "tiny", Bytes{0, 0});
  EXPECT_THROW_MSG(read_idx_u8(tiny, 3), FormatError,
                   "expected the 4-byte magic 0x00000803 (unsigned byte, 3 dims), found 2 bytes");

  // Wrong magic: not IDX at all, wrong element type, wrong number of dims.
  const std::string png = write(d / "png", Bytes{0x89, 'P', 'N', 'G', 0, 0, 0, 0});
  EXPECT_THROW_MSG(read_idx_u8(png, 3), FormatError,
                   png +
                       ": not an IDX file: expected magic 0x00000803 (unsigned byte, 3 dims), "
                       "found 0x89504E47");
  const std::string flt = write(d / "float", idx({3, 2, 3}, pixels(), 0x00000D03));
  EXPECT_THROW_MSG(read_idx_u8(flt, 3), FormatError,
                   "expected magic 0x00000803 (unsigned byte, 3 dims), found 0x00000D03 (element "
                   "type float)");
  EXPECT_THROW_MSG(
      read_idx_dataset(lb, lb, kClasses), FormatError,
      lb + ": expected magic 0x00000803 (unsigned byte, 3 dims), found 0x00000801 (1 dim)");
  EXPECT_THROW_MSG(read_idx_u8(write(d / "huge", idx({65536, 65536, 2}, {})), 3), FormatError,
                   "declare more than 4294967296 bytes");

  // Corrupt gzip: damaged deflate data, then a damaged CRC.
  Bytes bad = gz;
  for (size_t i = 12; i < 20; ++i) bad[i] ^= 0xA5;
  const std::string badgz = write(d / "bad.gz", bad);
  EXPECT_THROW_MSG(read_idx_u8(badgz, 3), FormatError, badgz + ": corrupt gzip data");
  Bytes badcrc = gz;
  badcrc[badcrc.size() - 6] ^= 1;
  EXPECT_THROW_MSG(read_idx_u8(write(d / "badcrc.gz", badcrc), 3), FormatError,
                   "corrupt gzip data after 34 decompressed bytes (zlib: incorrect data check)");

  // Data after the payload.
  Bytes longer = good;
  longer.push_back(7);
  EXPECT_THROW_MSG(read_idx_u8(write(d / "long", longer), 3), FormatError,
                   "need 18 bytes of data after the 16-byte header, found more");

  // Images and labels disagree.
  const std::string im = write(d / "im", good);
  const std::string lb4 = write(d / "lb4", idx({4}, {0, 1, 2, 0}));
  EXPECT_THROW_MSG(read_idx_dataset(im, lb4, kClasses), FormatError,
                   im + " holds 3 images but " + lb4 + " holds 4 labels");
  const std::string lbbig = write(d / "lbbig", idx({3}, {0, 3, 1}));
  EXPECT_THROW_MSG(read_idx_dataset(im, lbbig, kClasses), FormatError,
                   lbbig + ": label 3 at index 1 is outside [0, 3)");

  // A missing file is an IoError; so is a missing Fashion-MNIST directory.
  EXPECT_THROW(read_idx_u8((d / "nope").string(), 3), IoError);
  EXPECT_THROW_MSG(load_fashion_mnist(Split::train, d.string()), IoError, "dataset-fashion-mnist");
  fs::remove_all(d);
}

TEST(Idx, EveryTruncationAndByteFlipIsRejectedOrHarmless) {
  const fs::path d = temp_dir("fuzz");
  const Bytes plain = idx({3, 2, 3}, pixels()), gz = gzip(plain);
  const std::string path = (d / "f").string();
  for (const Bytes* file : {&plain, &gz}) {
    for (size_t n = 0; n < file->size(); ++n) {
      write(path, Bytes(file->begin(), file->begin() + static_cast<std::ptrdiff_t>(n)));
      EXPECT_THROW(read_idx_u8(path, 3), FormatError) << "prefix of " << n << " bytes";
    }
  }
  // Plain files have no checksum: a changed header byte is caught, a changed pixel cannot be.
  for (size_t i = 0; i < 16; ++i) {
    Bytes f = plain;
    f[i] ^= 0x40;
    write(path, f);
    EXPECT_THROW(read_idx_u8(path, 3), FormatError) << "flip at byte " << i;
  }
  // gzip: the CRC-32 catches any changed pixel; only the unchecked header fields (MTIME, XFL,
  // OS: bytes 4-9) and the unused bits after the final deflate block (in the byte before the
  // 8-byte trailer) may change and still give the original pixels.
  for (size_t i = 0; i < gz.size(); ++i) {
    Bytes f = gz;
    f[i] ^= 0x40;
    write(path, f);
    try {
      const std::vector<uint8_t> got = read_idx_u8(path, 3).to_vector<uint8_t>();
      EXPECT_EQ(got, pixels()) << "flip at byte " << i;
      EXPECT_TRUE((i >= 4 && i <= 9) || i == gz.size() - 9)
          << "flip at byte " << i << " went unnoticed";
    } catch (const FormatError&) {
    }
  }
  fs::remove_all(d);
}

TEST(FashionMnist, TrainSplitIsTheRealDataset) {
  ASSERT_TRUE(fs::exists(kFashionMnistDir))
      << kFashionMnistDir
      << " is missing: install Debian's dataset-fashion-mnist (scripts/setup.sh)";
  const ImageDataset ds = load_fashion_mnist(Split::train);
  EXPECT_EQ(ds.images.shape(), (Shape{60000, 28, 28, 1}));
  EXPECT_EQ(ds.class_counts(), std::vector<int64_t>(10, 6000));
  EXPECT_EQ(ds.class_names.size(), 10u);
  EXPECT_EQ(ds.class_names[9], "Ankle boot");
  const std::vector<int64_t> first = ds.labels.narrow(0, 0, 10).to_vector<int64_t>();
  EXPECT_EQ(first, (std::vector<int64_t>{9, 0, 0, 3, 0, 2, 7, 2, 5, 5}));
  // Checksums and statistics computed independently with numpy from the .gz files.
  const uint8_t* p = ds.images.data_ptr<uint8_t>();
  uint64_t sum0 = 0, sum = 0;
  double sq = 0;
  for (int64_t i = 0; i < ds.images.numel(); ++i) {
    if (i < 784) sum0 += p[i];
    sum += p[i];
    sq += static_cast<double>(p[i]) * p[i];
  }
  EXPECT_EQ(sum0, 76247u);
  EXPECT_EQ(sum, 3431114169u);
  const double n = static_cast<double>(ds.images.numel());
  const double mean = sum / n / 255.0, var = sq / n / (255.0 * 255.0) - mean * mean;
  EXPECT_NEAR(mean, kFashionMnistMean, 1e-7);
  EXPECT_NEAR(std::sqrt(var), kFashionMnistStd, 1e-7);
}

TEST(FashionMnist, TestSplitIsTheRealDataset) {
  const ImageDataset ds = load_fashion_mnist(Split::test);
  EXPECT_EQ(ds.images.shape(), (Shape{10000, 28, 28, 1}));
  EXPECT_EQ(ds.class_counts(), std::vector<int64_t>(10, 1000));
  EXPECT_EQ(ds.labels.narrow(0, 0, 10).to_vector<int64_t>(),
            (std::vector<int64_t>{9, 2, 1, 1, 6, 1, 4, 6, 5, 7}));
  const uint8_t* p = ds.images.data_ptr<uint8_t>();
  uint64_t sum = 0;
  for (int64_t i = 0; i < ds.images.numel(); ++i) sum += p[i];
  EXPECT_EQ(sum, 573469082u);
}

}  // namespace
}  // namespace cf::data
