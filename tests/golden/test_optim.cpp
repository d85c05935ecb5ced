// PyTorch parity for the optimizers: the files tools/golden/gen_optim.py writes under
// CFORMER_GOLDEN_DIR/optim/ hold torch.optim's parameters after each of several steps on given
// gradients (some with clip_grad_norm_ before each step). Every case runs in f32 (fused kernels)
// and f64 (reference kernels), and once more stopped after 3 steps, checkpointed through a
// safetensors image and resumed in a fresh optimizer.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cformer/autograd.h"
#include "cformer/io.h"
#include "cformer/optim.h"
#include "support/expect_close.h"
#include "support/golden.h"

namespace cf::optim {
namespace {

const std::vector<std::string> kNames = {"w", "b", "emb", "scale"};

using Case = cf::testing::GoldenFile;

std::vector<Case> load_cases() { return cf::testing::load_golden_files("optim"); }

struct OptRun {
  std::map<std::string, Tensor> params;
  std::unique_ptr<Optimizer> opt;
};

OptRun make_run(const Case& c, DType dtype, const std::map<std::string, Tensor>* start = nullptr) {
  OptRun r;
  for (const auto& n : kNames) {
    Tensor init = start ? start->at(n) : c.data.at("init." + n);
    r.params[n] = init.to(dtype).clone().requires_grad_();
  }
  std::vector<ParamGroup> groups;
  for (const auto& g : c.config["groups"]) {
    ParamGroup pg;
    for (const auto& n : g["params"]) pg.params.emplace_back(n, r.params.at(n));
    if (g.contains("lr")) pg.lr = g["lr"].get<double>();
    if (g.contains("weight_decay")) pg.weight_decay = g["weight_decay"].get<double>();
    groups.push_back(std::move(pg));
  }
  const auto& o = c.config["options"];
  const std::string kind = c.config["optimizer"];
  if (kind == "sgd") {
    SGDOptions s;
    s.lr = o.value("lr", s.lr);
    s.momentum = o.value("momentum", 0.0);
    s.dampening = o.value("dampening", 0.0);
    s.weight_decay = o.value("weight_decay", 0.0);
    s.nesterov = o.value("nesterov", false);
    s.maximize = o.value("maximize", false);
    r.opt = std::make_unique<SGD>(std::move(groups), s);
  } else {
    AdamOptions a;
    a.lr = o.value("lr", a.lr);
    a.beta1 = o.value("beta1", a.beta1);
    a.beta2 = o.value("beta2", a.beta2);
    a.eps = o.value("eps", a.eps);
    a.weight_decay = o.value("weight_decay", 0.0);
    a.amsgrad = o.value("amsgrad", false);
    a.maximize = o.value("maximize", false);
    if (kind == "adam")
      r.opt = std::make_unique<Adam>(std::move(groups), a);
    else
      r.opt = std::make_unique<AdamW>(std::move(groups), a);
  }
  return r;
}

void run_steps(const Case& c, OptRun& r, int from, int to, double atol, double rtol) {
  const auto& sched = c.config["schedule"];
  for (int k = from; k < to; ++k) {
    SCOPED_TRACE("step " + std::to_string(k));
    if (!sched.is_null())
      LRSchedule::warmup_cosine(sched["warmup"], sched["total"], sched["min_ratio"])
          .apply(*r.opt, k);
    for (const auto& n : kNames) {
      const std::string key = "grad." + std::to_string(k) + "." + n;
      r.params[n].set_grad(c.data.contains(key) ? c.data.at(key).to(r.params[n].dtype()).clone()
                                                : Tensor());
    }
    if (!c.config["clip"].is_null()) {
      std::vector<Tensor> ps;
      for (const auto& n : kNames) ps.push_back(r.params[n]);
      const double norm = clip_grad_norm_(ps, c.config["clip"].get<double>());
      const double want = c.data.at("norm." + std::to_string(k)).item();
      EXPECT_NEAR(norm, want, 1e-5 * (1.0 + want)) << "clip_grad_norm_ total norm";
    }
    r.opt->step();
    for (const auto& n : kNames) {
      SCOPED_TRACE("parameter " + n);
      EXPECT_CLOSE(r.params[n], c.data.at("after." + std::to_string(k) + "." + n), atol, rtol);
    }
  }
}

void check_state(const Case& c, const OptRun& r, double atol, double rtol) {
  for (const auto& n : kNames) {
    const ParamState* s = r.opt->state(n);
    ASSERT_NE(s, nullptr) << n;
    for (const auto& [key, t] : c.data.tensors) {
      const std::string prefix = "state." + n + ".";
      if (key.rfind(prefix, 0) != 0) continue;
      const std::string field = key.substr(prefix.size());
      SCOPED_TRACE(key);
      if (field == "step") {
        EXPECT_EQ(s->step, static_cast<int64_t>(t.item()));
      } else {
        const Tensor& mine = field == "exp_avg"          ? s->exp_avg
                             : field == "exp_avg_sq"     ? s->exp_avg_sq
                             : field == "max_exp_avg_sq" ? s->max_exp_avg_sq
                                                         : s->momentum_buffer;
        ASSERT_TRUE(mine.defined()) << field;
        EXPECT_CLOSE(mine, t, atol, rtol);
      }
    }
  }
}

TEST(OptimParity, FilesArePresent) {
  const auto cases = load_cases();
  EXPECT_GE(cases.size(), 11u) << cf::testing::golden_dir() << "/optim";
}

TEST(OptimParity, StepsMatchTorchF32) {
  for (const Case& c : load_cases()) {
    SCOPED_TRACE(c.file);
    OptRun r = make_run(c, DType::f32);
    run_steps(c, r, 0, c.config["steps"], 1e-6, 1e-5);
    check_state(c, r, 1e-6, 1e-5);
  }
}

TEST(OptimParity, StepsMatchTorchF64) {
  for (const Case& c : load_cases()) {
    SCOPED_TRACE(c.file + " (f64)");
    OptRun r = make_run(c, DType::f64);
    run_steps(c, r, 0, c.config["steps"], 4e-6, 4e-5);
    check_state(c, r, 4e-6, 4e-5);
  }
}

TEST(OptimParity, ResumeFromCheckpointMatchesTorch) {
  for (const Case& c : load_cases()) {
    SCOPED_TRACE(c.file + " (resumed after 3 steps)");
    OptRun first = make_run(c, DType::f32);
    run_steps(c, first, 0, 3, 1e-6, 1e-5);
    std::map<std::string, Tensor> saved;
    for (const auto& n : kNames) saved[n] = first.params[n].detach().clone();
    const auto image = io::serialize_safetensors(first.opt->state_dict());
    OptRun second = make_run(c, DType::f32, &saved);
    second.opt->load_state_dict(io::parse_safetensors(image, "optimizer state").tensors);
    run_steps(c, second, 3, c.config["steps"], 1e-6, 1e-5);
    check_state(c, second, 1e-6, 1e-5);
  }
}

}  // namespace
}  // namespace cf::optim
