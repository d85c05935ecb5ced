// scaled_dot_product_attention against a private reference (plain loops over batch, L and S in
// double), including masks, causal masking, dropout with a fixed seed, fully masked rows and an
// EXPECT_THROW for every check.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "cformer/autograd.h"
#include "cformer/ops.h"
#include "support/expect_close.h"
#include "support/gradcheck.h"

namespace cf {
namespace {

Shape batch_dims(const Tensor& t) {
  Shape b;
  for (int d = 0; d < t.dim() - 2; ++d) b.push_back(t.size(d));
  return b;
}

Shape with_tail(Shape s, int64_t a, int64_t b) {
  s.push_back(a);
  s.push_back(b);
  return s;
}

// softmax(q k^T * scale + M) * drop v in double, every operand expanded to the full batch first.
// drop (optional): the dropout factors mask / (1 - p), of the scores' shape.
Tensor reference(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, bool causal,
                 double scale, const Tensor& drop = {}) {
  const Shape batch =
      broadcast_shapes(broadcast_shapes(batch_dims(q), batch_dims(k)), batch_dims(v));
  const int64_t B = batch.numel(), L = q.size(-2), S = k.size(-2), E = q.size(-1), Ev = v.size(-1);
  auto full_f64 = [&batch](const Tensor& t, int64_t a, int64_t b) {
    return t.detach()
        .to(DType::f64)
        .expand(with_tail(batch, a, b))
        .contiguous()
        .to_vector<double>();
  };
  const std::vector<double> Q = full_f64(q, L, E), K = full_f64(k, S, E), V = full_f64(v, S, Ev);
  std::vector<double> M(B * L * S, 0.0), D(B * L * S, 1.0);
  if (mask.defined()) {
    Tensor m = mask.expand(with_tail(batch, L, S)).contiguous();
    if (m.dtype() == DType::b8) {
      const std::vector<double> mb = m.to(DType::f64).to_vector<double>();
      for (size_t i = 0; i < M.size(); ++i) M[i] = mb[i] != 0.0 ? 0.0 : -INFINITY;
    } else {
      M = m.to(DType::f64).to_vector<double>();
    }
  }
  if (drop.defined()) D = drop.to(DType::f64).contiguous().to_vector<double>();
  std::vector<double> out(B * L * Ev, 0.0), s(S);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < L; ++i) {
      double mx = -INFINITY;
      for (int64_t j = 0; j < S; ++j) {
        double dot = 0.0;
        for (int64_t e = 0; e < E; ++e) dot += Q[(b * L + i) * E + e] * K[(b * S + j) * E + e];
        s[j] = dot * scale + M[(b * L + i) * S + j] + (causal && j > i ? -INFINITY : 0.0);
        mx = std::max(mx, s[j]);
      }
      double z = 0.0;
      for (int64_t j = 0; j < S; ++j) z += std::exp(s[j] - mx);
      for (int64_t j = 0; j < S; ++j) {
        const double p = std::exp(s[j] - mx) / z * D[(b * L + i) * S + j];
        for (int64_t e = 0; e < Ev; ++e) out[(b * L + i) * Ev + e] += p * V[(b * S + j) * Ev + e];
      }
    }
  return from_vector<double>(out, with_tail(batch, L, Ev));
}

struct Case {
  Shape q, k, v;
  Shape mask;  // empty: no mask
  bool bool_mask, causal;
  std::optional<double> scale;
};

TEST(Attention, MatchesReferenceOnShapesMasksAndScales) {
  const Case cases[] = {
      {{2, 3, 5, 4}, {2, 3, 6, 4}, {2, 3, 6, 7}, {}, false, false, std::nullopt},
      {{4, 3}, {5, 3}, {5, 2}, {}, false, false, std::nullopt},
      {{2, 1, 3, 17}, {3, 5, 17}, {1, 3, 5, 15}, {}, false, false, 0.25},
      {{2, 2, 16, 33}, {2, 2, 15, 33}, {2, 2, 15, 1}, {16, 15}, true, false, std::nullopt},
      {{2, 4, 5}, {2, 7, 5}, {2, 7, 3}, {2, 4, 7}, true, false, std::nullopt},
      {{2, 4, 5}, {2, 7, 5}, {2, 7, 3}, {1, 4, 1}, false, false, std::nullopt},
      {{3, 9, 8}, {3, 9, 8}, {3, 9, 8}, {}, false, true, std::nullopt},
      {{5, 8}, {9, 8}, {9, 4}, {}, false, true, 2.0},
      {{2, 9, 8}, {2, 4, 8}, {2, 4, 6}, {}, false, true, std::nullopt},
      {{1, 33, 64}, {1, 40, 64}, {1, 40, 64}, {}, false, false, std::nullopt},
  };
  uint64_t seed = 1;
  for (const Case& c : cases) {
    SCOPED_TRACE("q " + c.q.str() + " k " + c.k.str() + " v " + c.v.str() + " mask " +
                 c.mask.str() + " causal " + std::to_string(c.causal) + " seed " +
                 std::to_string(seed));
    Generator gen(seed++);
    for (DType dt : {DType::f32, DType::f64}) {
      Tensor q = randn(c.q, gen, dt), k = randn(c.k, gen, dt), v = randn(c.v, gen, dt);
      Tensor m;
      if (!c.mask.empty()) {
        if (c.bool_mask) {
          m = lt(rand(c.mask, gen), 0.7);
          m.narrow(-1, 0, 1).fill_(1.0);  // every query attends to key 0: no fully masked row
        } else {
          m = randn(c.mask, gen, dt);
        }
      }
      const double scale = c.scale.value_or(1.0 / std::sqrt(static_cast<double>(c.q.back())));
      Tensor out = scaled_dot_product_attention(q, k, v, m, 0.0, c.causal, c.scale);
      EXPECT_EQ(out.dtype(), dt);
      EXPECT_CLOSE(out, reference(q, k, v, m, c.causal, scale), dt == DType::f32 ? 2e-5 : 1e-12,
                   1e-5);
      // Non-contiguous inputs give the same result.
      Tensor qn = testing::make_noncontiguous(q), kn = testing::make_noncontiguous(k);
      EXPECT_CLOSE(scaled_dot_product_attention(qn, kn, v, m, 0.0, c.causal, c.scale), out, 1e-6,
                   1e-5);
    }
  }
}

TEST(Attention, FullyMaskedRowIsNan) {
  Generator gen(3);
  Tensor q = randn(Shape{3, 4}, gen), k = randn(Shape{5, 4}, gen), v = randn(Shape{5, 2}, gen);
  Tensor m = ones(Shape{3, 5}, DType::b8);
  m.select(0, 1).fill_(0.0);  // query 1 attends to nothing
  std::vector<float> out = scaled_dot_product_attention(q, k, v, m).to_vector<float>();
  for (int e = 0; e < 2; ++e) {
    EXPECT_FALSE(std::isnan(out[0 * 2 + e]));
    EXPECT_TRUE(std::isnan(out[1 * 2 + e]));
    EXPECT_FALSE(std::isnan(out[2 * 2 + e]));
  }
}

TEST(Attention, DropoutUsesTheGeneratorsMaskOnTheProbabilities) {
  Generator init(4);
  Tensor q = randn(Shape{2, 6, 8}, init), k = randn(Shape{2, 7, 8}, init),
         v = randn(Shape{2, 7, 5}, init);
  Generator gen(77), same(77);
  Tensor out = scaled_dot_product_attention(q, k, v, {}, 0.3, false, std::nullopt, &gen);
  // The same draw on a tensor of ones gives the factors mask / (1 - p) the op applied.
  Tensor drop = dropout(ones(Shape{2, 6, 7}), 0.3, true, same);
  EXPECT_CLOSE(out, reference(q, k, v, {}, false, 1.0 / std::sqrt(8.0), drop), 2e-5, 1e-5);
  EXPECT_EQ(gen.offset(), same.offset());
  Generator g1(1);
  Tensor zero = scaled_dot_product_attention(q, k, v, {}, 1.0, false, std::nullopt, &g1);
  EXPECT_CLOSE(zero, zeros(Shape{2, 6, 5}), 0.0, 0.0);
}

TEST(Attention, GradcheckWithFloatMaskAndWithDropout) {
  Generator gen(5);
  Tensor q = randn(Shape{2, 3, 4}, gen, DType::f64).requires_grad_(true);
  Tensor k = randn(Shape{2, 5, 4}, gen, DType::f64).requires_grad_(true);
  Tensor v = randn(Shape{2, 5, 3}, gen, DType::f64).requires_grad_(true);
  Tensor m = randn(Shape{3, 5}, gen, DType::f64).requires_grad_(true);
  EXPECT_TRUE(testing::gradcheck(
      [](const std::vector<Tensor>& in) {
        return scaled_dot_product_attention(in[0], in[1], in[2], in[3], 0.0, false, 0.7);
      },
      {q, k, v, m}));
  EXPECT_TRUE(testing::gradcheck(
      [](const std::vector<Tensor>& in) {
        Generator g(123);  // re-seeded per evaluation: the same dropout mask every time
        return scaled_dot_product_attention(in[0], in[1], in[2], {}, 0.25, true, std::nullopt, &g);
      },
      {q, k, v}));
}

template <class E, class F>
void expect_error(const F& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected one mentioning " << needle;
  } catch (const E& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("scaled_dot_product_attention"), std::string::npos) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

TEST(Attention, Errors) {
  Tensor q = zeros(Shape{2, 3, 4}), k = zeros(Shape{2, 5, 4}), v = zeros(Shape{2, 5, 6});
  auto sdpa = [](const Tensor& a, const Tensor& b, const Tensor& c, const Tensor& m = {},
                 double p = 0.0, bool causal = false, Generator* g = nullptr) {
    return scaled_dot_product_attention(a, b, c, m, p, causal, std::nullopt, g);
  };
  expect_error<ValueError>([&] { sdpa(Tensor(), k, v); }, "q is undefined");
  expect_error<DTypeError>([&] { sdpa(q.to(DType::i64), k, v); }, "q must be f32 or f64");
  expect_error<DTypeError>([&] { sdpa(q, k.to(DType::i64), v); }, "k must be f32 or f64");
  expect_error<DTypeError>([&] { sdpa(q, k, v.to(DType::i64)); }, "v must be f32 or f64");
  expect_error<DTypeError>([&] { sdpa(q, k.to(DType::f64), v); }, "one dtype");
  expect_error<ShapeError>([&] { sdpa(zeros(Shape{4}), k, v); }, "at least 2 dims");
  expect_error<ShapeError>([&] { sdpa(q, zeros(Shape{2, 5, 3}), v); }, "k must have E = 4");
  expect_error<ShapeError>([&] { sdpa(q, k, zeros(Shape{2, 4, 6})); }, "v must have S = 5");
  expect_error<ShapeError>([&] { sdpa(zeros(Shape{3, 3, 4}), k, v); }, "cannot be broadcast");
  expect_error<DTypeError>(
      [&] {
        sdpa(q, k, v, zeros(Shape{3, 5}, DType::i64));
      },
      "attn_mask must be bool or f32");
  expect_error<DTypeError>(
      [&] {
        sdpa(q, k, v, zeros(Shape{3, 5}, DType::f64));
      },
      "attn_mask must be bool or f32");
  expect_error<ShapeError>(
      [&] {
        sdpa(q, k, v, ones(Shape{3, 4}, DType::b8));
      },
      "attn_mask of shape (3, 4)");
  expect_error<ShapeError>([&] { sdpa(q, k, v, ones(Shape{1, 2, 3, 5}, DType::b8)); }, "(2, 3, 5)");
  expect_error<ValueError>(
      [&] {
        sdpa(q, k, v, ones(Shape{3, 5}, DType::b8), 0.0, true);
      },
      "is_causal");
  Generator gen(0);
  expect_error<ValueError>([&] { sdpa(q, k, v, {}, 0.1); }, "needs a Generator");
  expect_error<ValueError>([&] { sdpa(q, k, v, {}, -0.1, false, &gen); },
                           "dropout_p must be in [0, 1]");
  expect_error<ValueError>([&] { sdpa(q, k, v, {}, 1.5, false, &gen); },
                           "dropout_p must be in [0, 1]");
  EXPECT_NO_THROW(sdpa(q, k, v, ones(Shape{5}, DType::b8)));
}


TEST(Attention, MaskOnAnotherDeviceIsRejected) {
  Tensor q = zeros(Shape{3, 4}), k = zeros(Shape{5, 4}), v = zeros(Shape{5, 2});
  Tensor m = ones(Shape{3, 5}, DType::b8);
  m.impl()->device = Device::cuda;  // a CPU tensor relabelled, to reach the check
  EXPECT_THROW(scaled_dot_product_attention(q, k, v, m), DeviceError);
}

}  // namespace
}  // namespace cf
