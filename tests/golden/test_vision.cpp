// ViT, ViTAE and the CNN against their PyTorch twins (tools/golden/gen_vision.py): the same
// state_dict and images give the same training-mode logits and loss, every parameter gradient,
// the BatchNorm buffers after that step, eval-mode logits, and the losses and weights of three
// AdamW steps; for ViT also the attention probabilities and their rollout.
#include <gtest/gtest.h>

#include <memory>
#include <set>

#include "cformer/cformer.h"
#include "cformer/io.h"
#include "cformer/models/vision.h"
#include "cformer/optim.h"
#include "support/expect_close.h"
#include "support/golden.h"

namespace cf {
namespace {

struct VisionGolden {
  io::NamedTensors nt;
  nn::StateDict prefixed(const std::string& prefix) const {
    nn::StateDict m;
    for (const auto& [n, t] : nt.tensors)
      if (n.rfind(prefix, 0) == 0) m.emplace_back(n.substr(prefix.size()), t);
    return m;
  }
  static Tensor find(const nn::StateDict& sd, const std::string& name) {
    for (const auto& [n, t] : sd)
      if (n == name) return t;
    return Tensor();
  }
};

VisionGolden load(const std::string& model) {
  VisionGolden g;
  g.nt = io::load_safetensors(testing::golden_dir() + "/vision/" + model + ".safetensors");
  return g;
}

std::unique_ptr<models::ImageClassifier> build(const std::string& type, const VisionGolden& g) {
  auto m = models::make_image_classifier(type, g.nt.metadata.at("config"), 0);
  m->load_state_dict(g.prefixed("init."), true);
  return m;
}

void check_forward_backward(const std::string& type) {
  SCOPED_TRACE(type);
  VisionGolden g = load(type);
  auto model = build(type, g);
  model->train();
  const Tensor& x = g.nt.at("x");
  Tensor logits = model->forward(x);
  EXPECT_CLOSE(logits, g.nt.at("logits"), 2e-5, 1e-4);
  Tensor loss = cross_entropy(logits, g.nt.at("y"), {}, -100, Reduction::mean, 0.1);
  EXPECT_CLOSE(loss, g.nt.at("loss"), 1e-5, 1e-5);
  loss.backward();
  const auto grads = g.prefixed("grad.");
  ASSERT_EQ(grads.size(), model->named_parameters().size());
  for (const auto& [name, p] : model->named_parameters()) {
    SCOPED_TRACE(name);
    Tensor want = VisionGolden::find(grads, name);
    ASSERT_TRUE(want.defined()) << "no PyTorch gradient for " << name;
    EXPECT_CLOSE(p.grad(), want, 2e-5, 1e-3);
  }
  const auto buffers = g.prefixed("buffers.");
  ASSERT_EQ(buffers.size(), model->named_buffers().size());
  for (const auto& [name, b] : model->named_buffers()) {
    SCOPED_TRACE(name);
    Tensor want = VisionGolden::find(buffers, name);
    ASSERT_TRUE(want.defined()) << "no PyTorch buffer " << name;
    if (b.dtype() == DType::i64) EXPECT_EQ(b.item(), want.item());
    else EXPECT_CLOSE(b, want, 1e-6, 1e-5);
  }
  model->eval();
  NoGradGuard ng;
  EXPECT_CLOSE(model->forward(x), g.nt.at("logits_eval"), 2e-5, 1e-4);
}

void check_adamw(const std::string& type) {
  SCOPED_TRACE(type);
  VisionGolden g = load(type);
  auto model = build(type, g);
  model->train();
  optim::AdamW opt(model->named_parameters(), optim::AdamOptions{1e-2, 0.9, 0.999, 1e-8, 0.05});
  const std::vector<double> want = g.nt.at("adamw_losses").to_vector<double>();
  for (int s = 0; s < 3; ++s) {
    opt.zero_grad();
    Tensor loss = cross_entropy(model->forward(g.nt.at("x")), g.nt.at("y"), {}, -100,
                                Reduction::mean, 0.1);
    loss.backward();
    opt.step();
    EXPECT_NEAR(loss.item(), want[s], 5e-5 * (s + 1)) << "step " << s;
  }
  // A conv bias that feeds a training-mode BatchNorm has a gradient of exactly zero (the norm
  // subtracts the batch mean), so Adam's normalized update of its rounding noise is arbitrary:
  // up to lr per step either way, in cformer and in torch alike. Such a bias, and the running
  // mean of the BatchNorm it feeds (the bias shifts it), are only bounded: |ours - torch| <=
  // 2 * 3 steps * lr. Every other tensor must match.
  const auto grads = g.prefixed("grad.");
  std::set<std::string> zero_grad_bias, shifted_mean;
  for (const auto& [name, p] : model->named_parameters()) {
    Tensor gw = VisionGolden::find(grads, name);
    ASSERT_TRUE(gw.defined());
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0 &&
        max(abs(gw)).item() < 1e-7) {
      zero_grad_bias.insert(name);
      // "<seq>.<k>.bias" feeds the BatchNorm "<seq>.<k+1>".
      const std::string stem = name.substr(0, name.size() - 5);
      const size_t dot = stem.rfind('.');
      const std::string next = stem.substr(0, dot + 1) + std::to_string(std::stoi(stem.substr(dot + 1)) + 1);
      shifted_mean.insert(next + ".running_mean");
    }
  }
  const auto after = g.prefixed("after.");
  for (const auto& [name, t] : model->state_dict()) {
    SCOPED_TRACE(name);
    Tensor w = VisionGolden::find(after, name);
    ASSERT_TRUE(w.defined());
    if (zero_grad_bias.count(name) || shifted_mean.count(name)) {
      EXPECT_LE(max(abs(sub(t, w))).item(), 2 * 3 * 1e-2 * (1 + 1e-6));
    } else if (t.dtype() == DType::i64) {
      EXPECT_EQ(t.item(), w.item());
    } else if (name.size() > 13 && name.compare(name.size() - 13, 13, "attn.qkv.bias") == 0) {
      // The key bias has a gradient of exactly zero (softmax ignores a per-row constant), so
      // Adam's normalized update of its rounding noise is arbitrary: compare q and v only.
      const int64_t D = t.size(0) / 3;
      EXPECT_CLOSE(t.narrow(0, 0, D), w.narrow(0, 0, D), 1e-4, 1e-3);
      EXPECT_CLOSE(t.narrow(0, 2 * D, D), w.narrow(0, 2 * D, D), 1e-4, 1e-3);
    } else {
      EXPECT_CLOSE(t, w, 1e-4, 1e-3);
    }
  }
}

TEST(VisionParity, VitLogitsLossGradientsBuffers) { check_forward_backward("vit"); }
TEST(VisionParity, VitaeLogitsLossGradientsBuffers) { check_forward_backward("vitae"); }
TEST(VisionParity, CnnLogitsLossGradientsBuffers) { check_forward_backward("cnn"); }
TEST(VisionParity, VitThreeAdamWSteps) { check_adamw("vit"); }
TEST(VisionParity, VitaeThreeAdamWSteps) { check_adamw("vitae"); }
TEST(VisionParity, CnnThreeAdamWSteps) { check_adamw("cnn"); }

TEST(VisionParity, VitAttentionMapsAndRollout) {
  VisionGolden g = load("vit");
  auto model = build("vit", g);
  auto* vit = dynamic_cast<models::Vit*>(model.get());
  ASSERT_NE(vit, nullptr);
  model->eval();
  // The twin's maps come from its eval-mode forward after one training step of BatchNorm-free
  // ViT, so the initial weights give them.
  Tensor logits;
  std::vector<Tensor> maps = vit->attention_maps(g.nt.at("x"), &logits);
  ASSERT_EQ(maps.size(), 2u);
  for (size_t i = 0; i < maps.size(); ++i)
    EXPECT_CLOSE(maps[i], g.nt.at("attn." + std::to_string(i)), 1e-6, 1e-4);
  EXPECT_CLOSE(logits, g.nt.at("logits_eval"), 2e-5, 1e-4);
  EXPECT_CLOSE(models::attention_rollout(maps), g.nt.at("rollout"), 1e-6, 1e-4);
}

}  // namespace
}  // namespace cf
