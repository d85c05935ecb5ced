// IDX files (LeCun's MNIST format): magic 0x00 0x00 <type> <ndims>, ndims big-endian u32
// sizes, then the elements row-major. Fashion-MNIST ships them gzip-compressed; both forms are
// read, and everything in the header is checked before it sizes an allocation.
#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <filesystem>

#include "cformer/io.h"
#include "cformer/vision_data.h"
#include "util/check.h"

namespace cf::data {
namespace {

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08X", v);
  return buf;
}

const char* idx_type_name(uint8_t t) {
  switch (t) {
    case 0x08:
      return "unsigned byte";
    case 0x09:
      return "signed byte";
    case 0x0B:
      return "short";
    case 0x0C:
      return "int";
    case 0x0D:
      return "float";
    case 0x0E:
      return "double";
    default:
      return "unknown type";
  }
}

// The bytes of a file image: as stored, or inflated when it starts with the gzip magic 1F 8B
// (several concatenated gzip members are one stream, as gunzip reads them).
class ByteStream {
 public:
  ByteStream(std::vector<uint8_t> file, std::string path)
      : file_(std::move(file)), path_(std::move(path)) {
    gzip_ = file_.size() >= 2 && file_[0] == 0x1F && file_[1] == 0x8B;
    if (gzip_) {
      CF_CHECK(inflateInit2(&zs_, 16 + MAX_WBITS) == Z_OK, Error, path_,
               ": cannot start zlib's inflate");
      zs_.next_in = file_.data();
      zs_.avail_in = 0;
    }
  }
  ~ByteStream() {
    if (gzip_) inflateEnd(&zs_);
  }
  ByteStream(const ByteStream&) = delete;
  ByteStream& operator=(const ByteStream&) = delete;

  bool gzip() const { return gzip_; }
  // Why the data ended ("" for a complete file).
  const char* end_reason() const { return truncated_ ? " (the gzip stream ends early)" : ""; }

  // Reads up to n bytes; fewer only at the end of the data. Throws FormatError on corrupt gzip.
  size_t read(uint8_t* dst, size_t n) {
    if (!gzip_) {
      const size_t k = std::min(n, file_.size() - pos_);
      std::copy(file_.begin() + pos_, file_.begin() + pos_ + k, dst);
      pos_ += k;
      return k;
    }
    size_t got = 0;
    while (got < n && !ended_) {
      if (zs_.avail_in == 0) {
        const size_t left = file_.size() - pos_;
        if (left == 0) {  // the compressed data stops inside a member
          truncated_ = true;
          break;
        }
        zs_.next_in = file_.data() + pos_;
        zs_.avail_in = static_cast<uInt>(std::min<size_t>(left, UINT_MAX));
        pos_ += zs_.avail_in;
      }
      const size_t want = std::min<size_t>(n - got, UINT_MAX);
      zs_.next_out = dst + got;
      zs_.avail_out = static_cast<uInt>(want);
      const int rc = inflate(&zs_, Z_NO_FLUSH);
      got += want - zs_.avail_out;
      out_ += want - zs_.avail_out;
      if (rc == Z_STREAM_END) {
        if (zs_.avail_in == 0 && pos_ == file_.size())
          ended_ = true;
        else
          CF_CHECK(inflateReset(&zs_) == Z_OK, FormatError, path_, ": cannot reset inflate");
        continue;
      }
      CF_CHECK(rc == Z_OK || rc == Z_BUF_ERROR, FormatError, path_, ": corrupt gzip data after ",
               out_, " decompressed bytes (zlib: ", zs_.msg ? zs_.msg : zError(rc), ")");
    }
    return got;
  }

 private:
  std::vector<uint8_t> file_;
  std::string path_;
  size_t pos_ = 0;  // next unread byte of file_
  bool gzip_ = false, ended_ = false, truncated_ = false;
  uint64_t out_ = 0;  // bytes inflated so far
  z_stream zs_{};
};

}  // namespace

Tensor read_idx_u8(const std::string& path, int expected_dims) {
  CF_CHECK(expected_dims >= 1 && expected_dims <= 8, ValueError,
           "idx: expected_dims must be in [1, 8], got ", expected_dims);
  ByteStream in(io::read_file(path), path);
  const uint32_t want_magic = 0x800u | static_cast<uint32_t>(expected_dims);
  const std::string want = hex32(want_magic) + " (unsigned byte, " + std::to_string(expected_dims) +
                           (expected_dims == 1 ? " dim)" : " dims)");
  uint8_t m[4];
  const size_t got_magic = in.read(m, 4);
  CF_CHECK(got_magic == 4, FormatError, "idx: ", path, ": truncated: expected the 4-byte magic ",
           want, ", found ", got_magic, " bytes", in.end_reason());
  const uint32_t magic = uint32_t{m[0]} << 24 | uint32_t{m[1]} << 16 | uint32_t{m[2]} << 8 | m[3];
  CF_CHECK(m[0] == 0 && m[1] == 0, FormatError, "idx: ", path, ": not an IDX file: expected magic ",
           want, ", found ", hex32(magic));
  CF_CHECK(m[2] == 0x08, FormatError, "idx: ", path, ": expected magic ", want, ", found ",
           hex32(magic), " (element type ", idx_type_name(m[2]), ")");
  CF_CHECK(m[3] == expected_dims, FormatError, "idx: ", path, ": expected magic ", want, ", found ",
           hex32(magic), " (", int{m[3]}, m[3] == 1 ? " dim)" : " dims)");

  std::vector<uint8_t> raw(4 * static_cast<size_t>(expected_dims));
  const size_t got_dims = in.read(raw.data(), raw.size());
  CF_CHECK(got_dims == raw.size(), FormatError, "idx: ", path, ": truncated: expected ", raw.size(),
           " bytes of sizes after the magic, found ", got_dims, in.end_reason());
  Shape shape;
  uint64_t payload = 1;
  for (int d = 0; d < expected_dims; ++d) {
    const uint8_t* b = raw.data() + 4 * d;
    const uint64_t n = uint64_t{b[0]} << 24 | uint64_t{b[1]} << 16 | uint64_t{b[2]} << 8 | b[3];
    shape.push_back(static_cast<int64_t>(n));
    // Each factor is < 2^32 and the running product stays <= kMaxIdxBytes, so no overflow.
    payload *= n;
    CF_CHECK(payload <= kMaxIdxBytes, FormatError, "idx: ", path, ": the sizes ", shape,
             "... declare more than ", kMaxIdxBytes, " bytes");
  }
  const uint64_t header = 4 + raw.size();
  Tensor t = empty(shape, DType::u8);
  const size_t got = payload ? in.read(t.data_ptr<uint8_t>(), payload) : 0;
  CF_CHECK(got == payload, FormatError, "idx: ", path, ": truncated: sizes ", shape, " need ",
           payload, " bytes of data after the ", header, "-byte header, found ", got,
           in.end_reason());
  uint8_t extra;
  // Reading on to the end also makes zlib verify the gzip CRC and length trailer.
  CF_CHECK(in.read(&extra, 1) == 0, FormatError, "idx: ", path, ": sizes ", shape, " need ",
           payload, " bytes of data after the ", header, "-byte header, found more");
  CF_CHECK(!in.gzip() || std::string(in.end_reason()).empty(), FormatError, "idx: ", path,
           ": the gzip stream ends early (its CRC trailer is missing)");
  return t;
}

ImageDataset read_idx_dataset(const std::string& images_path, const std::string& labels_path,
                              std::vector<std::string> class_names) {
  CF_CHECK(!class_names.empty(), ValueError, "idx: class_names must not be empty");
  Tensor images = read_idx_u8(images_path, 3);
  Tensor labels = read_idx_u8(labels_path, 1);
  CF_CHECK(images.size(0) == labels.size(0), FormatError, "idx: ", images_path, " holds ",
           images.size(0), " images but ", labels_path, " holds ", labels.size(0),
           " labels: the counts must match");
  CF_CHECK(images.size(1) > 0 && images.size(2) > 0, FormatError, "idx: ", images_path,
           ": images must have a positive height and width, got ", images.shape());
  const int64_t n = labels.size(0), classes = static_cast<int64_t>(class_names.size());
  const uint8_t* l = n ? labels.data_ptr<uint8_t>() : nullptr;
  Tensor y = empty(Shape{n}, DType::i64);
  int64_t* py = n ? y.data_ptr<int64_t>() : nullptr;
  for (int64_t i = 0; i < n; ++i) {
    CF_CHECK(l[i] < classes, FormatError, "idx: ", labels_path, ": label ", int{l[i]}, " at index ",
             i, " is outside [0, ", classes, ")");
    py[i] = l[i];
  }
  ImageDataset ds;
  ds.images = images.view(Shape{images.size(0), images.size(1), images.size(2), 1});
  ds.labels = y;
  ds.class_names = std::move(class_names);
  return ds;
}

std::vector<int64_t> ImageDataset::class_counts() const {
  std::vector<int64_t> counts(class_names.size(), 0);
  const int64_t n = labels.numel();
  const int64_t* l = n ? labels.data_ptr<int64_t>() : nullptr;
  for (int64_t i = 0; i < n; ++i) {
    CF_CHECK(l[i] >= 0 && l[i] < static_cast<int64_t>(counts.size()), IndexError,
             "image dataset: label ", l[i], " at index ", i, " is outside [0, ", counts.size(),
             ")");
    ++counts[static_cast<size_t>(l[i])];
  }
  return counts;
}

std::vector<std::string> fashion_mnist_classes() {
  return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
          "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
}

ImageDataset load_fashion_mnist(Split split, const std::string& dir) {
  namespace fs = std::filesystem;
  const std::string prefix = split == Split::train ? "train" : "t10k";
  auto locate = [&dir](const std::string& name) {
    const fs::path gz = fs::path(dir) / (name + ".gz"), plain = fs::path(dir) / name;
    if (fs::exists(gz)) return gz.string();
    if (fs::exists(plain)) return plain.string();
    CF_THROW(IoError, "fashion-mnist: ", gz.string(),
             " is missing (install Debian's "
             "dataset-fashion-mnist, e.g. with scripts/setup.sh)");
  };
  const std::string images = locate(prefix + "-images-idx3-ubyte");
  const std::string labels = locate(prefix + "-labels-idx1-ubyte");
  ImageDataset ds = read_idx_dataset(images, labels, fashion_mnist_classes());
  CF_CHECK(ds.height() == 28 && ds.width() == 28, FormatError, "fashion-mnist: ", dir,
           ": expected 28x28 images, found ", ds.height(), "x", ds.width());
  return ds;
}

}  // namespace cf::data
