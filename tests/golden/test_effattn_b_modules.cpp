// PyTorch parity for nn::AxialAttention and nn::PerformerAttention (fixed projection, eval): the
// files tools/golden/gen_effattn_b_modules.py writes under CFORMER_GOLDEN_DIR/effattn_b/ hold the
// twin's state_dict (loaded strictly: the names map 1:1), the input, the output and the gradients
// of every parameter and of the input. f32, f32 with a non-contiguous input, and f64.
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

std::shared_ptr<Module> build(const nlohmann::json& c, DType dtype, Generator& gen) {
  const std::string kind = c["module"];
  if (kind == "axial") return std::make_shared<AxialAttention>(c["embed_dim"], c["num_heads"], gen, dtype);
  PerformerAttentionOptions o;
  o.nb_features = c["nb_features"];
  o.causal = c["causal"];
  auto m = std::make_shared<PerformerAttention>(c["embed_dim"], c["num_heads"], gen, o, dtype);
  m->eval();
  return m;
}

Tensor call(Module& m, const nlohmann::json& c, const Tensor& x) {
  if (c["module"] == "axial") return static_cast<AxialAttention&>(m).forward(x);
  return static_cast<PerformerAttention&>(m).forward(x);
}

void check_case(const cf::testing::GoldenFile& c, Mode mode) {
  SCOPED_TRACE(c.file + (mode == Mode::f32   ? " (f32)"
                         : mode == Mode::f64 ? " (f64)"
                                             : " (f32 non-contiguous)"));
  const DType dtype = mode == Mode::f64 ? DType::f64 : DType::f32;
  Generator gen(1234);
  std::shared_ptr<Module> m = build(c.config, dtype, gen);
  StateDict state;
  for (const auto& [name, t] : c.data.tensors)
    if (name.rfind("param.", 0) == 0) state.emplace_back(name.substr(6), t.to(dtype));
  m->load_state_dict(state);
  const Tensor x0 = c.data.at("input.x").to(dtype);
  Tensor x = mode == Mode::noncontiguous ? cf::testing::make_noncontiguous(x0) : x0.clone();
  x.requires_grad_(true);
  const Tensor out = call(*m, c.config, x);
  const double slack = mode == Mode::f64 ? 4.0 : 1.0;
  EXPECT_CLOSE(out, c.data.at("out.0"), 2e-5 * slack, 1e-4 * slack);
  out.backward(c.data.at("gout.0").to(dtype));
  int checked = 0;
  for (const auto& [name, p] : m->named_parameters()) {
    SCOPED_TRACE("gradient of parameter " + name);
    ASSERT_TRUE(c.data.contains("grad.param." + name));
    EXPECT_CLOSE(p.grad(), c.data.at("grad.param." + name), 1e-4 * slack, 1e-3 * slack);
    ++checked;
  }
  EXPECT_CLOSE(x.grad(), c.data.at("grad.input.x"), 1e-4 * slack, 1e-3 * slack);
  EXPECT_GE(checked, 8);
}

void check_all(Mode mode) {
  const auto cases = cf::testing::load_golden_files("effattn_b");
  EXPECT_EQ(cases.size(), 4u);
  for (const auto& c : cases) {
    try {
      check_case(c, mode);
    } catch (const std::exception& e) {
      ADD_FAILURE() << c.file << ": " << e.what();
    }
  }
}

TEST(EffattnBModuleParity, F32) { check_all(Mode::f32); }
TEST(EffattnBModuleParity, F32NonContiguousInput) { check_all(Mode::noncontiguous); }
TEST(EffattnBModuleParity, F64) { check_all(Mode::f64); }

}  // namespace
}  // namespace cf::nn
