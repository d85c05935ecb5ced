// Layer behaviour beyond PyTorch parity (tests/golden/test_nn_modules.cpp): dropout in training
// and eval, the two MultiheadAttention paths (explicit weights vs the fused kernel) agreeing,
// equivalent mask forms, batch-first and unbatched layouts, and determinism of dropout streams.
#include <gtest/gtest.h>

#include <cmath>

#include "cformer/cformer.h"
#include "cformer/nn.h"
#include "support/expect_close.h"

namespace cf::nn {
namespace {

Tensor bool_tensor(const std::vector<int>& v, const Shape& s) {
  Tensor t = empty(s, DType::b8);
  bool* p = t.data_ptr<bool>();
  for (size_t i = 0; i < v.size(); ++i) p[i] = v[i] != 0;
  return t;
}

TEST(NnLayers, DropoutTrainAndEval) {
  Generator gen(1);
  Dropout d(0.5, &gen);
  Tensor x = ones(Shape{4000});
  auto y = d.forward(x).to_vector<float>();
  int zeros_seen = 0;
  for (float v : y) {
    EXPECT_TRUE(v == 0.0f || v == 2.0f) << v;
    zeros_seen += v == 0.0f;
  }
  EXPECT_NEAR(zeros_seen / 4000.0, 0.5, 0.05);
  d.eval();
  EXPECT_CLOSE(d.forward(x), x, 0, 0);
}

struct AttnFixture {
  Generator gen{7};
  int64_t E = 8, H = 2, L = 4, S = 5, N = 2;
  Tensor q = randn(Shape{L, N, E}, gen), kv = randn(Shape{S, N, E}, gen);
  Tensor kpm = bool_tensor({0, 0, 1, 0, 1, 0, 1, 0, 0, 0}, Shape{2, 5});  // (N, S)
};

TEST(NnLayers, AttentionPathsAgree) {
  AttnFixture f;
  MultiheadAttention mha(f.E, f.H, f.gen);
  for (bool causal : {false, true}) {
    SCOPED_TRACE(causal ? "causal" : "not causal");
    auto with = mha.forward(f.q, f.kv, f.kv, f.kpm, true, {}, true, causal);
    auto without = mha.forward(f.q, f.kv, f.kv, f.kpm, false, {}, true, causal);
    EXPECT_FALSE(without.weights.defined());
    EXPECT_CLOSE(without.output, with.output, 1e-5, 1e-4);
    // Head-averaged weights: rows sum to 1, masked keys get exactly 0.
    ASSERT_EQ(with.weights.shape(), (Shape{f.N, f.L, f.S}));
    EXPECT_CLOSE(sum(with.weights, Dims{-1}), ones(Shape{f.N, f.L}), 1e-6, 1e-5);
    auto w = with.weights.to_vector<float>();
    for (int64_t n = 0; n < f.N; ++n)
      for (int64_t i = 0; i < f.L; ++i)
        for (int64_t j = 0; j < f.S; ++j) {
          const bool masked = f.kpm.to_vector<bool>()[n * f.S + j] || (causal && j > i);
          if (masked) {
            EXPECT_EQ(w[(n * f.L + i) * f.S + j], 0.0f) << n << " " << i << " " << j;
          }
        }
  }
}

TEST(NnLayers, AttentionMaskFormsAreEquivalent) {
  AttnFixture f;
  MultiheadAttention mha(f.E, f.H, f.gen);
  Tensor bmask =
      bool_tensor({0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0}, Shape{4, 5});
  Tensor fmask = masked_fill(zeros(Shape{4, 5}), bmask, -INFINITY);
  auto a = mha.forward(f.q, f.kv, f.kv, {}, true, bmask);
  auto b = mha.forward(f.q, f.kv, f.kv, {}, true, fmask);
  EXPECT_CLOSE(a.output, b.output, 1e-6, 1e-5);
  EXPECT_CLOSE(a.weights, b.weights, 1e-6, 1e-5);
  // A key padding mask equals the same mask given per head as a 3-D attn_mask.
  Tensor per_head = empty(Shape{f.N * f.H, f.L, f.S}, DType::b8);
  bool* p = per_head.data_ptr<bool>();
  auto k = f.kpm.to_vector<bool>();
  for (int64_t b2 = 0; b2 < f.N * f.H; ++b2)
    for (int64_t i = 0; i < f.L; ++i)
      for (int64_t j = 0; j < f.S; ++j) p[(b2 * f.L + i) * f.S + j] = k[(b2 / f.H) * f.S + j];
  auto c = mha.forward(f.q, f.kv, f.kv, f.kpm, false);
  auto d = mha.forward(f.q, f.kv, f.kv, {}, false, per_head);
  EXPECT_CLOSE(c.output, d.output, 1e-6, 1e-5);
}

TEST(NnLayers, AttentionLayouts) {
  AttnFixture f;
  MultiheadAttention seq(f.E, f.H, f.gen);
  MultiheadAttentionOptions o;
  o.batch_first = true;
  MultiheadAttention bf(f.E, f.H, f.gen, o);
  bf.load_state_dict(seq.state_dict());
  auto a = seq.forward(f.q, f.kv, f.kv, f.kpm);
  auto b = bf.forward(f.q.transpose(0, 1), f.kv.transpose(0, 1), f.kv.transpose(0, 1), f.kpm);
  EXPECT_CLOSE(b.output, a.output.transpose(0, 1), 1e-6, 1e-5);
  EXPECT_CLOSE(b.weights, a.weights, 1e-6, 1e-5);
  // Unbatched = batch of one.
  auto u = seq.forward(f.q.select(1, 1), f.kv.select(1, 1), f.kv.select(1, 1), f.kpm.select(0, 1));
  EXPECT_CLOSE(u.output, a.output.select(1, 1), 1e-6, 1e-5);
  EXPECT_CLOSE(u.weights, a.weights.select(0, 1), 1e-6, 1e-5);
}

TEST(NnLayers, AttentionDropoutIsSeededAndOffInEval) {
  AttnFixture f;
  Generator drop(99);
  MultiheadAttentionOptions o;
  o.dropout = 0.3;
  o.dropout_gen = &drop;
  MultiheadAttention mha(f.E, f.H, f.gen, o);
  MultiheadAttention plain(f.E, f.H, f.gen);
  plain.load_state_dict(mha.state_dict());
  mha.eval();
  EXPECT_CLOSE(mha.forward(f.q, f.kv, f.kv).output, plain.forward(f.q, f.kv, f.kv).output, 0, 0);
  mha.train();
  for (bool need_weights : {true, false}) {
    drop.set_state(99, 0);
    Tensor t1 = mha.forward(f.q, f.kv, f.kv, {}, need_weights).output;
    drop.set_state(99, 0);
    Tensor t2 = mha.forward(f.q, f.kv, f.kv, {}, need_weights).output;
    EXPECT_CLOSE(t1, t2, 0, 0);
    EXPECT_FALSE(cf::testing::all_close(t1, plain.forward(f.q, f.kv, f.kv).output, 1e-3, 1e-3));
  }
}

TEST(NnLayers, EncoderLayerEvalIgnoresDropout) {
  Generator gen(3), drop(4);
  TransformerLayerOptions o;
  o.dim_feedforward = 16;
  o.dropout = 0.2;
  o.dropout_gen = &drop;
  TransformerEncoderLayer a(8, 2, gen, o);
  o.dropout = 0.0;
  TransformerEncoderLayer b(8, 2, gen, o);
  b.load_state_dict(a.state_dict());
  a.eval();
  Tensor x = randn(Shape{5, 3, 8}, gen);
  EXPECT_CLOSE(a.forward(x, {}, {}, true), b.forward(x, {}, {}, true), 0, 0);
  a.train();
  EXPECT_FALSE(cf::testing::all_close(a.forward(x), b.forward(x), 1e-4, 1e-4));
}

}  // namespace
}  // namespace cf::nn
