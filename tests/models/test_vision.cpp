// ViT, ViTAE and CNN: output shapes, the timm / ViTAE / torch parameter names and shapes, the
// configuration checks and their messages, JSON round trips, drop path and attention rollout.
// Parity with PyTorch is tests/golden/test_vision.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <string>

#include "cformer/cformer.h"
#include "cformer/models/vision.h"

namespace cf {
namespace {

using models::CnnConfig;
using models::VitaeConfig;
using models::VitConfig;

std::map<std::string, Shape> shapes(const nn::Module& m) {
  std::map<std::string, Shape> s;
  for (const auto& [n, t] : m.state_dict()) s[n] = t.shape();
  return s;
}

template <class F>
void expect_error_containing(F f, const std::string& part) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected one containing '" << part << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

Tensor images(int64_t B, int64_t C, int64_t S, uint64_t seed = 7) {
  Generator g(seed);
  return randn(Shape{B, C, S, S}, g);
}

TEST(VisionModels, VitShapesAndTimmNames) {
  VitConfig c = VitConfig::preset("tiny");
  models::Vit vit(c, 1);
  Tensor y = vit.forward(images(3, 1, 28));
  EXPECT_EQ(y.shape(), (Shape{3, 10}));
  auto s = shapes(vit);
  const int64_t D = c.embed_dim;
  EXPECT_EQ(s.at("patch_embed.proj.weight"), (Shape{D, 1, 4, 4}));
  EXPECT_EQ(s.at("patch_embed.proj.bias"), (Shape{D}));
  EXPECT_EQ(s.at("cls_token"), (Shape{1, 1, D}));
  EXPECT_EQ(s.at("pos_embed"), (Shape{1, 50, D}));
  EXPECT_EQ(s.at("blocks.0.norm1.weight"), (Shape{D}));
  EXPECT_EQ(s.at("blocks.0.attn.qkv.weight"), (Shape{3 * D, D}));
  EXPECT_EQ(s.at("blocks.0.attn.qkv.bias"), (Shape{3 * D}));
  EXPECT_EQ(s.at("blocks.1.attn.proj.weight"), (Shape{D, D}));
  EXPECT_EQ(s.at("blocks.1.norm2.bias"), (Shape{D}));
  EXPECT_EQ(s.at("blocks.1.mlp.fc1.weight"), (Shape{2 * D, D}));
  EXPECT_EQ(s.at("blocks.1.mlp.fc2.weight"), (Shape{D, 2 * D}));
  EXPECT_EQ(s.at("norm.weight"), (Shape{D}));
  EXPECT_EQ(s.at("head.weight"), (Shape{10, D}));
  EXPECT_EQ(s.size(), 4u + 12u * 2u + 4u);
  // trunc_normal(0.02) init of the position embedding, zero Linear biases.
  const std::vector<float> pe = vit.pos_embed.to_vector<float>();
  double sq = 0;
  for (float v : pe) sq += v * v;
  EXPECT_NEAR(std::sqrt(sq / pe.size()), 0.02, 0.004);
  EXPECT_EQ(max(abs(vit.head->bias)).item(), 0.0);
}

TEST(VisionModels, VitRejectsBadConfigsAndInputs) {
  VitConfig c = VitConfig::preset("tiny");
  c.image_size = 30;
  expect_error_containing([&c]() { models::Vit v(c, 0); }, "image_size (30) is not divisible by patch_size (4)");
  EXPECT_THROW(models::Vit(c, 0), ValueError);
  c = VitConfig::preset("tiny");
  c.num_heads = 3;
  EXPECT_THROW(models::Vit(c, 0), ValueError);
  c = VitConfig::preset("tiny");
  c.drop_rate = 1.0;
  EXPECT_THROW(models::Vit(c, 0), ValueError);
  models::Vit vit(VitConfig::preset("tiny"), 0);
  expect_error_containing([&vit]() { vit.forward(images(2, 3, 28)); },
                          "vit: the model takes 1 input channel(s), got 3");
  EXPECT_THROW(vit.forward(images(2, 3, 28)), ShapeError);
  expect_error_containing([&vit]() { vit.forward(images(2, 1, 32)); }, "28x28 images, got 32x32");
  EXPECT_THROW(vit.forward(zeros(Shape{2, 28, 28})), ShapeError);
}

TEST(VisionModels, VitaeShapesAndAuthorsNames) {
  VitaeConfig c = VitaeConfig::preset("tiny");
  models::Vitae m(c, 3);
  EXPECT_EQ(m.forward(images(2, 1, 28)).shape(), (Shape{2, 10}));
  auto s = shapes(m);
  // Stage 0: PRM with two dilations of 8 channels (stride 2), token attention 16 -> 8, PCM.
  EXPECT_EQ(s.at("layers.0.RC.PRM.convs.0.0.weight"), (Shape{8, 1, 3, 3}));
  EXPECT_EQ(s.at("layers.0.RC.PRM.convs.1.0.bias"), (Shape{8}));
  EXPECT_EQ(s.at("layers.0.RC.attn.norm1.weight"), (Shape{16}));
  EXPECT_EQ(s.at("layers.0.RC.attn.attn.qkv.weight"), (Shape{24, 16}));
  EXPECT_EQ(s.count("layers.0.RC.attn.attn.qkv.bias"), 0u);
  EXPECT_EQ(s.at("layers.0.RC.attn.attn.proj.weight"), (Shape{8, 8}));
  EXPECT_EQ(s.at("layers.0.RC.attn.mlp.fc1.weight"), (Shape{8, 8}));
  EXPECT_EQ(s.at("layers.0.RC.PCM.0.weight"), (Shape{8, 1, 3, 3}));
  EXPECT_EQ(s.at("layers.0.RC.PCM.3.running_var"), (Shape{8}));
  EXPECT_EQ(s.at("layers.0.RC.PCM.3.num_batches_tracked"), (Shape{}));
  EXPECT_EQ(s.at("layers.0.RC.PCM.5.weight"), (Shape{8, 8, 3, 3}));
  // Stage 2: the pyramid only (2 x 8 = 16 channels), then a normal cell of width 16.
  EXPECT_EQ(s.count("layers.2.RC.attn.norm1.weight"), 0u);
  EXPECT_EQ(s.at("layers.2.RC.PRM.convs.1.0.weight"), (Shape{8, 8, 3, 3}));
  EXPECT_EQ(s.at("layers.2.NC.0.attn.qkv.weight"), (Shape{48, 16}));
  EXPECT_EQ(s.at("layers.2.NC.0.PCM.0.weight"), (Shape{32, 4, 3, 3}));  // groups 4
  EXPECT_EQ(s.at("layers.2.NC.0.PCM.1.running_mean"), (Shape{32}));
  EXPECT_EQ(s.at("layers.2.NC.0.PCM.4.weight"), (Shape{16}));
  EXPECT_EQ(s.at("layers.2.NC.0.PCM.6.weight"), (Shape{16, 4, 3, 3}));
  EXPECT_EQ(s.at("head.weight"), (Shape{10, 16}));
  // The default preset (ViTAE-T's structure for 28x28) builds and runs.
  models::Vitae d(VitaeConfig::preset("default"), 0);
  d.eval();
  NoGradGuard ng;
  EXPECT_EQ(d.forward(images(1, 1, 28)).shape(), (Shape{1, 10}));
  EXPECT_EQ(shapes(d).at("layers.2.NC.4.attn.qkv.weight"), (Shape{384, 128}));
}

TEST(VisionModels, VitaeRejectsBadConfigsAndInputs) {
  VitaeConfig c = VitaeConfig::preset("tiny");
  c.stages[2].token_dim = 12;
  expect_error_containing([&c]() { c.validate(); },
                          "stage 2: a reduction cell without attention outputs embed_dim * #dilations = 16");
  c = VitaeConfig::preset("tiny");
  c.stages[0].reduction_cell = false;
  expect_error_containing([&c]() { c.validate(); }, "stage 0 needs a reduction cell");
  c = VitaeConfig::preset("tiny");
  c.stages[1].downsample = 3;
  expect_error_containing([&c]() { c.validate(); }, "in the parallel convolutions");
  c = VitaeConfig::preset("tiny");
  c.stages[2].nc_group = 5;
  EXPECT_THROW(models::Vitae(c, 0), ValueError);
  c = VitaeConfig::preset("tiny");
  c.image_size = 0;
  EXPECT_THROW(c.validate(), ValueError);
  models::Vitae m(VitaeConfig::preset("tiny"), 0);
  expect_error_containing([&m]() { m.forward(images(1, 3, 28)); },
                          "vitae: the model takes 1 input channel(s), got 3");
}

TEST(VisionModels, CnnShapesNamesAndErrors) {
  CnnConfig c = CnnConfig::preset("default");
  models::Cnn m(c, 0);
  EXPECT_EQ(m.forward(images(2, 1, 28)).shape(), (Shape{2, 10}));
  auto s = shapes(m);
  EXPECT_EQ(s.at("features.0.weight"), (Shape{32, 1, 3, 3}));
  EXPECT_EQ(s.count("features.0.bias"), 0u);
  EXPECT_EQ(s.at("features.1.running_mean"), (Shape{32}));
  EXPECT_EQ(s.at("features.3.weight"), (Shape{32, 32, 3, 3}));
  EXPECT_EQ(s.at("features.7.weight"), (Shape{64, 32, 3, 3}));  // after the pool at 6
  EXPECT_EQ(s.at("head.weight"), (Shape{10, 64 * 7 * 7}));
  c.image_size = 30;
  expect_error_containing([&c]() { models::Cnn x(c, 0); }, "image_size (30) is not divisible by 2^2");
  expect_error_containing([&m]() { m.forward(images(1, 2, 28)); },
                          "cnn: the model takes 1 input channel(s), got 2");
}

TEST(VisionModels, ConfigsRoundTripThroughJsonAndTheFactory) {
  for (const char* type : {"vit", "vitae", "cnn"}) {
    SCOPED_TRACE(type);
    const std::string j = models::image_classifier_preset(type, "small");
    auto m = models::make_image_classifier(type, j, 5);
    EXPECT_EQ(m->model_type(), type);
    EXPECT_EQ(m->config_json(), j);
    // The same seed gives the same weights.
    auto m2 = models::make_image_classifier(type, j, 5);
    const auto a = m->state_dict(), b = m2->state_dict();
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i].second.is_floating_point()) {
        EXPECT_EQ(max(abs(sub(a[i].second, b[i].second))).item(), 0.0) << a[i].first;
      }
    }
  }
  EXPECT_THROW(models::make_image_classifier("resnet", "{}", 0), ValueError);
  EXPECT_THROW(models::image_classifier_preset("vit", "huge"), ValueError);
  expect_error_containing([]() { VitConfig::from_json(R"({"image_size": 28})"); },
                          "vit config: the configuration lacks 'patch_size'");
  EXPECT_THROW(VitaeConfig::from_json("[1, 2]"), FormatError);
  std::string bad = VitConfig::preset("tiny").to_json();
  bad.replace(bad.find("\"patch_size\":4"), 14, "\"patch_size\":5");
  EXPECT_THROW(VitConfig::from_json(bad), FormatError);
}

TEST(VisionModels, DropPathDropsWholeSamples) {
  Generator g(3);
  Tensor x = ones(Shape{64, 5, 4});
  EXPECT_EQ(models::drop_path(x, 0.5, false, g).impl(), x.impl());
  Tensor y = models::drop_path(x, 0.5, true, g);
  const std::vector<float> v = y.to_vector<float>();
  int dropped = 0;
  for (int b = 0; b < 64; ++b) {
    const float first = v[b * 20];
    EXPECT_TRUE(first == 0.0f || first == 2.0f);
    for (int i = 1; i < 20; ++i) EXPECT_EQ(v[b * 20 + i], first);
    dropped += first == 0.0f;
  }
  EXPECT_GT(dropped, 10);
  EXPECT_LT(dropped, 54);
}

TEST(VisionModels, AttentionRolloutRowsSumToOne) {
  models::Vit vit(VitConfig::preset("tiny"), 2);
  vit.eval();
  Tensor logits;
  std::vector<Tensor> maps = vit.attention_maps(images(2, 1, 28), &logits);
  ASSERT_EQ(maps.size(), 2u);
  EXPECT_EQ(maps[0].shape(), (Shape{2, 2, 50, 50}));
  EXPECT_EQ(logits.shape(), (Shape{2, 10}));
  Tensor r = models::attention_rollout(maps);
  EXPECT_EQ(r.shape(), (Shape{2, 50, 50}));
  Tensor rows = sum(r, Dims{-1});
  EXPECT_LT(max(abs(sub(rows, 1.0))).item(), 1e-5);
  EXPECT_GE(min(r).item(), 0.0);
  // Uniform attention in one layer: (U + I) / 2 per row.
  Tensor u = full(Shape{1, 1, 4, 4}, 0.25);
  Tensor one = models::attention_rollout({u});
  EXPECT_NEAR(one.select(0, 0).select(0, 0).select(0, 0).item(), 0.625, 1e-6);
  EXPECT_NEAR(one.select(0, 0).select(0, 0).select(0, 1).item(), 0.125, 1e-6);
  EXPECT_THROW(models::attention_rollout({}), ValueError);
  EXPECT_THROW(models::attention_rollout({u, full(Shape{1, 1, 3, 3}, 1.0 / 3)}), ShapeError);
}

}  // namespace
}  // namespace cf
