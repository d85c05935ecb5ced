// ImageLoader: normalization, batching, per-epoch seeded shuffling, augmentation invariants
// (a crop is the image shifted within the zero padding, a flip an exact mirror), prefetching
// that changes nothing, errors from the worker thread reaching the caller.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "cformer/error.h"
#include "cformer/vision_data.h"
#include "support/expect_throw.h"

namespace cf::data {
namespace {

uint8_t pixel(int64_t k, int64_t y, int64_t x, int64_t c) {
  return static_cast<uint8_t>((k * 31 + y * 7 + x * 3 + c * 11 + 1) % 256);
}

// N images of H x W x C with distinct content and labels k % 3.
ImageDataset synthetic(int64_t N, int64_t H, int64_t W, int64_t C) {
  ImageDataset ds;
  ds.images = empty(Shape{N, H, W, C}, DType::u8);
  uint8_t* p = ds.images.data_ptr<uint8_t>();
  std::vector<int64_t> labels;
  for (int64_t k = 0; k < N; ++k) {
    labels.push_back(k % 3);
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x)
        for (int64_t c = 0; c < C; ++c) p[((k * H + y) * W + x) * C + c] = pixel(k, y, x, c);
  }
  ds.labels = from_vector(labels);
  ds.class_names = {"a", "b", "c"};
  return ds;
}

std::vector<ImageBatch> epoch(ImageLoader& loader, int64_t e) {
  loader.start_epoch(e);
  std::vector<ImageBatch> out;
  ImageBatch b;
  while (loader.next(b)) out.push_back(b);
  return out;
}

std::vector<int64_t> indices(const std::vector<ImageBatch>& batches) {
  std::vector<int64_t> all;
  for (const ImageBatch& b : batches)
    for (int64_t i : b.indices.to_vector<int64_t>()) all.push_back(i);
  return all;
}

TEST(ImageLoader, BatchesAreTheNormalizedImagesInOrder) {
  const int64_t N = 10, H = 5, W = 6, C = 2;
  LoaderOptions o;
  o.batch_size = 4;
  o.shuffle = false;
  o.mean = {0.5f, 0.25f};
  o.std = {0.2f, 0.5f};
  for (bool prefetch : {false, true}) {
    o.prefetch = prefetch;
    ImageLoader loader(synthetic(N, H, W, C), o);
    EXPECT_EQ(loader.num_batches(), 3);
    std::vector<ImageBatch> bs = epoch(loader, 0);
    ASSERT_EQ(bs.size(), 3u);
    EXPECT_EQ(bs[2].x.shape(), (Shape{2, C, H, W}));  // the partial last batch is kept
    EXPECT_EQ(indices(bs), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
    for (const ImageBatch& b : bs) {
      ASSERT_EQ(b.x.dtype(), DType::f32);
      ASSERT_EQ(b.y.dtype(), DType::i64);
      const float* x = b.x.data_ptr<float>();
      const std::vector<int64_t> idx = b.indices.to_vector<int64_t>(), y = b.y.to_vector<int64_t>();
      for (size_t i = 0; i < idx.size(); ++i) {
        EXPECT_EQ(y[i], idx[i] % 3);
        for (int64_t c = 0; c < C; ++c)
          for (int64_t yy = 0; yy < H; ++yy)
            for (int64_t xx = 0; xx < W; ++xx) {
              const double want = (pixel(idx[i], yy, xx, c) / 255.0 - o.mean[c]) / o.std[c];
              ASSERT_NEAR(x[((i * C + c) * H + yy) * W + xx], want, 1e-5);
            }
      }
    }
    ImageBatch extra;
    EXPECT_FALSE(loader.next(extra));  // the epoch is over until the next start_epoch
  }
  o.drop_last = true;
  ImageLoader dropping(synthetic(N, H, W, C), o);
  EXPECT_EQ(dropping.num_batches(), 2);
  EXPECT_EQ(indices(epoch(dropping, 0)).size(), 8u);
  // Without mean/std the values are p / 255.
  LoaderOptions plain;
  plain.shuffle = false;
  ImageLoader unit(synthetic(2, 1, 1, 1), plain);
  EXPECT_FLOAT_EQ(epoch(unit, 0)[0].x.to_vector<float>()[1], pixel(1, 0, 0, 0) / 255.0f);
}

TEST(ImageLoader, ShufflingIsASeededPermutationPerEpoch) {
  LoaderOptions o;
  o.batch_size = 10;
  o.seed = 1234;
  ImageLoader a(synthetic(103, 2, 2, 1), o), b(synthetic(103, 2, 2, 1), o);
  const std::vector<int64_t> e0 = indices(epoch(a, 0)), e1 = indices(epoch(a, 1));
  std::vector<int64_t> sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 103; ++i) ASSERT_EQ(sorted[i], i);
  EXPECT_NE(e0, e1);
  EXPECT_NE(e0, sorted);
  EXPECT_EQ(indices(epoch(b, 1)), e1);  // epochs in any order give the same batches
  EXPECT_EQ(indices(epoch(b, 0)), e0);
  EXPECT_EQ(indices(epoch(a, 0)), e0);
  o.seed = 1235;
  ImageLoader c(synthetic(103, 2, 2, 1), o);
  EXPECT_NE(indices(epoch(c, 0)), e0);
}

struct Match {
  int64_t dy = 0, dx = 0;
  bool flip = false;
};

// How many (dy, dx, flip) with shifts in [-pad, pad] explain out as image k shifted by (dy, dx)
// (zero padding) then mirrored when flip; the last one found goes to *m.
int count_matches(const float* out, int64_t k, int64_t H, int64_t W, int64_t pad, Match* m) {
  int matches = 0;
  for (int flip = 0; flip < 2; ++flip)
    for (int64_t dy = -pad; dy <= pad; ++dy)
      for (int64_t dx = -pad; dx <= pad; ++dx) {
        bool same = true;
        for (int64_t y = 0; y < H && same; ++y)
          for (int64_t x = 0; x < W && same; ++x) {
            const int64_t xs = flip ? W - 1 - x : x;
            const int64_t sy = y + dy, sx = xs + dx;
            const double want =
                sy >= 0 && sy < H && sx >= 0 && sx < W ? pixel(k, sy, sx, 0) / 255.0 : 0.0;
            same = std::abs(out[y * W + x] - want) < 1e-6;
          }
        if (same) {
          ++matches;
          *m = Match{dy, dx, flip == 1};
        }
      }
  return matches;
}

TEST(ImageLoader, AugmentationShiftsWithinThePaddingAndMirrors) {
  const int64_t N = 400, H = 7, W = 9, pad = 2;
  LoaderOptions o;
  o.batch_size = 32;
  o.augment = true;
  o.crop_padding = pad;
  o.seed = 7;
  ImageLoader loader(synthetic(N, H, W, 1), o);
  int64_t flips = 0;
  std::set<std::pair<int64_t, int64_t>> shifts;
  for (const ImageBatch& b : epoch(loader, 0)) {
    ASSERT_EQ(b.x.shape(), (Shape{b.x.size(0), 1, H, W}));
    const std::vector<int64_t> idx = b.indices.to_vector<int64_t>();
    for (size_t i = 0; i < idx.size(); ++i) {
      const float* out = b.x.data_ptr<float>() + i * H * W;
      // Pixel values are distinct enough that exactly one shift and flip explains each image.
      Match m;
      ASSERT_EQ(count_matches(out, idx[i], H, W, pad, &m), 1) << "image " << idx[i];
      flips += m.flip;
      shifts.insert({m.dy, m.dx});
    }
  }
  EXPECT_GT(flips, N * 0.4);
  EXPECT_LT(flips, N * 0.6);
  EXPECT_EQ(shifts.size(), 25u);  // every offset in [-2, 2]^2 occurs among 400 images

  // No padding and flip probability 1: every image is exactly mirrored.
  o.crop_padding = 0;
  o.flip_prob = 1.0;
  o.shuffle = false;
  ImageLoader mirror(synthetic(5, H, W, 1), o);
  const ImageBatch m = epoch(mirror, 3)[0];
  const float* x = m.x.data_ptr<float>();
  for (int64_t k = 0; k < 5; ++k)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t xx = 0; xx < W; ++xx)
        ASSERT_FLOAT_EQ(x[(k * H + y) * W + xx], pixel(k, y, W - 1 - xx, 0) / 255.0f);
  // Augmentation off: the images are untouched whatever the crop and flip settings.
  o.augment = false;
  ImageLoader off(synthetic(5, H, W, 1), o);
  EXPECT_FLOAT_EQ(epoch(off, 0)[0].x.to_vector<float>()[1], pixel(0, 0, 1, 0) / 255.0f);
}

TEST(ImageLoader, PrefetchChangesNothing) {
  LoaderOptions o;
  o.batch_size = 16;
  o.augment = true;
  o.seed = 99;
  o.mean = {0.3f};
  o.std = {0.4f};
  o.prefetch = false;
  ImageLoader sync(synthetic(100, 6, 6, 3), o);
  o.prefetch = true;
  ImageLoader async(synthetic(100, 6, 6, 3), o);
  for (int64_t e : {0, 1, 5}) {
    const std::vector<ImageBatch> a = epoch(sync, e), b = epoch(async, e);
    ASSERT_EQ(a.size(), b.size());
    const std::vector<int64_t> order = sync.epoch_order(e);
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].x.to_vector<float>(), b[i].x.to_vector<float>())
          << "epoch " << e << " batch " << i;
      EXPECT_EQ(a[i].y.to_vector<int64_t>(), b[i].y.to_vector<int64_t>());
      EXPECT_EQ(a[i].x.to_vector<float>(),
                sync.make_batch(order, e, static_cast<int64_t>(i)).x.to_vector<float>());
    }
  }
  // Restarting mid-epoch (a prefetch in flight) and destroying mid-epoch are clean.
  async.start_epoch(2);
  ImageBatch first;
  ASSERT_TRUE(async.next(first));
  async.start_epoch(2);
  ImageBatch again;
  ASSERT_TRUE(async.next(again));
  EXPECT_EQ(first.x.to_vector<float>(), again.x.to_vector<float>());
}

TEST(ImageLoader, WorkerErrorsReachTheCaller) {
  for (bool prefetch : {true, false}) {
    LoaderOptions o;
    o.batch_size = 2;
    o.shuffle = false;
    o.prefetch = prefetch;
    o.transform = [](ImageBatch& b) {
      if (b.indices.to_vector<int64_t>()[0] == 4) throw ValueError("transform: batch of image 4");
      b.x.mul_(2.0);
    };
    ImageLoader loader(synthetic(8, 2, 2, 1), o);
    ImageBatch b;
    ASSERT_TRUE(loader.next(b));
    EXPECT_FLOAT_EQ(b.x.to_vector<float>()[1], 2.0f * pixel(0, 0, 1, 0) / 255.0f);
    ASSERT_TRUE(loader.next(b));
    EXPECT_THROW_MSG(loader.next(b), ValueError, "transform: batch of image 4");
    EXPECT_THROW_MSG(loader.next(b), ValueError, "transform: batch of image 4");  // retried
    loader.start_epoch(1);
    ASSERT_TRUE(loader.next(b));
    EXPECT_EQ(b.indices.to_vector<int64_t>(), (std::vector<int64_t>{0, 1}));
  }
}

TEST(ImageLoader, RejectsBadOptions) {
  auto bad = [](LoaderOptions o, const std::string& want) {
    EXPECT_THROW_MSG(ImageLoader(synthetic(4, 2, 2, 3), o), ValueError, "image loader: " + want);
  };
  LoaderOptions o;
  o.batch_size = 0;
  bad(o, "batch_size must be >= 1, got 0");
  o = {};
  o.mean = {0.5f};
  bad(o, "mean and std must have the same size, got 1 and 0");
  o.mean = {0.5f, 0.5f};
  o.std = {1.f, 1.f};
  bad(o, "mean and std must have 1 or C = 3 entries, got 2");
  o.mean = {0.5f};
  o.std = {0.f};
  bad(o, "std must be positive");
  o = {};
  o.crop_padding = -1;
  bad(o, "crop_padding must be in [0, 65536], got -1");
  o = {};
  o.flip_prob = 1.5;
  bad(o, "flip_prob must be in [0, 1], got 1.5");
  ImageDataset ds = synthetic(4, 2, 2, 1);
  ds.images = ds.images.to(DType::f32);
  EXPECT_THROW_MSG(ImageLoader(ds, LoaderOptions{}), ValueError, "images must be u8 (N, H, W, C)");
  ds = synthetic(4, 2, 2, 1);
  ds.labels = ds.labels.narrow(0, 0, 3);
  EXPECT_THROW_MSG(ImageLoader(ds, LoaderOptions{}), ValueError, "labels must be i64 (4)");
}

TEST(ImageLoader, FashionMnistNormalizesToZeroMeanUnitStd) {
  LoaderOptions o;
  o.batch_size = 1000;
  o.mean = {kFashionMnistMean};
  o.std = {kFashionMnistStd};
  o.seed = 5;
  ImageLoader loader(load_fashion_mnist(Split::train), o);
  double sum = 0, sq = 0, n = 0;
  std::vector<int64_t> counts(10, 0);
  for (const ImageBatch& b : epoch(loader, 0)) {
    for (float v : b.x.to_vector<float>()) {
      sum += v;
      sq += static_cast<double>(v) * v;
    }
    n += static_cast<double>(b.x.numel());
    for (int64_t y : b.y.to_vector<int64_t>()) ++counts[y];
  }
  EXPECT_EQ(counts, std::vector<int64_t>(10, 6000));
  EXPECT_NEAR(sum / n, 0.0, 1e-5);
  EXPECT_NEAR(std::sqrt(sq / n - (sum / n) * (sum / n)), 1.0, 1e-5);
}

}  // namespace
}  // namespace cf::data
