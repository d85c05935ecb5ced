// nn::AttentionKernel: every kind against scaled_dot_product_attention where it is exact (or has
// full coverage), the performer approximation, float64 gradients of each kind, the options'
// JSON and the error cases.
#include <gtest/gtest.h>

#include <cmath>

#include "cformer/cformer.h"
#include "cformer/efficient_attention.h"
#include "support/expect_close.h"
#include "support/expect_throw.h"
#include "support/gradcheck.h"

namespace cf::nn {
namespace {

AttentionKernelOptions kind(const std::string& k) {
  AttentionKernelOptions o;
  o.kind = k;
  return o;
}

Tensor dense(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& pad, bool causal,
             std::optional<double> scale = std::nullopt) {
  Tensor keep;
  if (pad.defined()) keep = logical_not(pad).view(Shape{pad.size(0), 1, 1, pad.size(1)});
  return scaled_dot_product_attention(q, k, v, keep, 0.0, causal, scale);
}

TEST(AttentionKernel, ExactAndFullCoverageKindsEqualDenseAttention) {
  Generator gen(11);
  const int64_t B = 2, H = 3, N = 45, E = 8;
  const Tensor q = randn(Shape{B, H, N, E}, gen), k = randn(Shape{B, H, N, E}, gen),
               v = randn(Shape{B, H, N, E}, gen);
  Tensor pad = lt(rand(Shape{B, N}, gen), 0.2);
  pad.select(1, 0).fill_(0.0);
  for (bool causal : {false, true}) {
    const Tensor p = causal ? Tensor() : pad;
    for (std::optional<double> scale : {std::optional<double>(), std::optional<double>(0.3)}) {
      const Tensor want = dense(q, k, v, p, causal, scale);
      std::vector<AttentionKernelOptions> cases = {kind("dense"), kind("memory_efficient")};
      AttentionKernelOptions lf = kind("longformer");
      lf.attention_window = 2 * N;  // every key is inside the window
      if (!causal) cases.push_back(lf);
      for (const char* layout : {"fixed", "strided"}) {
        AttentionKernelOptions bs = kind("block_sparse");
        bs.sparse_layout = layout;
        bs.block_size = 8;
        bs.local_blocks = 8;  // 8 blocks of 8 >= N: one window / one stride covers every key
        bs.global_blocks = 1;
        cases.push_back(bs);
      }
      for (const AttentionKernelOptions& o : cases) {
        AttentionKernel m(o, H, E, 64, causal, gen);
        SCOPED_TRACE(m.extra_repr());
        EXPECT_CLOSE(m.forward(q, k, v, p, 0.0, nullptr, scale), want, 1e-5, 1e-4);
      }
    }
  }
}

TEST(AttentionKernel, RestrictedPatternsDifferFromDenseAttention) {
  Generator gen(12);
  const int64_t H = 2, N = 64, E = 4;
  const Tensor q = randn(Shape{1, H, N, E}, gen), k = randn(Shape{1, H, N, E}, gen),
               v = randn(Shape{1, H, N, E}, gen);
  const Tensor want = dense(q, k, v, Tensor(), false);
  AttentionKernelOptions lf = kind("longformer");
  lf.attention_window = 8;
  AttentionKernelOptions bb = kind("block_sparse");
  bb.sparse_layout = "bigbird";
  bb.block_size = 8;
  for (const AttentionKernelOptions& o : {lf, bb}) {
    AttentionKernel m(o, H, E, N, false, gen);
    SCOPED_TRACE(m.extra_repr());
    EXPECT_FALSE(cf::testing::all_close(m.forward(q, k, v), want, 1e-3, 1e-3));
  }
}

TEST(AttentionKernel, PerformerErrorShrinksWithFeaturesAndIgnoresPadding) {
  Generator gen(13);
  const int64_t H = 2, N = 40, E = 8;
  const Tensor q = mul(randn(Shape{1, H, N, E}, gen), 0.5), k = mul(randn(Shape{1, H, N, E}, gen), 0.5),
               v = randn(Shape{1, H, N, E}, gen);
  for (bool causal : {false, true}) {
    const Tensor want = dense(q, k, v, Tensor(), causal);
    double previous = 1e30;
    for (int64_t m : {8, 128, 2048}) {
      AttentionKernelOptions o = kind("performer");
      o.nb_features = m;
      // mean absolute error over 4 draws, so that one lucky draw cannot decide
      double err = 0.0;
      for (int draw = 0; draw < 4; ++draw) {
        AttentionKernel a(o, H, E, 0, causal, gen);
        err += mean(cf::abs(sub(a.forward(q, k, v), want))).item() / 4;
      }
      SCOPED_TRACE(::testing::Message() << "causal " << causal << " m " << m << " error " << err);
      EXPECT_LT(err, previous);
      previous = err;
    }
    EXPECT_LT(previous, 0.05);
  }
  // Padded keys add nothing: the padded input's valid rows equal the unpadded input's.
  AttentionKernelOptions o = kind("performer");
  o.nb_features = 16;
  AttentionKernel a(o, H, E, 0, false, gen);
  a.eval();
  Tensor pad = zeros(Shape{1, N}, DType::b8);
  pad.narrow(1, 30, 10).fill_(1.0);
  const Tensor got = a.forward(q, k, v, pad).narrow(2, 0, 30);
  const Tensor ref = a.forward(q.narrow(2, 0, 30).contiguous(), k.narrow(2, 0, 30).contiguous(),
                               v.narrow(2, 0, 30).contiguous());
  EXPECT_CLOSE(got, ref, 1e-5, 1e-5);
}

TEST(AttentionKernel, PerformerRedrawsInTrainingOnly) {
  Generator gen(14);
  AttentionKernelOptions o = kind("performer");
  o.nb_features = 4;
  o.redraw_interval = 2;
  AttentionKernel a(o, 1, 4, 0, false, gen);
  const Tensor x = randn(Shape{1, 1, 5, 4}, gen);
  const Tensor w0 = a.projection_matrix->clone();
  a.forward(x, x, x);
  a.forward(x, x, x);
  EXPECT_TRUE(cf::testing::all_close(*a.projection_matrix, w0, 0.0, 0.0));
  a.forward(x, x, x);  // the third forward draws a new projection first
  EXPECT_FALSE(cf::testing::all_close(*a.projection_matrix, w0, 0.0, 0.0));
  const Tensor w1 = a.projection_matrix->clone();
  a.eval();
  for (int i = 0; i < 5; ++i) a.forward(x, x, x);
  EXPECT_TRUE(cf::testing::all_close(*a.projection_matrix, w1, 0.0, 0.0));
}

TEST(AttentionKernel, GradientsOfEveryKindInFloat64) {
  Generator gen(15);
  const int64_t H = 2, N = 12, E = 3;
  AttentionKernelOptions lf = kind("longformer");
  lf.attention_window = 4;
  AttentionKernelOptions bs = kind("block_sparse");
  bs.block_size = 4;
  bs.local_blocks = 2;
  AttentionKernelOptions pf = kind("performer");
  pf.nb_features = 6;
  for (bool causal : {false, true}) {
    for (const AttentionKernelOptions& o :
         {kind("dense"), kind("memory_efficient"), lf, bs, pf}) {
      if (causal && o.kind == "longformer") continue;
      AttentionKernel m(o, H, E, N, causal, gen, DType::f64);
      m.eval();
      SCOPED_TRACE(m.extra_repr());
      Tensor pad = zeros(Shape{1, N}, DType::b8);
      pad.narrow(1, N - 2, 2).fill_(1.0);
      std::vector<Tensor> in;
      for (int i = 0; i < 3; ++i)
        in.push_back(randn(Shape{1, H, N, E}, gen, DType::f64).requires_grad_());
      EXPECT_TRUE(cf::testing::gradcheck(
          [&m, &pad, causal](const std::vector<Tensor>& t) {
            return m.forward(t[0], t[1], t[2], causal ? Tensor() : pad);
          },
          in));
    }
  }
}

TEST(AttentionKernel, OptionsRoundTripThroughJson) {
  AttentionKernelOptions o = kind("block_sparse");
  o.sparse_layout = "bigbird";
  o.block_size = 32;
  o.random_blocks = 3;
  const AttentionKernelOptions r = AttentionKernelOptions::from_json(o.to_json());
  EXPECT_EQ(r.kind, "block_sparse");
  EXPECT_EQ(r.sparse_layout, "bigbird");
  EXPECT_EQ(r.block_size, 32);
  EXPECT_EQ(r.random_blocks, 3);
  const AttentionKernelOptions p = AttentionKernelOptions::from_json(R"({"kind":"performer"})");
  EXPECT_EQ(p.nb_features, 256);
  EXPECT_THROW_MSG(AttentionKernelOptions::from_json("[1"), FormatError, "not a JSON object");
  EXPECT_THROW_MSG(AttentionKernelOptions::from_json(R"({"kind":"flash"})"), FormatError,
                   "unknown kind 'flash'");
  EXPECT_THROW_MSG(AttentionKernelOptions::from_json(R"({"kind":"performer","nb_features":"x"})"),
                   FormatError, "nb_features");
}

TEST(AttentionKernel, ClearErrors) {
  Generator gen(16);
  AttentionKernelOptions lf = kind("longformer");
  EXPECT_THROW_MSG(AttentionKernel(lf, 2, 4, 0, true, gen), ValueError, "no causal form");
  lf.attention_window = 5;
  EXPECT_THROW_MSG(AttentionKernel(lf, 2, 4, 0, false, gen), ValueError, "attention_window");
  AttentionKernelOptions bb = kind("block_sparse");
  bb.sparse_layout = "bigbird";
  EXPECT_THROW_MSG(AttentionKernel(bb, 2, 4, 128, true, gen), ValueError, "bigbird");
  AttentionKernelOptions bs = kind("block_sparse");
  bs.block_size = 8;
  EXPECT_THROW_MSG(AttentionKernel(bs, 2, 4, 0, false, gen), ValueError, "maximum sequence length");
  AttentionKernel b(bs, 1, 4, 16, false, gen);
  const Tensor x = randn(Shape{1, 1, 17, 4}, gen);
  EXPECT_THROW_MSG(b.forward(x, x, x), ValueError, "covers 16 positions");
  AttentionKernel me(kind("memory_efficient"), 1, 4, 0, false, gen);
  EXPECT_THROW_MSG(me.forward(x, x, x, {}, 0.1), ValueError, "no attention-probability dropout");
  EXPECT_THROW_MSG(me.forward(x.select(0, 0), x, x), ShapeError, "(B, H, L, E)");
  EXPECT_THROW_MSG(me.redraw_projection(), ValueError, "performer");
}

}  // namespace
}  // namespace cf::nn
