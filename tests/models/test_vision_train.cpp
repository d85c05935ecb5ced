// The image-classifier trainer on real Fashion-MNIST with tiny models and few steps: the loss
// falls, the checkpoint loads for evaluation, a run stopped and resumed ends bit-identical to an
// uninterrupted one, and contradicting options are refused on resume.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "cformer/cformer.h"
#include "train/vision_train.h"

namespace cf {
namespace {

namespace fs = std::filesystem;

train::VisionTrainOptions tiny_options(const std::string& model, const std::string& dir) {
  train::VisionTrainOptions o;
  o.model = model;
  o.preset = "tiny";
  o.out_dir = dir;
  o.batch = 32;
  o.lr = 3e-3;
  o.warmup = 5;
  o.augment = false;
  o.val_size = 500;
  o.train_limit = 3000;
  o.log_every = 5;
  o.checkpoint_every = 1000;
  o.test_at_end = false;
  o.progress = false;
  o.seed = 11;
  return o;
}

std::string temp_dir(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("cformer_vision_" + name);
  fs::remove_all(p);
  return p.string();
}

TEST(VisionTrain, TinyModelsLearnAndTheCheckpointEvaluates) {
  for (const char* model : {"vit", "cnn"}) {
    SCOPED_TRACE(model);
    train::VisionTrainOptions o = tiny_options(model, temp_dir(std::string("smoke_") + model));
    // The tiny ViT learns more slowly than the CNN (no convolutional bias): 200 steps without
    // augmentation take it well above chance; the CNN trains with augmentation.
    o.max_steps = std::string(model) == "vit" ? 200 : 40;
    o.augment = std::string(model) == "cnn";
    std::ostringstream log;
    const train::VisionTrainSummary s = train::train_vision(o, {}, log);
    EXPECT_EQ(s.steps, o.max_steps);
    EXPECT_LT(s.last_loss, s.first_loss - 0.2) << log.str();
    EXPECT_GT(s.val_accuracy, 0.3) << log.str();  // chance is 0.1
    train::LoadedImageModel m = train::load_image_model(o.out_dir + "/checkpoint.safetensors");
    EXPECT_EQ(m.model->model_type(), model);
    EXPECT_EQ(m.meta.at("step").get<int64_t>(), o.max_steps);
    EXPECT_TRUE(fs::exists(o.out_dir + "/metrics.jsonl"));
    EXPECT_TRUE(fs::exists(o.out_dir + "/loss.svg"));
    // The saved model predicts the validation images exactly as the trainer measured.
    const data::ImageDataset full = train::load_image_dataset("fashion-mnist", data::Split::train, "");
    const data::ImageDataset val = train::subset(full, train::validation_indices(full.size(), 500));
    const train::Predictions p = train::predict_images(*m.model, val, train::image_dataset_mean("fashion-mnist"),
                                                       train::image_dataset_std("fashion-mnist"), 500);
    const std::vector<int64_t> y = val.labels.to_vector<int64_t>();
    int64_t ok = 0;
    for (size_t i = 0; i < y.size(); ++i) ok += p.predicted[i] == y[i];
    EXPECT_DOUBLE_EQ(static_cast<double>(ok) / y.size(), s.val_accuracy);
  }
}

TEST(VisionTrain, ResumeContinuesExactly) {
  // A constant lr after the warm-up, so that the stopping point does not change the schedule.
  train::VisionTrainOptions a = tiny_options("vit", temp_dir("resume_a"));
  a.min_lr_ratio = 1.0;
  a.augment = true;
  a.max_steps = 16;
  std::ostringstream log;
  train::train_vision(a, {}, log);

  train::VisionTrainOptions b = a;
  b.out_dir = temp_dir("resume_b");
  b.max_steps = 9;
  train::train_vision(b, {}, log);
  b.max_steps = 16;
  b.resume = true;
  train::train_vision(b, {"max-steps"}, log);

  const auto ca = train::load_image_model(a.out_dir + "/checkpoint.safetensors");
  const auto cb = train::load_image_model(b.out_dir + "/checkpoint.safetensors");
  EXPECT_EQ(cb.meta.at("step").get<int64_t>(), 16);
  const auto sa = ca.model->state_dict(), sb = cb.model->state_dict();
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    SCOPED_TRACE(sa[i].first);
    EXPECT_EQ(max(abs(sub(sa[i].second.to(DType::f64), sb[i].second.to(DType::f64)))).item(), 0.0);
  }

  // Options that contradict the checkpoint are refused, naming the option.
  train::VisionTrainOptions c = b;
  c.lr = 1e-2;
  try {
    train::train_vision(c, {"lr"}, log);
    ADD_FAILURE() << "a contradicting --lr was accepted";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("--lr 0.01 contradicts the checkpoint"), std::string::npos)
        << e.what();
  }
  train::VisionTrainOptions d = b;
  d.model = "cnn";
  EXPECT_THROW(train::train_vision(d, {}, log), FormatError);
}

TEST(VisionTrain, ScheduleWarmsUpThenFollowsTheCosine) {
  train::VisionTrainOptions o;
  o.lr = 1e-3;
  o.warmup = 10;
  o.min_lr_ratio = 0.1;
  EXPECT_DOUBLE_EQ(train::vision_lr(o, 0, 0.0), 1e-4);
  EXPECT_DOUBLE_EQ(train::vision_lr(o, 9, 0.0), 1e-3);
  EXPECT_DOUBLE_EQ(train::vision_lr(o, 10, 0.0), 1e-3);
  EXPECT_NEAR(train::vision_lr(o, 100, 0.5), 5.5e-4, 1e-12);
  EXPECT_NEAR(train::vision_lr(o, 100, 1.0), 1e-4, 1e-12);
}

TEST(VisionTrain, ValidationSplitIsFixedAndDisjoint) {
  const std::vector<int64_t> v = train::validation_indices(60000, 5000);
  EXPECT_EQ(v.size(), 5000u);
  EXPECT_EQ(v, train::validation_indices(60000, 5000));
  std::vector<int64_t> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end());
  EXPECT_EQ(train::validation_indices(7996, 5000).size(), 1599u);  // capped at 20 %
  EXPECT_THROW(train::load_image_dataset("cifar", data::Split::train, ""), ValueError);
}

}  // namespace
}  // namespace cf
