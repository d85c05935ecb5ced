// PyTorch parity for modules: the files tools/golden/gen_nn_modules.py writes under
// CFORMER_GOLDEN_DIR/nn/ hold a torch.nn layer's state_dict (loaded here strictly, so the
// parameter names must map 1:1), inputs, outputs, upstream gradients and the gradients of every
// parameter and float input. Each case runs in f32, in f32 with non-contiguous inputs, and in f64.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cformer/autograd.h"
#include "cformer/io.h"
#include "cformer/nn.h"
#include "support/expect_close.h"
#include "support/golden.h"
#include "support/gradcheck.h"

namespace cf::nn {
namespace {

using Case = cf::testing::GoldenFile;

std::vector<Case> load_cases() { return cf::testing::load_golden_files("nn"); }

enum class Mode { f32, noncontiguous, f64 };

std::shared_ptr<Module> build(const nlohmann::json& c, DType dtype, Generator& gen) {
  const std::string kind = c["module"];
  if (kind == "mha") {
    MultiheadAttentionOptions o;
    o.bias = c.value("bias", true);
    o.batch_first = c.value("batch_first", false);
    o.kdim = c.value("kdim", 0);
    o.vdim = c.value("vdim", 0);
    return std::make_shared<MultiheadAttention>(c["embed_dim"], c["num_heads"], gen, o, dtype);
  }
  if (kind == "encoder" || kind == "decoder") {
    TransformerLayerOptions o;
    o.dim_feedforward = c["dim_feedforward"];
    o.dropout = 0.0;
    o.activation = parse_activation(c["activation"]);
    o.layer_norm_eps = c["layer_norm_eps"];
    o.batch_first = c["batch_first"];
    o.norm_first = c["norm_first"];
    if (kind == "encoder")
      return std::make_shared<TransformerEncoderLayer>(c["d_model"], c["nhead"], gen, o, dtype);
    return std::make_shared<TransformerDecoderLayer>(c["d_model"], c["nhead"], gen, o, dtype);
  }
  if (kind == "linear") return std::make_shared<Linear>(c["in"], c["out"], c["bias"], gen, dtype);
  if (kind == "layer_norm") {
    Shape s;
    for (int64_t d : c["normalized_shape"]) s.push_back(d);
    return std::make_shared<LayerNorm>(s, c["eps"], true, true, dtype);
  }
  if (kind == "rms_norm") {
    Shape s;
    for (int64_t d : c["normalized_shape"]) s.push_back(d);
    return std::make_shared<RMSNorm>(s, c["eps"].get<double>(), true, dtype);
  }
  if (kind == "mlp") {
    return std::make_shared<MLP>(c["in"], c["hidden"], c["out"], gen,
                                 parse_activation(c["activation"]), 0.0, nullptr, true, dtype);
  }
  if (kind == "embedding")
    return std::make_shared<Embedding>(c["num"], c["dim"], gen, c["padding_idx"].get<int64_t>(),
                                       dtype);
  throw ValueError("test_nn_modules: unknown module kind " + kind);
}

std::vector<Tensor> call(Module& m, const nlohmann::json& c, std::map<std::string, Tensor>& in) {
  const auto& k = c["call"];
  auto arg = [&k, &in](const char* name) {
    return k.contains(name) ? in.at(k[name].get<std::string>()) : Tensor();
  };
  const std::string kind = c["module"];
  if (kind == "mha") {
    auto r = static_cast<MultiheadAttention&>(m).forward(
        arg("query"), arg("key"), arg("value"), arg("key_padding_mask"),
        k.value("need_weights", true), arg("attn_mask"), k.value("average_attn_weights", true),
        k.value("is_causal", false));
    if (r.weights.defined()) return {r.output, r.weights};
    return {r.output};
  }
  if (kind == "encoder")
    return {static_cast<TransformerEncoderLayer&>(m).forward(
        arg("src"), arg("src_mask"), arg("src_key_padding_mask"), k.value("is_causal", false))};
  if (kind == "decoder")
    return {static_cast<TransformerDecoderLayer&>(m).forward(
        arg("tgt"), arg("memory"), arg("tgt_mask"), arg("memory_mask"), arg("tgt_key_padding_mask"),
        arg("memory_key_padding_mask"), k.value("tgt_is_causal", false),
        k.value("memory_is_causal", false))};
  return {static_cast<UnaryModule&>(m).forward(arg("x"))};
}

void check_case(const Case& c, Mode mode) {
  SCOPED_TRACE(c.file + (mode == Mode::f32   ? " (f32)"
                         : mode == Mode::f64 ? " (f64)"
                                             : " (f32 non-contiguous)"));
  const DType dtype = mode == Mode::f64 ? DType::f64 : DType::f32;
  Generator gen(1234);
  std::shared_ptr<Module> m = build(c.config, dtype, gen);
  StateDict state;
  std::map<std::string, Tensor> inputs;
  for (const auto& [name, t] : c.data.tensors) {
    const Tensor v = t.is_floating_point() ? t.to(dtype) : t;
    if (name.rfind("param.", 0) == 0) state.emplace_back(name.substr(6), v);
    if (name.rfind("input.", 0) == 0) {
      const std::string in = name.substr(6);
      Tensor x = mode == Mode::noncontiguous ? cf::testing::make_noncontiguous(v) : v.clone();
      if (c.data.contains("grad.input." + in)) x.requires_grad_(true);
      inputs[in] = x;
    }
  }
  m->load_state_dict(state);  // strict: torch's names must all match
  std::vector<Tensor> out = call(*m, c.config, inputs);
  ASSERT_EQ(static_cast<int>(out.size()), c.config["n_out"].get<int>());
  const double slack = mode == Mode::f64 ? 4.0 : 1.0;
  std::vector<Tensor> roots, gouts;
  for (size_t j = 0; j < out.size(); ++j) {
    SCOPED_TRACE("output " + std::to_string(j));
    EXPECT_CLOSE(out[j], c.data.at("out." + std::to_string(j)), 2e-5 * slack, 1e-4 * slack);
    roots.push_back(out[j]);
    gouts.push_back(c.data.at("gout." + std::to_string(j)).to(dtype));
  }
  autograd::backward(roots, gouts);
  int checked = 0;
  for (const auto& [name, p] : m->named_parameters()) {
    SCOPED_TRACE("gradient of parameter " + name);
    ASSERT_TRUE(c.data.contains("grad.param." + name));
    ASSERT_TRUE(p.grad().defined());
    EXPECT_CLOSE(p.grad(), c.data.at("grad.param." + name), 1e-4 * slack, 1e-3 * slack);
    ++checked;
  }
  for (const auto& [name, x] : inputs) {
    if (!x.requires_grad()) continue;
    SCOPED_TRACE("gradient of input " + name);
    ASSERT_TRUE(x.grad().defined());
    EXPECT_CLOSE(x.grad(), c.data.at("grad.input." + name), 1e-4 * slack, 1e-3 * slack);
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

TEST(ModuleParity, FilesArePresent) {
  EXPECT_GE(load_cases().size(), 17u);
}

void check_all(Mode mode) {
  for (const Case& c : load_cases()) {
    try {
      check_case(c, mode);
    } catch (const std::exception& e) {  // report and go on with the other cases
      ADD_FAILURE() << c.file << ": " << e.what();
    }
  }
}

TEST(ModuleParity, F32) {
  check_all(Mode::f32);
}
TEST(ModuleParity, F32NonContiguousInputs) {
  check_all(Mode::noncontiguous);
}
TEST(ModuleParity, F64) {
  check_all(Mode::f64);
}

}  // namespace
}  // namespace cf::nn
