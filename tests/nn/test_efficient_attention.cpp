// nn::EfficientSelfAttention (every variant against nn::MultiheadAttention's weights) and
// nn::LongformerSelfAttention (HF parameter names, wiring of the six projections, gradients).
#include <gtest/gtest.h>

#include "cformer/cformer.h"
#include "cformer/efficient_attention.h"
#include "support/expect_close.h"
#include "support/expect_throw.h"

namespace cf::nn {
namespace {

std::vector<std::string> names_of(const StateDict& sd) {
  std::vector<std::string> n;
  for (const auto& [name, t] : sd) n.push_back(name);
  return n;
}

TEST(EfficientSelfAttention, VariantsMatchMultiheadAttention) {
  Generator gen(1);
  const int64_t B = 2, N = 37, D = 24, H = 3;
  MultiheadAttentionOptions mo;
  mo.batch_first = true;
  MultiheadAttention mha(D, H, gen, mo);
  Tensor x = randn(Shape{B, N, D}, gen);
  Tensor kpm = lt(rand(Shape{B, N}, gen), 0.2);
  kpm.select(1, 0).fill_(0.0);
  for (bool causal : {false, true}) {
    Tensor want = mha.forward(x, x, x, causal ? Tensor() : kpm, false, {}, true, causal).output;
    for (const char* kind : {"dense", "memory_efficient", "longformer", "block_sparse"}) {
      if (causal && std::string(kind) == "longformer") continue;
      EfficientSelfAttentionOptions o;
      o.kernel.kind = kind;
      o.causal = causal;
      o.kernel.attention_window = 2 * N;  // covers every key: dense attention
      o.kernel.block_size = 8;
      o.kernel.local_blocks = 8;  // one fixed window of 64 >= N positions: every key
      o.max_len = 64;
      EfficientSelfAttention m(D, H, gen, o);
      StateDict sd = mha.state_dict();
      for (const auto& [name, t] : m.state_dict())
        if (name.rfind("kernel.", 0) == 0) sd.emplace_back(name, t);  // its own layout buffer
      m.load_state_dict(sd);
      SCOPED_TRACE(m.extra_repr());
      EXPECT_CLOSE(m.forward(x, causal ? Tensor() : kpm), want, 1e-5, 1e-4);
    }
  }
}

TEST(EfficientSelfAttention, LongformerWindowChangesTheResult) {
  Generator gen(2);
  EfficientSelfAttentionOptions o;
  o.kernel.kind = "longformer";
  o.kernel.attention_window = 4;
  EfficientSelfAttention lf(16, 2, gen, o);
  EfficientSelfAttention full(16, 2, gen);
  full.load_state_dict(lf.state_dict());
  Tensor x = randn(Shape{1, 20, 16}, gen);
  EXPECT_FALSE(cf::testing::all_close(lf.forward(x), full.forward(x), 1e-3, 1e-3));
  o.kernel.attention_window = 3;
  EXPECT_THROW_MSG(EfficientSelfAttention(16, 2, gen, o), ValueError, "attention_window");
  o.kernel.attention_window = 4;
  o.causal = true;
  EXPECT_THROW_MSG(EfficientSelfAttention(16, 2, gen, o), ValueError, "causal");
  EXPECT_THROW_MSG(EfficientSelfAttention(15, 2, gen), ValueError, "num_heads");
  EXPECT_THROW_MSG(full.forward(randn(Shape{1, 20, 8}, gen)), ShapeError, "EfficientSelfAttention");
}

TEST(LongformerSelfAttention, NamesWiringAndGradients) {
  Generator gen(3);
  const int64_t B = 2, N = 25, D = 16, H = 2;
  LongformerSelfAttention m(D, H, 6, gen, 2);
  EXPECT_EQ(names_of(m.named_parameters()),
            (std::vector<std::string>{"query.weight", "query.bias", "key.weight", "key.bias",
                                      "value.weight", "value.bias", "query_global.weight",
                                      "query_global.bias", "key_global.weight",
                                      "key_global.bias", "value_global.weight",
                                      "value_global.bias"}));
  Tensor x = randn(Shape{B, N, D}, gen);
  Tensor glob = zeros(Shape{B, N}, DType::b8);
  glob.select(1, 0).fill_(1.0);
  Tensor kpm = zeros(Shape{B, N}, DType::b8);
  kpm.select(0, 1).narrow(0, N - 4, 4).fill_(1.0);
  Tensor y = m.forward(x, glob, kpm);
  ASSERT_EQ(y.shape(), x.shape());
  auto heads = [H](const Tensor& t) {
    return t.view(Shape{t.size(0), t.size(1), H, t.size(2) / H}).transpose(1, 2);
  };
  {
    NoGradGuard no_grad;
    Tensor o = longformer_attention(heads(m.query->forward(x)), heads(m.key->forward(x)),
                                    heads(m.value->forward(x)), heads(m.query_global->forward(x)),
                                    heads(m.key_global->forward(x)),
                                    heads(m.value_global->forward(x)), glob, 3, 2, kpm);
    EXPECT_CLOSE(y.detach(), o.transpose(1, 2).reshape(Shape{B, N, D}), 1e-6, 1e-5);
  }
  sum(y).backward();
  for (const auto& [name, p] : m.named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << name;
    EXPECT_GT(sum(abs(p.grad())).item(), 0.0) << name;
  }
  EXPECT_THROW_MSG(LongformerSelfAttention(D, H, 5, gen), ValueError, "attention_window");
  EXPECT_THROW_MSG(LongformerSelfAttention(D, H, 4, gen, 0), ValueError, "dilation");
  EXPECT_THROW_MSG(m.forward(randn(Shape{B, N, 8}, gen)), ShapeError, "LongformerSelfAttention");
}

}  // namespace
}  // namespace cf::nn
