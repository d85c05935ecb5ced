// `cformer attention-map`: a PNG of one image next to the attention rollout (Abnar & Zuidema
// 2020) of a ViT's class token over the patches, upsampled bilinearly onto the image and blended
// over it as a heat map (blue: little attention, red: most).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <iostream>
#include <memory>

#include "cformer/ops.h"
#include "cli/commands.h"
#include "train/vision_train.h"
#include "util/check.h"

namespace cf::cli {
namespace {

struct AttentionMapOpts {
  std::string model, dataset, split = "test", dir, out;
  int64_t index = 0, scale = 8;
};

// The "jet" colour map at v in [0, 1].
void jet(double v, uint8_t rgb[3]) {
  auto channel = [v](double center) {
    return static_cast<uint8_t>(std::lround(255.0 * std::clamp(1.5 - std::abs(4.0 * v - center), 0.0, 1.0)));
  };
  rgb[0] = channel(3.0);
  rgb[1] = channel(2.0);
  rgb[2] = channel(1.0);
}

}  // namespace

void add_attention_map(CLI::App& app, Commands& cmds) {
  CLI::App* sub = app.add_subcommand(
      "attention-map", "PNG of an image and its ViT attention rollout (class token -> patches)");
  auto o = std::make_shared<AttentionMapOpts>();
  sub->add_option("--model", o->model, "ViT checkpoint written by cformer train vit")->required();
  sub->add_option("--dataset", o->dataset, "fashion-mnist or mnist (default: the checkpoint's)")
      ->check(CLI::IsMember({"fashion-mnist", "mnist"}));
  sub->add_option("--split", o->split, "train or test")
      ->capture_default_str()
      ->check(CLI::IsMember({"train", "test"}));
  sub->add_option("--data-dir", o->dir, "Directory of the dataset files");
  sub->add_option("--index", o->index, "Image index in the split")
      ->capture_default_str()
      ->check(non_negative());
  sub->add_option("--scale", o->scale, "Upscaling of the 28x28 image in the PNG")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  sub->add_option("--out", o->out, "Output PNG")->required();
  cmds.entries.emplace_back(sub, [o]() {
    train::LoadedImageModel m = train::load_image_model(o->model);
    auto* vit = dynamic_cast<models::Vit*>(m.model.get());
    CF_CHECK(vit != nullptr, ValueError, "attention-map: ", o->model, " holds a '",
             m.model->model_type(), "' model; attention rollout needs a vit checkpoint");
    const std::string dataset = o->dataset.empty() ? m.meta.at("dataset").get<std::string>() : o->dataset;
    const data::ImageDataset ds = train::load_image_dataset(
        dataset, o->split == "train" ? data::Split::train : data::Split::test, o->dir);
    CF_CHECK(o->index < ds.size(), IndexError, "attention-map: --index ", o->index, " is outside the ",
             ds.size(), " images of ", dataset, " ", o->split);
    const data::ImageDataset one = train::subset(ds, {o->index});
    data::LoaderOptions lo;
    lo.batch_size = 1;
    lo.shuffle = false;
    lo.prefetch = false;
    lo.mean = m.meta.at("mean").get<std::vector<float>>();
    lo.std = m.meta.at("std").get<std::vector<float>>();
    data::ImageLoader loader(one, lo);
    const data::ImageBatch b = loader.make_batch(loader.epoch_order(0), 0, 0);

    Tensor logits;
    const std::vector<Tensor> maps = vit->attention_maps(b.x, &logits);
    const Tensor r = models::attention_rollout(maps);  // (1, T, T)
    const int64_t T = r.size(1), g = vit->config().image_size / vit->config().patch_size;
    const int64_t H = ds.height(), W = ds.width(), s = o->scale;
    Tensor cls = r.select(0, 0).select(0, 0).narrow(0, 1, T - 1).contiguous();  // (g g)
    Tensor heat = upsample_bilinear2d(cls.view(Shape{1, 1, g, g}), Shape{H * s, W * s}, false);
    heat = heat.view(Shape{H * s, W * s}).contiguous();
    const std::vector<float> hv = heat.to_vector<float>();
    const float lo_v = *std::min_element(hv.begin(), hv.end());
    const float hi_v = *std::max_element(hv.begin(), hv.end());

    // Left: the image; right: the image blended with the heat map; 4 white pixels between.
    const int64_t pad = 4, OW = 2 * W * s + pad;
    Tensor png = empty(Shape{H * s, OW, 3}, DType::u8);
    uint8_t* dst = png.data_ptr<uint8_t>();
    std::memset(dst, 255, static_cast<size_t>(png.numel()));
    const uint8_t* src = one.images.data_ptr<uint8_t>();  // (1, H, W, 1)
    for (int64_t y = 0; y < H * s; ++y)
      for (int64_t x = 0; x < W * s; ++x) {
        const uint8_t p = src[(y / s) * W * one.channels() + (x / s) * one.channels()];
        uint8_t* left = dst + (y * OW + x) * 3;
        left[0] = left[1] = left[2] = p;
        const double v = hi_v > lo_v ? (hv[static_cast<size_t>(y * W * s + x)] - lo_v) / (hi_v - lo_v) : 0.0;
        uint8_t c[3];
        jet(v, c);
        uint8_t* right = dst + (y * OW + W * s + pad + x) * 3;
        for (int k = 0; k < 3; ++k) right[k] = static_cast<uint8_t>(std::lround(0.45 * p + 0.55 * c[k]));
      }
    data::write_png(o->out, png);

    const Tensor probs = softmax(logits, 1).select(0, 0);
    const int64_t pred = static_cast<int64_t>(argmax(probs).item());
    const int64_t label = static_cast<int64_t>(one.labels.item());
    const int64_t top = static_cast<int64_t>(argmax(cls).item());
    std::cout << dataset << " " << o->split << " image " << o->index << ": label "
              << ds.class_names[static_cast<size_t>(label)] << ", predicted "
              << ds.class_names[static_cast<size_t>(pred)] << " (p = " << probs.select(0, pred).item()
              << ")\nrollout over " << maps.size() << " layers; the class token draws most from patch ("
              << top / g << ", " << top % g << ") of the " << g << "x" << g << " grid, "
              << cls.select(0, top).item() << " of its attention\nwrote " << o->out << " ("
              << OW << "x" << H * s << ")\n";
    return 0;
  });
}

}  // namespace cf::cli
