// The fused attention kernel against the composite form (its oracle), forward and backward,
// causal and not, L != S, strided (head-split) inputs, and the double-precision reference.
#include <gtest/gtest.h>

#include <cmath>

#include "cformer/cformer.h"
#include "ops/attention.h"
#include "ops/attention_fused.h"
#include "support/expect_close.h"

namespace cf {
namespace {

struct Shapes {
  int64_t B, NH, L, S, E, Ev;
  bool causal;
};

// q, k, v as head views of packed (B, T, NH*E) projections, as a Transformer produces them.
Tensor heads(const Tensor& packed, int64_t NH) {
  const int64_t B = packed.size(0), T = packed.size(1), C = packed.size(2);
  return packed.view(Shape{B, T, NH, C / NH}).transpose(1, 2);
}

TEST(FusedAttention, MatchesCompositeForwardAndBackward) {
  for (const Shapes& s : {Shapes{2, 3, 17, 17, 8, 8, true}, Shapes{1, 2, 33, 33, 16, 16, false},
                          Shapes{2, 1, 5, 12, 8, 4, false}, Shapes{1, 2, 12, 5, 8, 8, true},
                          Shapes{2, 2, 64, 64, 32, 32, true}}) {
    SCOPED_TRACE(::testing::Message() << "L " << s.L << " S " << s.S << " causal " << s.causal);
    Generator gen(s.L * 7 + s.S);
    Tensor pq = randn(Shape{s.B, s.L, s.NH * s.E}, gen), pk = randn(Shape{s.B, s.S, s.NH * s.E}, gen);
    Tensor pv = randn(Shape{s.B, s.S, s.NH * s.Ev}, gen);
    Tensor gout = randn(Shape{s.B, s.NH, s.L, s.Ev}, gen);
    const double scale = 1.0 / std::sqrt(static_cast<double>(s.E));
    std::vector<Tensor> grads[2];
    Tensor out[2];
    for (int path = 0; path < 2; ++path) {
      Tensor a = pq.clone().requires_grad_(), b = pk.clone().requires_grad_(), c = pv.clone().requires_grad_();
      Tensor q = heads(a, s.NH), k = heads(b, s.NH), v = heads(c, s.NH);
      ASSERT_TRUE(ops::fused_attention_applies(q, k, v));
      out[path] = path == 0 ? ops::fused_attention(q, k, v, s.causal, scale)
                            : ops::sdpa_composite(q, k, v, Tensor(), 0.0, s.causal, scale, nullptr);
      out[path].backward(gout);
      grads[path] = {a.grad(), b.grad(), c.grad()};
    }
    EXPECT_CLOSE(out[0], out[1], 1e-5, 1e-4);
    for (int i = 0; i < 3; ++i) EXPECT_CLOSE(grads[0][i], grads[1][i], 1e-5, 1e-4);
  }
}

TEST(FusedAttention, KernelMatchesDoubleReference) {
  Generator gen(3);
  const int64_t B = 2, NH = 2, L = 19, S = 19, E = 16;
  Tensor q = randn(Shape{B, NH, L, E}, gen), k = randn(Shape{B, NH, S, E}, gen), v = randn(Shape{B, NH, S, E}, gen);
  Tensor o1 = empty(Shape{B, NH, L, E}), o2 = empty(Shape{B, NH, L, E});
  Tensor p1 = empty(Shape{B, NH, L, S}), p2 = empty(Shape{B, NH, L, S});
  auto args = [&](const Tensor& o, const Tensor& p) {
    ops::cpu::AttentionArgs a{};
    a.q = q.data_ptr<float>();
    a.k = k.data_ptr<float>();
    a.v = v.data_ptr<float>();
    a.o = o.data_ptr<float>();
    a.p = p.data_ptr<float>();
    for (int d = 0; d < 3; ++d) {
      a.qs[d] = q.stride(d);
      a.ks[d] = k.stride(d);
      a.vs[d] = v.stride(d);
      a.os[d] = o.stride(d);
    }
    a.B = B, a.NH = NH, a.L = L, a.S = S, a.E = E, a.Ev = E;
    a.scale = 0.25f;
    a.causal = true;
    return a;
  };
  ops::cpu::attention_forward(args(o1, p1));
  ops::cpu::attention_forward_ref(args(o2, p2));
  EXPECT_CLOSE(o1, o2, 1e-5, 1e-4);
  EXPECT_CLOSE(p1, p2, 1e-6, 1e-4);
}

TEST(FusedAttention, PublicOpTakesTheFastPathOnlyWhenItApplies) {
  Generator gen(1);
  Tensor q = randn(Shape{1, 2, 8, 4}, gen);
  EXPECT_TRUE(ops::fused_attention_applies(q, q, q));
  EXPECT_FALSE(ops::fused_attention_applies(q.to(DType::f64), q.to(DType::f64), q.to(DType::f64)));
  EXPECT_FALSE(ops::fused_attention_applies(q.transpose(-1, -2), q.transpose(-1, -2), q.transpose(-1, -2)));
  // Same result through the public op with and without a (trivial, all-true) mask.
  Tensor all = ones(Shape{8, 8}, DType::b8);
  EXPECT_CLOSE(scaled_dot_product_attention(q, q, q), scaled_dot_product_attention(q, q, q, all), 1e-6, 1e-5);
}

}  // namespace
}  // namespace cf
