#include <gtest/gtest.h>

#include "cformer/cformer.h"
#include "cformer/models/gpt.h"
#include "cformer/optim.h"

#include <cmath>

namespace cf::models {
namespace {

GptConfig tiny() { return GptConfig{2, 2, 32, 16, 40, 0.0, true, {}}; }

TEST(Gpt, ParameterNamesAreHuggingFaceGpt2) {
  Gpt model(tiny(), 1);
  std::vector<std::string> names;
  for (const auto& [n, p] : model.named_parameters()) names.push_back(n);
  for (const char* want : {"wte.weight", "wpe.weight", "h.0.ln_1.weight", "h.0.attn.c_attn.weight",
                           "h.0.attn.c_attn.bias", "h.1.mlp.c_fc.weight", "h.1.mlp.c_proj.bias",
                           "ln_f.weight", "ln_f.bias"})
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  const auto params = model.named_parameters();
  for (const auto& [n, p] : params) {
    if (n == "h.0.attn.c_attn.weight") {
      EXPECT_EQ(p.shape(), (Shape{32, 96}));  // Conv1D (in, out)
    }
  }
}

TEST(Gpt, GreedyGenerationWithKvCacheEqualsRecomputation) {
  Gpt model(tiny(), 3);
  Generator g1(0), g2(0);
  GptSampling s;
  s.temperature = 0.0;
  s.max_new_tokens = 40;  // runs past block_size 16, so the window slides
  s.use_kv_cache = true;
  const auto with_cache = model.generate({1, 2, 3}, s, g1);
  s.use_kv_cache = false;
  const auto without = model.generate({1, 2, 3}, s, g2);
  EXPECT_EQ(with_cache, without);
  EXPECT_EQ(with_cache.size(), 40u);
}

TEST(Gpt, SamplingRespectsTopKAndSeed) {
  Gpt model(tiny(), 3);
  GptSampling s;
  s.temperature = 1.0;
  s.top_k = 1;  // top-1 sampling is greedy
  s.max_new_tokens = 10;
  Generator g(5);
  GptSampling greedy = s;
  greedy.temperature = 0.0;
  Generator g2(9);
  EXPECT_EQ(model.generate({4}, s, g), model.generate({4}, greedy, g2));
  s.top_k = 0;
  s.top_p = 0.9;
  Generator a(11), b(11);
  EXPECT_EQ(model.generate({4}, s, a), model.generate({4}, s, b));
}

TEST(Gpt, BadInputsThrow) {
  Gpt model(tiny(), 3);
  EXPECT_THROW(model.forward(zeros(Shape{1, 17}, DType::i64)), ShapeError);  // > block_size
  EXPECT_THROW(model.forward(zeros(Shape{1, 4})), ShapeError);              // not i64
  Generator g(0);
  EXPECT_THROW(model.generate({}, GptSampling{}, g), ValueError);
  EXPECT_THROW(model.generate({40}, GptSampling{}, g), IndexError);
  GptConfig bad = tiny();
  bad.n_head = 3;
  EXPECT_THROW(Gpt(bad, 0), ValueError);
  EXPECT_THROW(GptConfig::from_json("{\"n_layer\": 2}"), FormatError);
}

}  // namespace
}  // namespace cf::models

namespace cf::models {
namespace {

TEST(Gpt, SteadyStateTrainingAllocatesNothingFromTheSystem) {
  GptConfig c{2, 2, 32, 16, 40, 0.1, true, {}};  // with dropout: masks are allocated every step too
  Gpt model(c, 1);
  model.train();
  auto groups = optim::weight_decay_groups(model.named_parameters(), 0.1);
  optim::AdamW opt(groups, optim::AdamOptions{1e-3, 0.9, 0.95, 1e-8, 0.1});
  Generator g(2);
  auto step = [&] {
    Tensor x = randint(0, 40, Shape{4, 16}, g), y = randint(0, 40, Shape{4, 16}, g);
    Tensor loss = model.loss(x, y);
    opt.zero_grad();
    loss.backward();
    optim::clip_grad_norm_(model.parameters(), 1.0);
    opt.step();
  };
  for (int i = 0; i < 3; ++i) step();
  const uint64_t before = memory_stats().system_allocations;
  for (int i = 0; i < 10; ++i) step();
  EXPECT_EQ(memory_stats().system_allocations, before);
}

TEST(Gpt, WithoutBiasHasNoBiasParameters) {
  GptConfig c{2, 2, 32, 16, 40, 0.0, false, {}};
  Gpt model(c, 1);
  for (const auto& [n, p] : model.named_parameters()) EXPECT_EQ(n.find("bias"), std::string::npos) << n;
  Tensor loss = model.loss(zeros(Shape{2, 8}, DType::i64), ones(Shape{2, 8}, DType::i64));
  loss.backward();
  EXPECT_TRUE(std::isfinite(loss.item()));
  for (const auto& [n, p] : model.named_parameters()) EXPECT_TRUE(p.grad().defined()) << n;
}

}  // namespace
}  // namespace cf::models
