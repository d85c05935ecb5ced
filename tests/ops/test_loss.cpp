// Loss kernels: the fused f32 cross-entropy and the pointwise kernels against their _ref oracles
// on edge shapes; op-level edge cases (empty, all ignored, C = 1, non-contiguous, thread count);
// an EXPECT_THROW for every check.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "cformer/autograd.h"
#include "cformer/ops.h"
#include "cformer/runtime.h"
#include "ops/loss.h"
#include "support/expect_close.h"
#include "support/gradcheck.h"

namespace cf {
namespace {

using ops::cpu::PointLoss;

// Runs f, expects an exception of type E whose message contains every needle.
template <class E, class F>
void expect_error(const F& f, std::vector<std::string> needles) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected one mentioning " << needles[0];
  } catch (const E& e) {
    const std::string msg = e.what();
    for (const std::string& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

std::vector<float> to_floats(const Tensor& t) {
  return t.contiguous().to_vector<float>();
}

// ---------------------------------------------------------------- fused cross-entropy vs _ref

struct CeShape {
  int64_t N, C, inner;
  bool weight;
  double ls;
  int64_t ignore_index;
};

void check_ce_kernel(const CeShape& s, uint64_t seed) {
  SCOPED_TRACE("N " + std::to_string(s.N) + " C " + std::to_string(s.C) + " inner " +
               std::to_string(s.inner) + " weight " + std::to_string(s.weight) + " ls " +
               std::to_string(s.ls) + " seed " + std::to_string(seed));
  Generator gen(seed);
  const int64_t rows = s.N * s.inner;
  Tensor x = mul(randn(Shape{s.N, s.C, s.inner}, gen), 3.0);
  Tensor t = randint(0, s.C, Shape{rows}, gen);
  Tensor ign = rand(Shape{rows}, gen);
  int64_t* pt = rows ? t.data_ptr<int64_t>() : nullptr;
  for (int64_t r = 0; r < rows; ++r)
    if (ign.data_ptr<float>()[r] < 0.2f) pt[r] = s.ignore_index;
  Tensor w = s.weight ? add(rand(Shape{s.C}, gen), 0.25) : Tensor();
  Tensor g = randn(Shape{rows}, gen);
  const float* pw = s.weight ? w.data_ptr<float>() : nullptr;

  Tensor loss = empty(Shape{rows}), lse = empty(Shape{rows});
  Tensor loss_ref = empty(Shape{rows}), lse_ref = empty(Shape{rows});
  ops::cpu::CrossEntropyArgs<float> a{x.data_ptr<float>(),   pt,  pw,  loss.data_ptr<float>(),
                                      lse.data_ptr<float>(), s.N, s.C, s.inner,
                                      s.ignore_index,        s.ls};
  ops::cpu::cross_entropy_forward(a);
  a.loss = loss_ref.data_ptr<float>();
  a.lse = lse_ref.data_ptr<float>();
  ops::cpu::cross_entropy_forward_ref<float>(a);
  EXPECT_CLOSE(loss, loss_ref, 1e-5, 1e-5);

  for (int64_t g_stride : {1, 0}) {
    SCOPED_TRACE("g_stride " + std::to_string(g_stride));
    Tensor dx = full(x.shape(), 7.0), dx_ref = full(x.shape(), 7.0);
    ops::cpu::CrossEntropyBackwardArgs<float> b{x.data_ptr<float>(),
                                                pt,
                                                pw,
                                                lse_ref.data_ptr<float>(),
                                                g.data_ptr<float>(),
                                                g_stride,
                                                0.5,
                                                dx.data_ptr<float>(),
                                                s.N,
                                                s.C,
                                                s.inner,
                                                s.ignore_index,
                                                s.ls};
    // The optimized backward takes its own forward's lse; ignored rows may hold any value there.
    b.lse = lse.data_ptr<float>();
    ops::cpu::cross_entropy_backward(b);
    b.lse = lse_ref.data_ptr<float>();
    b.dx = dx_ref.data_ptr<float>();
    ops::cpu::cross_entropy_backward_ref<float>(b);
    EXPECT_CLOSE(dx, dx_ref, 1e-6, 1e-5);
  }
}

TEST(CrossEntropyKernel, MatchesRefOnEdgeShapes) {
  uint64_t seed = 100;
  for (int64_t C : {1, 2, 15, 16, 17, 33, 1000, 1037})
    for (int64_t inner : {1, 3, 17})
      for (bool weight : {false, true})
        for (double ls : {0.0, 0.1}) {
          if (C >= 1000 && inner > 3) continue;
          check_ce_kernel({5, C, inner, weight, ls, -100}, seed++);
        }
}

TEST(CrossEntropyKernel, ManyRowsAndWideRows) {
  check_ce_kernel({300, 40, 1, true, 0.2, 3}, 7);
  check_ce_kernel({2, 50257, 1, false, 0.0, -100}, 8);
  check_ce_kernel({2, 50257, 1, true, 0.1, -100}, 9);
  check_ce_kernel({1, 5, 40, false, 0.3, 1}, 10);
}

TEST(CrossEntropyKernel, EmptyAndExtremeLogits) {
  check_ce_kernel({0, 7, 1, false, 0.0, -100}, 11);
  check_ce_kernel({0, 7, 3, true, 0.1, -100}, 12);
  // Logits far apart: the stable logsumexp must not overflow.
  Tensor x = from_vector<float>({1000.0f, -1000.0f, 0.0f, 80.0f, 90.0f, -50.0f}, Shape{2, 3});
  Tensor t = from_vector<int64_t>({1, 0}, Shape{2});
  Tensor loss = cross_entropy(x, t, {}, -100, Reduction::none);
  std::vector<float> v = to_floats(loss);
  EXPECT_NEAR(v[0], 2000.0f, 1e-2f);
  EXPECT_NEAR(v[1], 10.0f + std::log1p(std::exp(-10.0f)), 1e-4f);
}

// ---------------------------------------------------------------- op-level edge cases

TEST(CrossEntropy, EmptyBatchMeanIsNanSumIsZero) {
  Tensor x = zeros(Shape{0, 5});
  Tensor t = zeros(Shape{0}, DType::i64);
  EXPECT_TRUE(std::isnan(cross_entropy(x, t).item()));
  EXPECT_EQ(cross_entropy(x, t, {}, -100, Reduction::sum).item(), 0.0);
  EXPECT_EQ(cross_entropy(x, t, {}, -100, Reduction::none).shape(), Shape{0});
  EXPECT_TRUE(std::isnan(nll_loss(x, t).item()));
}

TEST(CrossEntropy, AllIgnoredMeanIsNanWithZeroGradient) {
  Generator gen(3);
  Tensor x = randn(Shape{3, 4}, gen).requires_grad_(true);
  Tensor t = full(Shape{3}, -100.0, DType::i64);
  Tensor loss = cross_entropy(x, t, {}, -100, Reduction::mean, 0.2);
  EXPECT_TRUE(std::isnan(loss.item()));
  loss.backward();
  EXPECT_CLOSE(x.grad(), zeros(Shape{3, 4}), 0.0, 0.0);
}

TEST(CrossEntropy, OneClassHasZeroLossWithoutSmoothing) {
  Generator gen(5);
  Tensor x = randn(Shape{4, 1}, gen).requires_grad_(true);
  Tensor loss = cross_entropy(x, zeros(Shape{4}, DType::i64), {}, -100, Reduction::sum);
  EXPECT_NEAR(loss.item(), 0.0, 1e-6);
  loss.backward();
  EXPECT_CLOSE(x.grad(), zeros(Shape{4, 1}), 1e-6, 0.0);
}

TEST(CrossEntropy, NonContiguousAndStridedTargetsMatchContiguous) {
  Generator gen(6);
  Tensor base = randn(Shape{17, 9}, gen);
  Tensor xt = base.t();  // (9, 17) non-contiguous, classes along dim 1
  Tensor t = randint(0, 17, Shape{18}, gen).slice(0, 0, 18, 2);
  Tensor a = cross_entropy(xt, t, {}, -100, Reduction::none, 0.1);
  Tensor b = cross_entropy(xt.contiguous(), t.contiguous(), {}, -100, Reduction::none, 0.1);
  EXPECT_CLOSE(a, b, 0.0, 0.0);
}

TEST(CrossEntropy, ResultDoesNotDependOnThreadCount) {
  Generator gen(7);
  Tensor x = randn(Shape{64, 333}, gen).requires_grad_(true);
  Tensor t = randint(0, 333, Shape{64}, gen);
  const int before = get_num_threads();
  std::vector<std::vector<float>> losses, grads;
  for (int n : {1, 2}) {
    set_num_threads(n);
    x.set_grad(Tensor());
    Tensor l = cross_entropy(x, t, {}, -100, Reduction::mean, 0.05);
    l.backward();
    losses.push_back(to_floats(l));
    grads.push_back(to_floats(x.grad()));
  }
  set_num_threads(before);
  EXPECT_EQ(losses[0], losses[1]);
  EXPECT_EQ(grads[0], grads[1]);
}

TEST(CrossEntropy, GradcheckKDimWithEverything) {
  Generator gen(8);
  Tensor x = randn(Shape{2, 5, 3}, gen, DType::f64).requires_grad_(true);
  Tensor t = from_vector<int64_t>({0, 4, 1, 2, 2, 3}, Shape{2, 3});
  Tensor w = from_vector<double>({0.5, 1.0, 1.5, 2.0, 0.7});
  EXPECT_TRUE(testing::gradcheck(
      [&t, &w](const std::vector<Tensor>& in) {
        return cross_entropy(in[0], t, w, 2, Reduction::mean, 0.3);
      },
      {x}));
}

// ---------------------------------------------------------------- pointwise kernels vs _ref

TEST(PointLossKernel, MatchesRefOnEdgeSizes) {
  const PointLoss kinds[] = {PointLoss::mse, PointLoss::bce, PointLoss::bce_logits,
                             PointLoss::kl_div, PointLoss::kl_div_log_target};
  uint64_t seed = 200;
  for (PointLoss kind : kinds)
    for (int64_t n : {0, 1, 15, 17, 1000, 70001})
      for (bool weights : {false, true}) {
        SCOPED_TRACE("kind " + std::to_string(static_cast<int>(kind)) + " n " + std::to_string(n) +
                     " weights " + std::to_string(weights));
        Generator gen(seed++);
        const bool unit_x = kind == PointLoss::bce;
        Tensor x = unit_x ? add(mul(rand(Shape{n}, gen), 0.9), 0.05) : randn(Shape{n}, gen);
        Tensor t = kind == PointLoss::kl_div ? rand(Shape{n}, gen) : randn(Shape{n}, gen);
        if (kind == PointLoss::bce || kind == PointLoss::bce_logits) t = rand(Shape{n}, gen);
        Tensor w = weights ? rand(Shape{n}, gen) : Tensor();
        Tensor pw =
            weights && kind == PointLoss::bce_logits ? add(rand(Shape{n}, gen), 0.5) : Tensor();
        auto ptr = [](const Tensor& v) { return v.defined() ? v.data_ptr<float>() : nullptr; };
        Tensor l = empty(Shape{n}), l_ref = empty(Shape{n});
        ops::cpu::PointLossArgs<float> a{ptr(x), ptr(t), ptr(w), ptr(pw), l.data_ptr<float>(), n};
        ops::cpu::point_loss_forward(kind, a);
        a.loss = l_ref.data_ptr<float>();
        ops::cpu::point_loss_forward_ref<float>(kind, a);
        EXPECT_CLOSE(l, l_ref, 1e-5, 1e-5);
        Tensor g = randn(Shape{n}, gen);
        Tensor dx = empty(Shape{n}), dt = empty(Shape{n}), dx_ref = empty(Shape{n}),
               dt_ref = empty(Shape{n});
        ops::cpu::PointLossBackwardArgs<float> b{ptr(x),
                                                 ptr(t),
                                                 ptr(w),
                                                 ptr(pw),
                                                 g.data_ptr<float>(),
                                                 1,
                                                 0.25,
                                                 dx.data_ptr<float>(),
                                                 dt.data_ptr<float>(),
                                                 n};
        ops::cpu::point_loss_backward(kind, b);
        b.dx = dx_ref.data_ptr<float>();
        b.dt = dt_ref.data_ptr<float>();
        ops::cpu::point_loss_backward_ref<float>(kind, b);
        EXPECT_CLOSE(dx, dx_ref, 1e-5, 1e-4);
        EXPECT_CLOSE(dt, dt_ref, 1e-5, 1e-4);
      }
}

TEST(PointLoss, ReductionsAndBroadcastWeights) {
  Generator gen(9);
  Tensor x = randn(Shape{3, 4}, gen), t = rand(Shape{3, 4}, gen);
  const double total = mse_loss(x, t, Reduction::sum).item();
  EXPECT_NEAR(mse_loss(x, t).item(), total / 12.0, 1e-6);
  EXPECT_EQ(mse_loss(x, t, Reduction::none).shape(), x.shape());
  EXPECT_TRUE(std::isnan(mse_loss(zeros(Shape{0}), zeros(Shape{0})).item()));
  // A (4) pos_weight broadcasts along the rows exactly like an expanded one.
  Tensor pw = add(rand(Shape{4}, gen), 0.5);
  EXPECT_CLOSE(binary_cross_entropy_with_logits(x, t, {}, pw, Reduction::none),
               binary_cross_entropy_with_logits(x, t, {}, pw.expand(Shape{3, 4}).contiguous(),
                                                Reduction::none),
               0.0, 0.0);
  // batchmean divides the sum by the batch size.
  Tensor lp = mul(rand(Shape{3, 4}, gen), -1.0);
  EXPECT_NEAR(kl_div(lp, t, Reduction::batchmean).item(),
              kl_div(lp, t, Reduction::sum).item() / 3.0, 1e-6);
  // kl_div with a zero target contributes exactly 0 for that element.
  Tensor tz = from_vector<float>({0.0f, 0.5f});
  Tensor xz = from_vector<float>({-3.0f, -0.7f});
  EXPECT_EQ(to_floats(kl_div(xz, tz, Reduction::none))[0], 0.0f);
  // bce clamps its logs at -100.
  EXPECT_NEAR(binary_cross_entropy(from_vector<float>({0.0f}), from_vector<float>({1.0f})).item(),
              100.0, 1e-4);
}

// ---------------------------------------------------------------- errors

void class_loss_errors(const char* op) {
  const bool ce = std::string(op) == "cross_entropy";
  auto call = [ce](const Tensor& x, const Tensor& t, const Tensor& w = {}, int64_t ig = -100,
                   Reduction r = Reduction::mean, double ls = 0.0) {
    return ce ? cross_entropy(x, t, w, ig, r, ls) : nll_loss(x, t, w, ig, r);
  };
  Tensor x = zeros(Shape{4, 5}), t = zeros(Shape{4}, DType::i64);
  expect_error<DTypeError>([&] { call(x.to(DType::i64), t); }, {op, "i64"});
  expect_error<ValueError>([&] { call(Tensor(), t); }, {op, "undefined"});
  expect_error<ShapeError>([&] { call(scalar_tensor(1.0), zeros(Shape{}, DType::i64)); },
                           {op, "at least 1 dim"});
  expect_error<ValueError>([&] { call(x, Tensor()); }, {op, "target is undefined"});
  expect_error<DTypeError>([&] { call(x, zeros(Shape{4})); }, {op, "target must be i64", "f32"});
  expect_error<ShapeError>([&] { call(x, zeros(Shape{5}, DType::i64)); },
                           {op, "target must have shape (4)", "got (5)"});
  expect_error<ShapeError>(
      [&] {
        call(zeros(Shape{2, 5, 3}), zeros(Shape{2, 4}, DType::i64));
      },
      {op, "(2, 3)", "got (2, 4)"});
  expect_error<ShapeError>([&] { call(zeros(Shape{5}), zeros(Shape{1}, DType::i64)); },
                           {op, "shape ()"});
  expect_error<DTypeError>([&] { call(x, t, zeros(Shape{5}, DType::f64)); }, {op, "weight", "f64"});
  expect_error<ShapeError>([&] { call(x, t, zeros(Shape{4})); },
                           {op, "weight must have shape (5)", "got (4)"});
  Tensor wg = ones(Shape{5}).requires_grad_(true);
  expect_error<ValueError>([&] { call(x, t, wg); },
                           {op, "not differentiable with respect to weight"});
  {
    NoGradGuard ng;  // without grad mode a weight that requires grad is fine
    EXPECT_NO_THROW(call(x, t, wg));
  }
  expect_error<ValueError>([&] { call(x, t, {}, -100, Reduction::batchmean); }, {op, "batchmean"});
  expect_error<IndexError>(
      [&] {
        call(x, from_vector<int64_t>({0, 5, 1, 2}));
      },
      {op, "target 5", "5 classes"});
  expect_error<IndexError>(
      [&] {
        call(x, from_vector<int64_t>({0, -1, 1, 2}));
      },
      {op, "target -1"});
  EXPECT_NO_THROW(call(x, from_vector<int64_t>({0, -1, 1, 2}), {}, -1));
  if (ce) {
    expect_error<ValueError>([&] { call(x, t, {}, -100, Reduction::mean, -0.1); },
                             {op, "label_smoothing", "-0.1"});
    expect_error<ValueError>([&] { call(x, t, {}, -100, Reduction::mean, 1.5); },
                             {op, "label_smoothing", "1.5"});
  }
}

TEST(LossErrors, CrossEntropy) {
  class_loss_errors("cross_entropy");
}
TEST(LossErrors, NllLoss) {
  class_loss_errors("nll_loss");
}

TEST(LossErrors, PointLosses) {
  Tensor x = full(Shape{2, 3}, 0.5), t = full(Shape{2, 3}, 0.25);
  using Fn = Tensor (*)(const Tensor&, const Tensor&);
  const std::pair<const char*, Fn> ops[] = {
      {"mse_loss", [](const Tensor& a, const Tensor& b) { return mse_loss(a, b); }},
      {"binary_cross_entropy",
       [](const Tensor& a, const Tensor& b) { return binary_cross_entropy(a, b); }},
      {"binary_cross_entropy_with_logits",
       [](const Tensor& a, const Tensor& b) { return binary_cross_entropy_with_logits(a, b); }},
      {"kl_div", [](const Tensor& a, const Tensor& b) { return kl_div(a, b); }}};
  for (const auto& [op, f] : ops) {
    SCOPED_TRACE(op);
    expect_error<DTypeError>([&] { f(x.to(DType::i64), t); }, {op, "input must be f32 or f64"});
    expect_error<DTypeError>([&] { f(x, t.to(DType::i64)); }, {op, "target must be f32 or f64"});
    expect_error<DTypeError>([&] { f(x, t.to(DType::f64)); }, {op, "target must have the dtype"});
    expect_error<ShapeError>([&] { f(x, zeros(Shape{3})); },
                             {op, "target must have the shape of input (2, 3)", "(3)"});
    expect_error<ValueError>([&] { f(Tensor(), t); }, {op, "undefined"});
  }
  for (const char* op : {"mse_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits"}) {
    const std::string name = op;
    expect_error<ValueError>(
        [&] {
          if (name == "mse_loss")
            mse_loss(x, t, Reduction::batchmean);
          else if (name == "binary_cross_entropy")
            binary_cross_entropy(x, t, {}, Reduction::batchmean);
          else
            binary_cross_entropy_with_logits(x, t, {}, {}, Reduction::batchmean);
        },
        {op, "batchmean"});
  }
  EXPECT_NO_THROW(kl_div(x, t, Reduction::batchmean));
  // binary_cross_entropy: input range, weight checks.
  expect_error<ValueError>([&] { binary_cross_entropy(full(Shape{2}, 1.5), full(Shape{2}, 0.5)); },
                           {"binary_cross_entropy", "[0, 1]", "1.5", "flat index 0"});
  expect_error<ValueError>([&] { binary_cross_entropy(full(Shape{2}, NAN), full(Shape{2}, 0.5)); },
                           {"binary_cross_entropy", "[0, 1]"});
  expect_error<ShapeError>([&] { binary_cross_entropy(x, t, ones(Shape{2})); },
                           {"binary_cross_entropy", "weight of shape (2)", "(2, 3)"});
  expect_error<ShapeError>(
      [&] {
        binary_cross_entropy(x, t, ones(Shape{4, 2, 3}));
      },
      {"binary_cross_entropy", "weight of shape (4, 2, 3)"});
  expect_error<DTypeError>([&] { binary_cross_entropy(x, t, ones(Shape{3}, DType::f64)); },
                           {"binary_cross_entropy", "weight must have the dtype"});
  Tensor wg = ones(Shape{3}).requires_grad_(true);
  expect_error<ValueError>([&] { binary_cross_entropy(x, t, wg); },
                           {"binary_cross_entropy", "not differentiable with respect to weight"});
  // binary_cross_entropy_with_logits: weight and pos_weight.
  const char* bl = "binary_cross_entropy_with_logits";
  expect_error<ShapeError>([&] { binary_cross_entropy_with_logits(x, t, {}, ones(Shape{2})); },
                           {bl, "pos_weight of shape (2)"});
  expect_error<ShapeError>([&] { binary_cross_entropy_with_logits(x, t, ones(Shape{5})); },
                           {bl, "weight of shape (5)"});
  expect_error<DTypeError>(
      [&] { binary_cross_entropy_with_logits(x, t, {}, ones(Shape{3}, DType::f64)); },
      {bl, "pos_weight must have the dtype"});
  expect_error<ValueError>([&] { binary_cross_entropy_with_logits(x, t, {}, wg); },
                           {bl, "not differentiable with respect to pos_weight"});
  expect_error<ValueError>([&] { binary_cross_entropy_with_logits(x, t, wg); },
                           {bl, "not differentiable with respect to weight"});
}


// A CPU tensor relabelled as a CUDA one, to reach the device checks of a CPU-only build.
Tensor fake_cuda(const Tensor& t) {
  Tensor c = t.clone();
  c.impl()->device = Device::cuda;
  return c;
}

TEST(LossErrors, DeviceChecksNameTheArgument) {
  Tensor x = zeros(Shape{4, 5}), t = zeros(Shape{4}, DType::i64), w = ones(Shape{5});
  auto expect_device = [](const auto& f, const std::string& needle) {
    try {
      f();
      ADD_FAILURE() << "no DeviceError mentioning " << needle;
    } catch (const DeviceError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_device([&] { cross_entropy(x, fake_cuda(t)); }, "cross_entropy: target is on cuda");
  expect_device([&] { nll_loss(x, t, fake_cuda(w)); }, "nll_loss: weight is on cuda");
  Tensor p = full(Shape{2, 3}, 0.5);
  expect_device([&] { binary_cross_entropy(p, p, fake_cuda(ones(Shape{3}))); },
                "binary_cross_entropy: weight is on cuda");
  expect_device([&] { binary_cross_entropy_with_logits(p, p, {}, fake_cuda(ones(Shape{3}))); },
                "binary_cross_entropy_with_logits: pos_weight is on cuda");
  expect_device([&] { mse_loss(p, fake_cuda(p)); }, "mse_loss: target is on cuda");
}

}  // namespace
}  // namespace cf
