// The long-document classifier against its PyTorch twins (tools/golden/gen_longdoc.py), one per
// attention kernel: the same state_dict (the block layout and the Performer projection included)
// and padded ids give the same logits, loss and every parameter gradient.
#include <gtest/gtest.h>

#include "cformer/cformer.h"
#include "cformer/io.h"
#include "cformer/models/longdoc.h"
#include "support/expect_close.h"
#include "support/golden.h"

namespace cf {
namespace {

class LongDocGolden : public ::testing::TestWithParam<const char*> {};

TEST_P(LongDocGolden, LogitsLossAndEveryGradientMatchPyTorch) {
  const std::string variant = GetParam();
  const io::NamedTensors g =
      io::load_safetensors(testing::golden_dir() + "/longdoc/" + variant + ".safetensors");
  models::LongDocClassifier model(models::LongDocConfig::from_json(g.metadata.at("config")), 0);
  EXPECT_EQ(model.config.attention, variant);
  nn::StateDict init;
  for (const auto& [n, t] : g.tensors)
    if (n.rfind("init.", 0) == 0)
      init.emplace_back(n.substr(5), t.dtype() == DType::f64 ? t.to(DType::f32) : t);
  model.load_state_dict(init, true);
  model.train();
  const Tensor logits = model.forward(g.at("ids"), g.at("pad"));
  EXPECT_CLOSE(logits, g.at("logits").to(DType::f32), 1e-5, 1e-4);
  Tensor loss = cross_entropy(logits, g.at("labels"));
  EXPECT_CLOSE(loss, g.at("loss").to(DType::f32), 1e-5, 1e-4);
  loss.backward();
  int64_t checked = 0;
  for (const auto& [name, p] : model.named_parameters()) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(g.contains("grad." + name)) << "no PyTorch gradient for " << name;
    ASSERT_TRUE(p.grad().defined());
    EXPECT_CLOSE(p.grad(), g.at("grad." + name).to(DType::f32), 2e-5, 1e-3);
    ++checked;
  }
  int64_t expected = 0;
  for (const auto& [n, t] : g.tensors) expected += n.rfind("grad.", 0) == 0;
  EXPECT_EQ(checked, expected);
}

INSTANTIATE_TEST_SUITE_P(Variants, LongDocGolden,
                         ::testing::Values("dense", "memory_efficient", "longformer", "block_sparse",
                                         "performer"));

}  // namespace
}  // namespace cf
