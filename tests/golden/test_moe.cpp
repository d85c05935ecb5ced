// PyTorch parity for nn::MoEFeedForward: tools/golden/gen_moe.py writes under
// CFORMER_GOLDEN_DIR/moe/ a twin that loops over the experts (top-1 and top-2, with and without
// capacity dropping, normalized gates, gelu and relu). The state_dict loads strictly (the names
// map 1:1); output, aux_loss, z_loss, the gradient of every parameter and of x, the per-expert
// counts and the dropped assignments must match. f32, f32 with a non-contiguous x, and f64.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cformer/autograd.h"
#include "cformer/efficient_attention.h"
#include "support/expect_close.h"
#include "support/golden.h"
#include "support/gradcheck.h"

namespace cf::nn {
namespace {

enum class Mode { f32, noncontiguous, f64 };

void check_case(const cf::testing::GoldenFile& c, Mode mode) {
  SCOPED_TRACE(c.file + (mode == Mode::f32   ? " (f32)"
                         : mode == Mode::f64 ? " (f64)"
                                             : " (f32 non-contiguous)"));
  const DType dtype = mode == Mode::f64 ? DType::f64 : DType::f32;
  const nlohmann::json& cfg = c.config;
  MoEOptions o;
  o.top_k = cfg["top_k"];
  o.capacity_factor = cfg["capacity_factor"];
  o.normalize_gates = cfg["normalize_gates"];
  o.activation = parse_activation(cfg["activation"]);
  Generator gen(1234);
  MoEFeedForward m(cfg["embed_dim"], cfg["ffn_dim"], cfg["num_experts"], gen, o, dtype);
  StateDict state;
  for (const auto& [name, t] : c.data.tensors)
    if (name.rfind("param.", 0) == 0) state.emplace_back(name.substr(6), t.to(dtype));
  m.load_state_dict(state);
  const Tensor x0 = c.data.at("input.x").to(dtype);
  Tensor x = mode == Mode::noncontiguous ? cf::testing::make_noncontiguous(x0) : x0.clone();
  x.requires_grad_(true);
  const Tensor out = m.forward(x);
  const double slack = mode == Mode::f64 ? 4.0 : 1.0;
  EXPECT_CLOSE(out, c.data.at("out.0"), 2e-5 * slack, 1e-4 * slack);
  EXPECT_CLOSE(m.aux_loss, c.data.at("out.1"), 2e-5 * slack, 1e-4 * slack);
  EXPECT_CLOSE(m.z_loss, c.data.at("out.2"), 2e-5 * slack, 1e-4 * slack);
  EXPECT_EQ(m.expert_counts, cfg["expert_counts"].get<std::vector<int64_t>>());
  EXPECT_EQ(m.dropped, cfg["dropped"].get<int64_t>());
  autograd::backward({out, m.aux_loss, m.z_loss},
                     {c.data.at("gout.0").to(dtype), c.data.at("gout.1").to(dtype),
                      c.data.at("gout.2").to(dtype)});
  int checked = 0;
  for (const auto& [name, p] : m.named_parameters()) {
    SCOPED_TRACE("gradient of parameter " + name);
    ASSERT_TRUE(c.data.contains("grad.param." + name));
    // An expert that received no token gets no gradient (torch: None, written as zeros).
    const Tensor g = p.grad().defined() ? p.grad() : zeros(p.shape(), dtype);
    EXPECT_CLOSE(g, c.data.at("grad.param." + name), 1e-4 * slack, 1e-3 * slack);
    ++checked;
  }
  EXPECT_EQ(checked, 1 + 4 * cfg["num_experts"].get<int>());
  EXPECT_CLOSE(x.grad(), c.data.at("grad.input.x"), 1e-4 * slack, 1e-3 * slack);
}

void check_all(Mode mode) {
  const auto cases = cf::testing::load_golden_files("moe");
  EXPECT_EQ(cases.size(), 4u);
  for (const auto& c : cases) {
    try {
      check_case(c, mode);
    } catch (const std::exception& e) {
      ADD_FAILURE() << c.file << ": " << e.what();
    }
  }
}

TEST(MoEModuleParity, F32) {
  check_all(Mode::f32);
}
TEST(MoEModuleParity, F32NonContiguousInput) {
  check_all(Mode::noncontiguous);
}
TEST(MoEModuleParity, F64) {
  check_all(Mode::f64);
}

}  // namespace
}  // namespace cf::nn
