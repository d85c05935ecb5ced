// nn::PerformerAttention (feature redraw schedule, eval never redraws, the forward is the
// composition of its parts, float64 gradient check with fixed features) and nn::AxialAttention
// (rows then columns, float64 gradient check, shape errors). PyTorch parity of both lives in
// tests/golden/test_effattn_b_modules.cpp.
#include <gtest/gtest.h>

#include "cformer/autograd.h"
#include "cformer/cformer.h"
#include "cformer/efficient_attention.h"
#include "support/expect_close.h"
#include "support/expect_throw.h"
#include "support/gradcheck.h"

namespace cf::nn {
namespace {

bool same(const Tensor& a, const Tensor& b) {
  return cf::testing::all_close(a, b, 0.0, 0.0);
}

TEST(PerformerAttentionModule, RedrawsEveryIntervalInTrainingOnly) {
  Generator gen(3);
  PerformerAttentionOptions o;
  o.nb_features = 8;
  o.redraw_interval = 3;
  PerformerAttention m(16, 2, gen, o);
  EXPECT_EQ(m.projection_matrix.shape(), (Shape{8, 8}));
  const Tensor x = randn(Shape{2, 5, 16}, gen);
  Tensor w = m.projection_matrix.clone();
  for (int call = 1; call <= 3; ++call) {
    m.forward(x);
    EXPECT_TRUE(same(m.projection_matrix, w)) << "call " << call;
  }
  m.forward(x);  // the 4th forward draws a new projection first
  EXPECT_FALSE(same(m.projection_matrix, w));
  w = m.projection_matrix.clone();
  m.eval();
  for (int call = 0; call < 5; ++call) m.forward(x);
  EXPECT_TRUE(same(m.projection_matrix, w));
  // Two modules built from equal generators draw equal projections.
  Generator g1(9), g2(9);
  EXPECT_TRUE(same(PerformerAttention(16, 2, g1, o).projection_matrix,
                   PerformerAttention(16, 2, g2, o).projection_matrix));
  // The buffer is part of the state_dict (checkpoints keep the features in use).
  bool found = false;
  for (const auto& [name, t] : m.state_dict()) found = found || name == "projection_matrix";
  EXPECT_TRUE(found);
}

TEST(PerformerAttentionModule, ForwardIsItsComposition) {
  Generator gen(4);
  PerformerAttentionOptions o;
  o.nb_features = 32;
  o.causal = true;
  PerformerAttention m(12, 3, gen, o);
  m.eval();
  const Tensor x = randn(Shape{2, 7, 12}, gen);
  auto heads = [](const Tensor& t) { return t.view(Shape{2, 7, 3, 4}).transpose(1, 2); };
  const Tensor a = performer_attention(heads(m.to_q->forward(x)), heads(m.to_k->forward(x)),
                                       heads(m.to_v->forward(x)), m.projection_matrix, true);
  const Tensor ref = m.to_out->forward(a.transpose(1, 2).reshape(Shape{2, 7, 12}));
  EXPECT_CLOSE(m.forward(x), ref, 0.0, 0.0);
}

TEST(PerformerAttentionModule, GradcheckWithFixedFeatures) {
  for (bool causal : {false, true}) {
    Generator gen(5);
    PerformerAttentionOptions o;
    o.nb_features = 6;
    o.causal = causal;
    PerformerAttention m(8, 2, gen, o, DType::f64);
    m.eval();
    Tensor x = randn(Shape{2, 5, 8}, gen, DType::f64).requires_grad_();
    EXPECT_TRUE(cf::testing::gradcheck(
        [&m](const std::vector<Tensor>& in) { return m.forward(in[0]); }, {x}));
  }
}

TEST(AxialAttentionModule, RowsThenColumns) {
  Generator gen(6);
  AxialAttention m(8, 2, gen);
  const Tensor x = randn(Shape{2, 3, 5, 8}, gen);
  const Tensor y = m.forward(x);
  ASSERT_EQ(y.shape(), x.shape());
  // Row attention mixes only within a row: changing row 0 leaves the row pass of the other rows
  // unchanged, and the column pass then spreads it; check the composition directly.
  const Tensor r = x.reshape(Shape{6, 5, 8});
  const Tensor rows = m.row_attn->forward(r, r, r, {}, false).output.view(Shape{2, 3, 5, 8});
  const Tensor c = rows.transpose(1, 2).reshape(Shape{10, 3, 8});
  const Tensor cols = m.col_attn->forward(c, c, c, {}, false).output;
  EXPECT_CLOSE(y, cols.view(Shape{2, 5, 3, 8}).transpose(1, 2), 0.0, 0.0);
  EXPECT_THROW_MSG(m.forward(randn(Shape{2, 3, 8}, gen)), ShapeError, "AxialAttention");
  EXPECT_THROW_MSG(m.forward(randn(Shape{2, 3, 5, 7}, gen)), ShapeError, "AxialAttention");
  EXPECT_THROW_MSG(AxialAttention(9, 2, gen), ValueError, "AxialAttention");
  EXPECT_THROW_MSG(PerformerAttention(9, 2, gen), ValueError, "PerformerAttention");
  PerformerAttentionOptions bad;
  bad.nb_features = 0;
  EXPECT_THROW_MSG(PerformerAttention(8, 2, gen, bad), ValueError, "PerformerAttention");
}

TEST(AxialAttentionModule, Gradcheck) {
  Generator gen(7);
  AxialAttention m(4, 2, gen, DType::f64);
  Tensor x = randn(Shape{1, 3, 4, 4}, gen, DType::f64).requires_grad_();
  EXPECT_TRUE(cf::testing::gradcheck(
      [&m](const std::vector<Tensor>& in) { return m.forward(in[0]); }, {x}));
}

}  // namespace
}  // namespace cf::nn
