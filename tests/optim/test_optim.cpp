// Optimizers: the fused f32 kernels against the double reference on edge sizes, the f64 path,
// hyperparameter checks, parameter groups, schedules, clipping, and state_dict resume.
#include <gtest/gtest.h>

#include <cmath>

#include "cformer/cformer.h"
#include "cformer/io.h"
#include "cformer/optim.h"
#include "ops/optim.h"
#include "support/expect_close.h"

namespace cf::optim {
namespace {

using cf::testing::all_close;

std::vector<float> rnd(int64_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  Generator g(seed);
  Tensor t = rand(Shape{n}, g);
  std::vector<float> v = t.to_vector<float>();
  for (float& x : v) x = lo + (hi - lo) * x;
  return v;
}

void expect_vec_close(const std::vector<float>& a, const std::vector<float>& b, double tol,
                      const char* what) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    ASSERT_NEAR(a[i], b[i], tol * (1.0 + std::fabs(b[i]))) << what << " index " << i;
}

TEST(OptimKernels, SgdMatchesReference) {
  for (int64_t n : {0, 1, 15, 17, 33, 1000, 70001})
    for (int variant = 0; variant < 4; ++variant) {
      SCOPED_TRACE("n=" + std::to_string(n) + " variant=" + std::to_string(variant));
      std::vector<float> p = rnd(n, 1), g = rnd(n, 2), buf = rnd(n, 3);
      std::vector<float> p2 = p, buf2 = buf;
      ops::cpu::SgdArgs<float> a{p.data(),
                                 g.data(),
                                 buf.data(),
                                 n,
                                 0.1,
                                 0.9,
                                 variant == 1 ? 0.3 : 0.0,
                                 variant >= 2 ? 0.01 : 0.0,
                                 variant == 2,
                                 variant == 3,
                                 variant == 3};
      ops::cpu::SgdArgs<float> r = a;
      r.param = p2.data();
      r.momentum_buf = buf2.data();
      ops::cpu::sgd_step(a);
      ops::cpu::sgd_step_ref(r);
      expect_vec_close(p, p2, 1e-6, "param");
      expect_vec_close(buf, buf2, 1e-6, "momentum_buf");
    }
}

TEST(OptimKernels, AdamMatchesReference) {
  for (int64_t n : {0, 1, 15, 17, 33, 1000, 70001})
    for (int variant = 0; variant < 4; ++variant) {
      SCOPED_TRACE("n=" + std::to_string(n) + " variant=" + std::to_string(variant));
      std::vector<float> p = rnd(n, 4), g = rnd(n, 5), m = rnd(n, 6, -0.1f, 0.1f),
                         v = rnd(n, 7, 0.0f, 0.01f), vmax = rnd(n, 8, 0.0f, 0.01f);
      std::vector<float> p2 = p, m2 = m, v2 = v, vmax2 = vmax;
      ops::cpu::AdamArgs<float> a{p.data(),
                                  g.data(),
                                  m.data(),
                                  v.data(),
                                  variant == 2 ? vmax.data() : nullptr,
                                  n,
                                  3 + variant,
                                  1e-2,
                                  0.9,
                                  0.95,
                                  1e-8,
                                  variant == 0 ? 0.0 : 0.1,
                                  variant == 1,
                                  variant == 3};
      ops::cpu::AdamArgs<float> r = a;
      r.param = p2.data();
      r.exp_avg = m2.data();
      r.exp_avg_sq = v2.data();
      r.max_exp_avg_sq = variant == 2 ? vmax2.data() : nullptr;
      ops::cpu::adam_step(a);
      ops::cpu::adam_step_ref(r);
      expect_vec_close(p, p2, 1e-6, "param");
      expect_vec_close(m, m2, 1e-6, "exp_avg");
      expect_vec_close(v, v2, 1e-6, "exp_avg_sq");
      if (variant == 2) expect_vec_close(vmax, vmax2, 1e-6, "max_exp_avg_sq");
    }
}

TEST(OptimKernels, SumSquaresMatchesReference) {
  for (int64_t n : {0, 1, 15, 17, 1023, 1025, 100003}) {
    std::vector<float> x = rnd(n, 9);
    const double ref = ops::cpu::sum_squares_ref(x.data(), n);
    EXPECT_NEAR(ops::cpu::sum_squares(x.data(), n), ref, 1e-6 * (1.0 + ref)) << n;
  }
}

/// Two named f32 parameters with gradients.
struct Params {
  Tensor w = from_vector<float>({0.5f, -1.0f, 2.0f, 0.25f, -0.75f, 1.5f}, Shape{2, 3});
  Tensor b = from_vector<float>({0.1f, -0.2f});
  Params() {
    w.requires_grad_();
    b.requires_grad_();
  }
  std::vector<nn::NamedTensor> named() const { return {{"w", w}, {"b", b}}; }
  void set_grads(int step) {
    std::vector<float> gw(6), gb(2);
    for (int i = 0; i < 6; ++i) gw[i] = std::sin(1.3f * i + step);
    for (int i = 0; i < 2; ++i) gb[i] = std::cos(0.7f * i - step);
    w.set_grad(from_vector<float>(gw, Shape{2, 3}));
    b.set_grad(from_vector<float>(gb));
  }
};

TEST(Optimizer, SgdFirstStepBufferIsGradient) {
  Params ps;
  SGDOptions o;
  o.lr = 0.5;
  o.momentum = 0.9;
  o.dampening = 0.5;  // not applied on the first step (torch clones the gradient)
  SGD sgd(ps.named(), o);
  ps.set_grads(0);
  const Tensor w0 = ps.w.detach().clone(), g0 = ps.w.grad().clone();
  sgd.step();
  EXPECT_CLOSE(ps.w, sub(w0, mul(g0, 0.5)), 1e-7, 1e-6);
  EXPECT_CLOSE(sgd.state("w")->momentum_buffer, g0, 0, 0);
  EXPECT_EQ(sgd.state("w")->step, 1);
}

TEST(Optimizer, SkipsParametersWithoutGradient) {
  Params ps;
  Adam adam(ps.named(), AdamOptions{});
  ps.set_grads(0);
  ps.b.set_grad(Tensor());
  const Tensor b0 = ps.b.detach().clone();
  const uint64_t v = ps.w.version();
  adam.step();
  EXPECT_CLOSE(ps.b, b0, 0, 0);
  EXPECT_EQ(adam.state("b"), nullptr);
  ASSERT_NE(adam.state("w"), nullptr);
  EXPECT_GT(ps.w.version(), v);  // in-place update bumps the version
  EXPECT_FALSE(ps.w.grad_fn());  // no history
  adam.zero_grad();
  EXPECT_FALSE(ps.w.grad().defined());
}

TEST(Optimizer, F64ParametersUseTheReferencePath) {
  Tensor p = from_vector<double>({1.0, -2.0, 3.0}).requires_grad_();
  p.set_grad(from_vector<double>({0.5, 0.5, -1.0}));
  AdamOptions o;
  o.lr = 0.1;
  AdamW opt(std::vector<nn::NamedTensor>{{"p", p}}, o);
  opt.step();
  // First Adam step: m/(sqrt(v)+eps) with bias correction = sign(g) (up to eps), decay 1 - lr wd.
  const double eps_term = 1e-8;
  std::vector<double> want;
  for (auto [x, g] : {std::pair{1.0, 0.5}, {-2.0, 0.5}, {3.0, -1.0}})
    want.push_back(x * (1 - 0.1 * 0.0) - 0.1 * g / (std::fabs(g) + eps_term));
  EXPECT_CLOSE(p, from_vector<double>(want), 1e-12, 1e-12);
}

TEST(Optimizer, ConstructorChecks) {
  Params ps;
  SGDOptions s;
  s.nesterov = true;
  EXPECT_THROW(SGD(ps.named(), s), ValueError);  // nesterov without momentum
  s.momentum = 0.9;
  s.dampening = 0.1;
  EXPECT_THROW(SGD(ps.named(), s), ValueError);  // nesterov with dampening
  SGDOptions neg;
  neg.lr = -1;
  EXPECT_THROW(SGD(ps.named(), neg), ValueError);
  AdamOptions a;
  a.beta1 = 1.0;
  EXPECT_THROW(Adam(ps.named(), a), ValueError);
  EXPECT_THROW(Adam(std::vector<nn::NamedTensor>{}, AdamOptions{}), ValueError);
  EXPECT_THROW(Adam(std::vector<nn::NamedTensor>{{"w", ps.w}, {"w", ps.b}}, AdamOptions{}),
               ValueError);
  EXPECT_THROW(Adam(std::vector<nn::NamedTensor>{{"w", ps.w}, {"w2", ps.w}}, AdamOptions{}),
               ValueError);
  Tensor nonleaf = mul(ps.w, 2.0);
  EXPECT_THROW(Adam(std::vector<nn::NamedTensor>{{"x", nonleaf}}, AdamOptions{}), ValueError);
  Tensor ints = zeros(Shape{2}, DType::i64);
  EXPECT_THROW(Adam(std::vector<nn::NamedTensor>{{"i", ints}}, AdamOptions{}), DTypeError);
}

TEST(Optimizer, AddParamGroup) {
  Params ps;
  AdamOptions o;
  o.lr = 0.1;
  o.weight_decay = 0.01;
  AdamW opt(std::vector<nn::NamedTensor>{{"w", ps.w}}, o);
  opt.add_param_group(ParamGroup{{{"b", ps.b}}, 0.5, std::nullopt, 0.0});
  ASSERT_EQ(opt.param_groups().size(), 2u);
  EXPECT_DOUBLE_EQ(*opt.param_groups()[1].lr, 0.5);
  EXPECT_DOUBLE_EQ(opt.param_groups()[1].initial_lr, 0.5);
  EXPECT_DOUBLE_EQ(*opt.param_groups()[1].weight_decay, 0.01);
  EXPECT_THROW(opt.add_param_group(ParamGroup{{{"w", ps.b}}, {}, {}, 0.0}), ValueError);
  EXPECT_THROW(opt.add_param_group(ParamGroup{{{"w2", ps.w}}, {}, {}, 0.0}), ValueError);
  ps.set_grads(0);
  opt.step();
  EXPECT_EQ(opt.state("b")->step, 1);
}

TEST(Optimizer, WeightDecayGroupsByDimensionality) {
  Generator gen(1);
  nn::Sequential model;
  model.push_back(std::make_shared<nn::Linear>(4, 8, true, gen));
  model.push_back(std::make_shared<nn::LayerNorm>(Shape{8}));
  model.push_back(std::make_shared<nn::Embedding>(5, 8, gen));
  auto groups = weight_decay_groups(model.named_parameters(), 0.1);
  ASSERT_EQ(groups.size(), 2u);
  std::vector<std::string> decay, no_decay;
  for (auto& nt : groups[0].params) decay.push_back(nt.first);
  for (auto& nt : groups[1].params) no_decay.push_back(nt.first);
  EXPECT_EQ(decay, (std::vector<std::string>{"0.weight", "2.weight"}));
  EXPECT_EQ(no_decay, (std::vector<std::string>{"0.bias", "1.weight", "1.bias"}));
  AdamOptions o;
  o.lr = 3e-4;
  AdamW opt(groups, o);
  EXPECT_DOUBLE_EQ(*opt.param_groups()[0].weight_decay, 0.1);
  EXPECT_DOUBLE_EQ(*opt.param_groups()[1].weight_decay, 0.0);
  EXPECT_DOUBLE_EQ(*opt.param_groups()[1].lr, 3e-4);
  EXPECT_DOUBLE_EQ(opt.param_groups()[1].initial_lr, 3e-4);
}

TEST(Optimizer, GradientAccumulationEqualsOneStepOnTheWholeBatch) {
  Generator gen(2);
  nn::Linear a(3, 2, true, gen), b(3, 2, true, gen);
  b.load_state_dict(a.state_dict());
  Tensor x = randn(Shape{4, 3}, gen);
  SGD sa(a.named_parameters(), SGDOptions{0.1});
  SGD sb(b.named_parameters(), SGDOptions{0.1});
  sum(a.forward(x)).backward();
  for (int k = 0; k < 4; ++k) sum(b.forward(x.narrow(0, k, 1))).backward();  // accumulates
  sa.step();
  sb.step();
  EXPECT_CLOSE(b.weight, a.weight, 1e-6, 1e-5);
  EXPECT_CLOSE(b.bias, a.bias, 1e-6, 1e-5);
}

TEST(Schedule, WarmupCosineAndLinear) {
  LRSchedule c = LRSchedule::warmup_cosine(10, 110, 0.1);
  EXPECT_DOUBLE_EQ(c.factor(0), 0.1);
  EXPECT_DOUBLE_EQ(c.factor(9), 1.0);
  EXPECT_DOUBLE_EQ(c.factor(10), 1.0);
  EXPECT_NEAR(c.factor(60), 0.1 + 0.9 * 0.5, 1e-12);
  EXPECT_NEAR(c.factor(109), 0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * 99 / 100)), 1e-12);
  EXPECT_DOUBLE_EQ(c.factor(110), 0.1);
  EXPECT_DOUBLE_EQ(c.factor(1000), 0.1);
  LRSchedule l = LRSchedule::warmup_linear(0, 100, 0.0);
  EXPECT_DOUBLE_EQ(l.factor(0), 1.0);
  EXPECT_DOUBLE_EQ(l.factor(25), 0.75);
  EXPECT_DOUBLE_EQ(l.factor(100), 0.0);
  EXPECT_DOUBLE_EQ(LRSchedule::constant().factor(12345), 1.0);
  EXPECT_THROW(LRSchedule::warmup_cosine(10, 5, 0.1), ValueError);
  EXPECT_THROW(LRSchedule::warmup_linear(0, 5, 1.5), ValueError);
  Params ps;
  std::vector<ParamGroup> groups{{{{"w", ps.w}}, 1e-3, std::nullopt, 0.0},
                                 {{{"b", ps.b}}, 2e-3, std::nullopt, 0.0}};
  AdamW opt(groups);
  c.apply(opt, 60);
  EXPECT_NEAR(*opt.param_groups()[0].lr, 1e-3 * 0.55, 1e-15);
  EXPECT_NEAR(*opt.param_groups()[1].lr, 2e-3 * 0.55, 1e-15);
}

TEST(Clip, GlobalNormAndScaling) {
  Tensor a = from_vector<float>({3, 0}).requires_grad_(),
         b = from_vector<float>({4}).requires_grad_();
  Tensor c = from_vector<float>({7}).requires_grad_();  // no gradient: skipped
  a.set_grad(from_vector<float>({3, 0}));
  b.set_grad(from_vector<float>({4}));
  EXPECT_NEAR(grad_norm({a, b, c}), 5.0, 1e-12);
  EXPECT_NEAR(clip_grad_norm_({a, b, c}, 10.0), 5.0, 1e-12);
  EXPECT_CLOSE(a.grad(), from_vector<float>({3, 0}), 0, 0);  // below max_norm: unchanged
  EXPECT_NEAR(clip_grad_norm_({a, b, c}, 1.0), 5.0, 1e-12);
  const double coef = 1.0 / (5.0 + 1e-6);
  EXPECT_CLOSE(a.grad(), from_vector<float>({static_cast<float>(3 * coef), 0}), 1e-7, 1e-6);
  EXPECT_CLOSE(b.grad(), from_vector<float>({static_cast<float>(4 * coef)}), 1e-7, 1e-6);
  EXPECT_THROW(clip_grad_norm_({a}, -1.0), ValueError);
  // A non-contiguous f64 gradient and a large one (threaded kernel).
  Tensor d = zeros(Shape{3, 2}, DType::f64).requires_grad_();
  d.set_grad(from_vector<double>({1, 2, 3, 4, 5, 6}, Shape{2, 3}).t());
  EXPECT_NEAR(grad_norm({d}), std::sqrt(91.0), 1e-12);
  Tensor e = zeros(Shape{100000}).requires_grad_();
  e.set_grad(full(Shape{100000}, 0.5));
  EXPECT_NEAR(grad_norm({e}), std::sqrt(100000 * 0.25), 1e-6);
}

/// Runs `steps` Adam(amsgrad) steps from step `from` with the deterministic gradients.
void run_steps(Optimizer& opt, Params& ps, int from, int steps) {
  for (int s = from; s < from + steps; ++s) {
    ps.set_grads(s);
    opt.step();
  }
}

TEST(Optimizer, StateDictResumesExactly) {
  AdamOptions o;
  o.lr = 0.05;
  o.weight_decay = 0.1;
  o.amsgrad = true;
  Params ref;
  AdamW full_run(ref.named(), o);
  run_steps(full_run, ref, 0, 6);

  Params ps;
  AdamW first(ps.named(), o);
  run_steps(first, ps, 0, 3);
  first.param_groups()[0].lr = 0.05;  // (a schedule would set it here)
  // Through a safetensors image, as a checkpoint would go.
  io::NamedTensors model = io::parse_safetensors(
      io::serialize_safetensors({{"w", ps.w.detach()}, {"b", ps.b.detach()}}), "model");
  io::NamedTensors state =
      io::parse_safetensors(io::serialize_safetensors(first.state_dict()), "optim");
  Params resumed;
  {
    NoGradGuard ng;
    resumed.w.copy_(model.at("w"));
    resumed.b.copy_(model.at("b"));
  }
  AdamW second(resumed.named(), o);
  second.load_state_dict(state.tensors);
  EXPECT_EQ(second.state("w")->step, 3);
  run_steps(second, resumed, 3, 3);
  EXPECT_CLOSE(resumed.w, ref.w, 0, 0);
  EXPECT_CLOSE(resumed.b, ref.b, 0, 0);
  EXPECT_CLOSE(second.state("b")->max_exp_avg_sq, full_run.state("b")->max_exp_avg_sq, 0, 0);
}

TEST(Optimizer, LoadStateDictListsEveryProblem) {
  Params ps;
  SGDOptions o;
  o.momentum = 0.9;
  SGD sgd(ps.named(), o);
  run_steps(sgd, ps, 0, 1);
  nn::StateDict sd = sgd.state_dict();
  std::vector<std::string> names;
  for (auto& nt : sd) names.push_back(nt.first);
  EXPECT_EQ(names, (std::vector<std::string>{"param_groups.0.lr", "param_groups.0.weight_decay",
                                             "param_groups.0.initial_lr", "state.w.step",
                                             "state.w.momentum_buffer", "state.b.step",
                                             "state.b.momentum_buffer"}));
  nn::StateDict bad;
  for (auto& [n, t] : sd) {
    if (n == "state.b.momentum_buffer" || n == "param_groups.0.initial_lr") continue;
    if (n == "state.w.momentum_buffer")
      bad.emplace_back(n, zeros(Shape{3, 2}));
    else
      bad.emplace_back(n, t);
  }
  bad.emplace_back("state.v.step", scalar_tensor(1, DType::i64));
  bad.emplace_back("state.w.exp_avg", zeros(Shape{2, 3}));
  const Tensor buf_before = sgd.state("w")->momentum_buffer.clone();
  try {
    sgd.load_state_dict(bad);
    FAIL() << "no error";
  } catch (const ValueError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("5 problems"), std::string::npos) << msg;
    EXPECT_NE(msg.find("shape mismatch for state.w.momentum_buffer: expected (2, 3), got (3, 2)"),
              std::string::npos)
        << msg;
    EXPECT_NE(msg.find("unexpected key: state.v.step"), std::string::npos) << msg;
    EXPECT_NE(msg.find("unexpected key: state.w.exp_avg"), std::string::npos) << msg;
    EXPECT_NE(msg.find("missing key: state.b.momentum_buffer"), std::string::npos) << msg;
    EXPECT_NE(msg.find("missing key: param_groups.0.initial_lr"), std::string::npos) << msg;
  }
  EXPECT_CLOSE(sgd.state("w")->momentum_buffer, buf_before, 0, 0);
}

}  // namespace
}  // namespace cf::optim
