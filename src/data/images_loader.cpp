// ImageLoader: epochs of shuffled, normalized, optionally augmented f32 batches (B, C, H, W).
// Randomness is keyed, never sequential: the order of epoch e comes from a generator seeded by
// (seed, e), and the crop offsets and flip of the image at position k of that order from Philox
// counter k under a key derived from (seed, e). A batch is therefore the same whichever thread
// builds it and whatever was built before, which is what makes prefetching invisible.
#include <algorithm>
#include <cmath>

#include "cformer/random.h"
#include "cformer/vision_data.h"
#include "ops/random.h"
#include "util/check.h"

namespace cf::data {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Independent keys for the permutation (stream 0) and the augmentation (stream 1) of an epoch.
uint64_t epoch_key(uint64_t seed, int64_t epoch, uint64_t stream) {
  return splitmix64(splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(epoch)) ^ stream);
}

// A uniform integer in [0, n) from a 32-bit word (multiply-shift; n is tiny, bias < n / 2^32).
int64_t below(uint32_t w, int64_t n) {
  return static_cast<int64_t>((uint64_t{w} * static_cast<uint64_t>(n)) >> 32);
}

}  // namespace

ImageLoader::ImageLoader(ImageDataset data, LoaderOptions options)
    : data_(std::move(data)), opts_(std::move(options)) {
  CF_CHECK(data_.images.defined() && data_.images.dtype() == DType::u8 && data_.images.dim() == 4,
           ValueError, "image loader: images must be u8 (N, H, W, C), got ",
           data_.images.defined() ? data_.images.str() : std::string("an undefined tensor"));
  CF_CHECK(data_.labels.defined() && data_.labels.dtype() == DType::i64 &&
               data_.labels.shape() == Shape{data_.size()},
           ValueError, "image loader: labels must be i64 (", data_.size(), "), got ",
           data_.labels.defined() ? data_.labels.str() : std::string("an undefined tensor"));
  data_.images = data_.images.contiguous();
  data_.labels = data_.labels.contiguous();
  const int64_t C = data_.channels();
  CF_CHECK(opts_.batch_size >= 1, ValueError, "image loader: batch_size must be >= 1, got ",
           opts_.batch_size);
  CF_CHECK(opts_.mean.size() == opts_.std.size(), ValueError,
           "image loader: mean and std must have the same size, got ", opts_.mean.size(), " and ",
           opts_.std.size());
  const size_t nm = opts_.mean.size();
  CF_CHECK(nm == 0 || nm == 1 || nm == static_cast<size_t>(C), ValueError,
           "image loader: mean and std must have 1 or C = ", C, " entries, got ", nm);
  for (size_t c = 0; c < nm; ++c)
    CF_CHECK(std::isfinite(opts_.mean[c]) && std::isfinite(opts_.std[c]) && opts_.std[c] > 0,
             ValueError, "image loader: std must be positive and mean finite, got mean[", c,
             "] = ", opts_.mean[c], ", std[", c, "] = ", opts_.std[c]);
  CF_CHECK(opts_.crop_padding >= 0 && opts_.crop_padding <= 1 << 16, ValueError,
           "image loader: crop_padding must be in [0, 65536], got ", opts_.crop_padding);
  CF_CHECK(opts_.flip_prob >= 0.0 && opts_.flip_prob <= 1.0, ValueError,
           "image loader: flip_prob must be in [0, 1], got ", opts_.flip_prob);
  lut_.resize(static_cast<size_t>(C) * 256);
  for (int64_t c = 0; c < C; ++c) {
    const double mean = nm ? opts_.mean[nm == 1 ? 0 : c] : 0.0;
    const double std = nm ? opts_.std[nm == 1 ? 0 : c] : 1.0;
    for (int p = 0; p < 256; ++p) lut_[c * 256 + p] = static_cast<float>((p / 255.0 - mean) / std);
  }
  if (opts_.prefetch) worker_ = std::thread([this]() { worker_loop(); });
  start_epoch(0);
}

ImageLoader::~ImageLoader() {
  if (!worker_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

int64_t ImageLoader::num_batches() const {
  const int64_t n = data_.size(), b = opts_.batch_size;
  return opts_.drop_last ? n / b : (n + b - 1) / b;
}

std::vector<int64_t> ImageLoader::epoch_order(int64_t epoch) const {
  const int64_t n = data_.size();
  if (!opts_.shuffle) {
    std::vector<int64_t> order(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) order[i] = i;
    return order;
  }
  Generator gen(epoch_key(opts_.seed, epoch, 0));
  return randperm(n, gen).to_vector<int64_t>();
}

ImageBatch ImageLoader::make_batch(const std::vector<int64_t>& order, int64_t epoch,
                                   int64_t i) const {
  const int64_t N = data_.size(), H = data_.height(), W = data_.width(), C = data_.channels();
  CF_CHECK(static_cast<int64_t>(order.size()) == N, ValueError, "image loader: the order has ",
           order.size(), " positions, expected ", N);
  CF_CHECK(i >= 0 && i < num_batches(), IndexError, "image loader: batch ", i, " is outside [0, ",
           num_batches(), ")");
  const int64_t first = i * opts_.batch_size;
  const int64_t B = std::min(opts_.batch_size, N - first);
  ImageBatch batch{empty(Shape{B, C, H, W}), empty(Shape{B}, DType::i64),
                   empty(Shape{B}, DType::i64)};
  float* x = batch.x.data_ptr<float>();
  int64_t* y = batch.y.data_ptr<int64_t>();
  int64_t* idx = batch.indices.data_ptr<int64_t>();
  const uint8_t* images = data_.images.data_ptr<uint8_t>();
  const int64_t* labels = data_.labels.data_ptr<int64_t>();
  const int64_t pad = opts_.augment ? opts_.crop_padding : 0;
  const uint64_t aug_key = epoch_key(opts_.seed, epoch, 1);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t k = order[first + b];
    CF_CHECK(k >= 0 && k < N, IndexError, "image loader: order position ", first + b, " is ", k,
             ", outside [0, ", N, ")");
    idx[b] = k;
    y[b] = labels[k];
    // Output pixel (yy, xx) reads input (yy + dy - pad, xx' + dx - pad), xx' = W-1-xx if flipped.
    int64_t dy = pad, dx = pad;
    bool flip = false;
    if (opts_.augment) {
      const auto w = ops::philox(aug_key, static_cast<uint64_t>(first + b));
      dy = below(w[0], 2 * pad + 1);
      dx = below(w[1], 2 * pad + 1);
      flip = ops::uniform_f32(w[2]) < opts_.flip_prob;
    }
    const uint8_t* src = images + k * H * W * C;
    for (int64_t c = 0; c < C; ++c) {
      const float* lut = lut_.data() + c * 256;
      float* out = x + ((b * C + c) * H) * W;
      for (int64_t yy = 0; yy < H; ++yy, out += W) {
        const int64_t sy = yy + dy - pad;
        if (sy < 0 || sy >= H) {
          std::fill(out, out + W, lut[0]);
          continue;
        }
        const uint8_t* row = src + sy * W * C + c;
        // Output columns [lo, hi) read inside the image; the others are padding.
        const int64_t shift = dx - pad;
        const int64_t lo = std::max<int64_t>(0, flip ? shift : -shift);
        const int64_t hi = std::min<int64_t>(W, flip ? W + shift : W - shift);
        std::fill(out, out + lo, lut[0]);
        if (!flip) {
          for (int64_t xx = lo; xx < hi; ++xx) out[xx] = lut[row[(xx + shift) * C]];
        } else {
          for (int64_t xx = lo; xx < hi; ++xx) out[xx] = lut[row[(W - 1 - xx + shift) * C]];
        }
        std::fill(out + std::max(lo, hi), out + W, lut[0]);
      }
    }
  }
  if (opts_.transform) opts_.transform(batch);
  return batch;
}

void ImageLoader::start_epoch(int64_t epoch) {
  if (opts_.prefetch) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this]() { return !has_job_ || done_; });
    has_job_ = false;
    error_ = nullptr;
    result_ = ImageBatch{};
  }
  epoch_ = epoch;
  order_ = epoch_order(epoch);
  next_ = 0;
  if (opts_.prefetch && num_batches() > 0) submit(0);
}

bool ImageLoader::next(ImageBatch& out) {
  if (next_ >= num_batches()) return false;
  if (!opts_.prefetch) {
    out = make_batch(order_, epoch_, next_);
    ++next_;
    return true;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!has_job_) {  // the last attempt failed: build this batch again
      job_ = next_;
      has_job_ = true;
      done_ = false;
    }
  }
  cv_.notify_all();
  ImageBatch b = take();
  ++next_;
  if (next_ < num_batches()) submit(next_);
  out = std::move(b);
  return true;
}

void ImageLoader::submit(int64_t i) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = i;
    has_job_ = true;
    done_ = false;
  }
  cv_.notify_all();
}

ImageBatch ImageLoader::take() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this]() { return done_; });
  has_job_ = false;
  if (error_) {
    std::exception_ptr e = error_;
    error_ = nullptr;
    std::rethrow_exception(e);
  }
  return std::move(result_);
}

void ImageLoader::worker_loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this]() { return stop_ || (has_job_ && !done_); });
    if (stop_) return;
    const int64_t i = job_;
    lock.unlock();
    // order_ and epoch_ change only while no job is in flight (start_epoch waits for it).
    ImageBatch b;
    std::exception_ptr err;
    try {
      b = make_batch(order_, epoch_, i);
    } catch (...) {
      err = std::current_exception();
    }
    lock.lock();
    result_ = std::move(b);
    error_ = err;
    done_ = true;
    cv_.notify_all();
  }
}

}  // namespace cf::data
