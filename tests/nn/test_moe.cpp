// nn::MoEFeedForward: parameter names, float64 gradient check of output + aux_loss + z_loss
// w.r.t. x and every parameter (top-1, top-2, with dropping), routing independent of the batch
// without a capacity, top_k = num_experts with normalized gates equal to the dense mixture,
// capacity dropping (zero output, counts), the losses at a uniform router, empty input, errors.
// PyTorch parity lives in tests/golden/test_moe.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "cformer/autograd.h"
#include "cformer/cformer.h"
#include "cformer/efficient_attention.h"
#include "support/expect_close.h"
#include "support/expect_throw.h"
#include "support/gradcheck.h"

namespace cf::nn {
namespace {

TEST(MoEFeedForward, ParameterNames) {
  Generator gen(1);
  MoEFeedForward m(8, 16, 3, gen);
  std::vector<std::string> names;
  for (const auto& [name, t] : m.named_parameters()) names.push_back(name);
  std::vector<std::string> want = {"router.weight"};
  for (int i = 0; i < 3; ++i)
    for (const char* p : {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"})
      want.push_back("experts." + std::to_string(i) + "." + p);
  EXPECT_EQ(names, want);
  EXPECT_EQ(m.router->weight.shape(), (Shape{3, 8}));
  EXPECT_EQ(m.experts->at<MLP>(2)->fc1->weight.shape(), (Shape{16, 8}));
  EXPECT_EQ(m.experts->at<MLP>(2)->fc2->weight.shape(), (Shape{8, 16}));
}

TEST(MoEFeedForward, GradcheckOutputAndLosses) {
  struct Config {
    int64_t top_k;
    double capacity_factor;
    bool normalize;
    int64_t experts, dim, ffn;
  };
  // 10 experts: more than a split_with_sizes node takes (nested splits).
  for (const Config& cfg : {Config{1, 0.0, false, 3, 4, 5}, Config{2, 0.0, true, 3, 4, 5},
                            Config{1, 0.7, false, 3, 4, 5}, Config{2, 0.6, false, 3, 4, 5},
                            Config{2, 0.0, false, 10, 4, 2}}) {
    SCOPED_TRACE("top_k " + std::to_string(cfg.top_k) + " capacity_factor " +
                 std::to_string(cfg.capacity_factor) + " experts " + std::to_string(cfg.experts));
    Generator gen(7);
    MoEOptions o;
    o.top_k = cfg.top_k;
    o.capacity_factor = cfg.capacity_factor;
    o.normalize_gates = cfg.normalize;
    MoEFeedForward m(cfg.dim, cfg.ffn, cfg.experts, gen, o, DType::f64);
    Tensor x = randn(Shape{2, 5, cfg.dim}, gen, DType::f64).requires_grad_();
    std::vector<Tensor> inputs = {x};
    for (const Tensor& p : m.parameters()) inputs.push_back(p);
    const std::vector<Tensor> w = {randn(Shape{2, 5, cfg.dim}, gen, DType::f64),
                                   full(Shape{}, 0.7, DType::f64), full(Shape{}, -0.3, DType::f64)};
    EXPECT_TRUE(cf::testing::gradcheck(
        [&m](const std::vector<Tensor>& in) {
          Tensor out = m.forward(in[0]);
          return std::vector<Tensor>{out, m.aux_loss, m.z_loss};
        },
        inputs, w));
    if (cfg.capacity_factor > 0) {
      EXPECT_GT(m.dropped, 0);
    }
  }
}

TEST(MoEFeedForward, RoutingIndependentOfBatchWithoutCapacity) {
  Generator gen(2);
  MoEOptions o;
  o.top_k = 2;
  MoEFeedForward m(16, 24, 6, gen, o, DType::f64);
  const Tensor x = randn(Shape{4, 9, 16}, gen, DType::f64);
  const Tensor full_out = m.forward(x);
  for (int64_t b = 0; b < 4; ++b) {
    const Tensor row = m.forward(x.narrow(0, b, 1));
    EXPECT_CLOSE(row, full_out.narrow(0, b, 1), 1e-12, 1e-12);
    const Tensor one = m.forward(x.select(0, b).select(0, 3));  // a single token, shape (D)
    EXPECT_CLOSE(one, full_out.select(0, b).select(0, 3), 1e-12, 1e-12);
  }
  // Reversed batch order: the same per-token outputs.
  const Tensor rev = m.forward(flip(x, {0, 1}));
  EXPECT_CLOSE(flip(rev, {0, 1}), full_out, 1e-12, 1e-12);
}

TEST(MoEFeedForward, AllExpertsWithNormalizedGatesIsTheDenseMixture) {
  for (int64_t E : {4, 11, 70}) {  // 11 and 70: one and two levels of nested splits
    SCOPED_TRACE("experts " + std::to_string(E));
    Generator gen(3);
    MoEOptions o;
    o.top_k = E;
    o.normalize_gates = true;
    o.activation = Activation::relu;
    MoEFeedForward m(6, 10, E, gen, o, DType::f64);
    const Tensor x = randn(Shape{11, 6}, gen, DType::f64);
    const Tensor p = softmax(linear(x, m.router->weight), -1);  // (T, E)
    Tensor ref = zeros(Shape{11, 6}, DType::f64);
    for (int64_t e = 0; e < E; ++e)
      ref =
          add(ref, mul(m.experts->at<MLP>(static_cast<size_t>(e))->forward(x), p.narrow(1, e, 1)));
    EXPECT_CLOSE(m.forward(x), ref, 1e-12, 1e-10);
    EXPECT_EQ(m.expert_counts, std::vector<int64_t>(static_cast<size_t>(E), 11));
    EXPECT_EQ(m.dropped, 0);
  }
}

TEST(MoEFeedForward, CapacityDropsLaterTokensToZero) {
  Generator gen(4);
  MoEOptions o;
  o.capacity_factor = 0.5;  // 12 tokens, 3 experts, top-1: capacity ceil(2) = 2
  MoEFeedForward m(5, 7, 3, gen, o);
  EXPECT_EQ(m.expert_capacity(12), 2);
  EXPECT_EQ(m.expert_capacity(13), 3);  // ceil(2.1667)
  const Tensor x = randn(Shape{12, 5}, gen);
  const Tensor out = m.forward(x);
  const std::vector<int64_t> choice = argmax(linear(x, m.router->weight), -1).to_vector<int64_t>();
  std::vector<int64_t> seen(3, 0);
  int64_t dropped = 0;
  for (int64_t t = 0; t < 12; ++t) {
    const int64_t e = choice[static_cast<size_t>(t)];
    const bool kept = seen[static_cast<size_t>(e)]++ < 2;
    dropped += kept ? 0 : 1;
    const double norm_t = norm(out.select(0, t)).item();
    if (kept) {
      EXPECT_GT(norm_t, 0.0) << "token " << t;
    } else {
      EXPECT_EQ(norm_t, 0.0) << "token " << t;
    }
  }
  EXPECT_EQ(m.dropped, dropped);
  EXPECT_GT(dropped, 0);
  int64_t kept_total = 0;
  for (int64_t c : m.expert_counts) {
    EXPECT_LE(c, 2);
    kept_total += c;
  }
  EXPECT_EQ(kept_total + dropped, 12);
}

TEST(MoEFeedForward, LossesAtAUniformRouter) {
  Generator gen(5);
  MoEFeedForward m(4, 4, 5, gen, {}, DType::f64);
  m.router->weight.detach().zero_();
  m.forward(randn(Shape{3, 7, 4}, gen, DType::f64));
  // P_e = 1/E for all e and sum_e f_e = 1, so E * sum_e f_e P_e = 1; logsumexp(0) = log E.
  EXPECT_NEAR(m.aux_loss.item(), 1.0, 1e-12);
  EXPECT_NEAR(m.z_loss.item(), std::log(5.0) * std::log(5.0), 1e-12);
}

TEST(MoEFeedForward, EmptyInput) {
  Generator gen(6);
  MoEFeedForward m(4, 4, 2, gen);
  const Tensor out = m.forward(zeros(Shape{0, 3, 4}));
  EXPECT_EQ(out.shape(), (Shape{0, 3, 4}));
  EXPECT_EQ(m.aux_loss.item(), 0.0);
  EXPECT_EQ(m.z_loss.item(), 0.0);
}

TEST(MoEFeedForward, Errors) {
  Generator gen(8);
  auto make = [&gen](int64_t d, int64_t f, int64_t e, MoEOptions o) {
    return MoEFeedForward(d, f, e, gen, o);
  };
  EXPECT_THROW_MSG(make(0, 4, 2, {}), ValueError, "MoEFeedForward: embed_dim");
  EXPECT_THROW_MSG(make(4, 0, 2, {}), ValueError, "ffn_dim");
  EXPECT_THROW_MSG(make(4, 4, 0, {}), ValueError, "num_experts");
  MoEOptions o;
  o.top_k = 3;
  EXPECT_THROW_MSG(make(4, 4, 2, o), ValueError, "top_k must be in [1, 2] (num_experts), got 3");
  o.top_k = 0;
  EXPECT_THROW_MSG(make(4, 4, 2, o), ValueError, "top_k");
  o.top_k = 1;
  o.capacity_factor = -1.0;
  EXPECT_THROW_MSG(make(4, 4, 2, o), ValueError, "capacity_factor");
  o.capacity_factor = std::nan("");
  EXPECT_THROW_MSG(make(4, 4, 2, o), ValueError, "capacity_factor");
  EXPECT_THROW_MSG(MoEFeedForward(4, 4, 2, gen, {}, DType::i64), DTypeError, "dtype");
  MoEFeedForward m(4, 4, 2, gen);
  EXPECT_THROW_OP(m.forward(zeros(Shape{3, 5})), ShapeError, "MoEFeedForward");
  EXPECT_THROW_MSG(m.forward(zeros(Shape{3, 5})), ShapeError, "(..., 4), got (3, 5)");
  EXPECT_THROW_OP(m.forward(zeros(Shape{})), ShapeError, "MoEFeedForward");
  EXPECT_THROW_OP(m.forward(Tensor()), ShapeError, "MoEFeedForward");
  EXPECT_THROW_OP(m.forward(zeros(Shape{3, 4}, DType::f64)), DTypeError, "MoEFeedForward");
}

}  // namespace
}  // namespace cf::nn
