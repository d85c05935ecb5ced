// GPT against its PyTorch twin (tools/golden/gen_gpt.py): same weights, same tokens -> same
// logits, loss, every parameter gradient, and the losses and parameters of 5 AdamW steps.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>

#include <nlohmann/json.hpp>

#include "cformer/cformer.h"
#include "cformer/io.h"
#include "cformer/models/gpt.h"
#include "cformer/optim.h"
#include "support/expect_close.h"
#include "support/golden.h"

namespace cf {
namespace {

struct GptGolden {
  io::NamedTensors nt;
  models::GptConfig cfg;
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

GptGolden load() {
  GptGolden g;
  g.nt = io::load_safetensors(testing::golden_dir() + "/gpt/gpt_parity.safetensors");
  g.cfg = models::GptConfig::from_json(g.nt.metadata.at("config"));
  return g;
}

TEST(GptParity, LogitsLossAndEveryGradient) {
  GptGolden g = load();
  models::Gpt model(g.cfg, 0);
  model.load_state_dict(g.prefixed("init."), true);
  const Tensor& idx = g.nt.at("idx");
  const Tensor& tgt = g.nt.at("targets");
  EXPECT_CLOSE(model.forward(idx), g.nt.at("logits"), 2e-5, 1e-4);
  Tensor loss = model.loss(idx, tgt);
  EXPECT_CLOSE(loss, g.nt.at("loss"), 1e-5, 1e-5);
  loss.backward();
  const auto grads = g.prefixed("grad.");
  ASSERT_EQ(grads.size(), model.named_parameters().size());
  for (const auto& [name, p] : model.named_parameters()) {
    SCOPED_TRACE(name);
    EXPECT_CLOSE(p.grad(), GptGolden::find(grads, name), 2e-5, 1e-3);
  }
}

TEST(GptParity, LoadsAHuggingFaceGpt2File) {
  GptGolden g = load();
  std::unique_ptr<models::Gpt> model = models::load_hf_gpt2(testing::golden_dir() + "/gpt/hf/model.safetensors");
  EXPECT_EQ(model->config().to_json(), g.cfg.to_json());
  NoGradGuard ng;
  EXPECT_CLOSE(model->forward(g.nt.at("idx")), g.nt.at("logits"), 2e-5, 1e-4);
  EXPECT_THROW(models::load_hf_gpt2(testing::golden_dir() + "/gpt/gpt_parity.safetensors"), FormatError);
}

TEST(GptParity, FiveAdamWSteps) {
  GptGolden g = load();
  models::Gpt model(g.cfg, 0);
  model.load_state_dict(g.prefixed("init."), true);
  auto groups = optim::weight_decay_groups(model.named_parameters(), 0.1);
  optim::AdamW opt(groups, optim::AdamOptions{1e-2, 0.9, 0.95, 1e-8, 0.1});
  const std::vector<double> want = g.nt.at("adamw_losses").to_vector<double>();
  for (int s = 0; s < 5; ++s) {
    opt.zero_grad();
    Tensor loss = model.loss(g.nt.at("idx"), g.nt.at("targets"));
    loss.backward();
    opt.step();
    EXPECT_NEAR(loss.item(), want[s], 2e-5 * (s + 1)) << "step " << s;
  }
  const auto after = g.prefixed("after.");
  for (const auto& [name, p] : model.named_parameters()) {
    SCOPED_TRACE(name);
    EXPECT_CLOSE(p, GptGolden::find(after, name), 1e-4, 1e-3);
  }
}

}  // namespace
}  // namespace cf
