// TranslationModel against its PyTorch twin (tools/golden/gen_translation.py: torch.nn.Transformer
// with scaled embeddings, positions and a tied or separate output projection). For every
// configuration (post/pre-norm, sinusoidal/learned positions, shared/separate embeddings,
// tied/untied output) on a batch padded on the source and target side: the same parameter
// names (strict load), logits, label-smoothed loss and every parameter gradient, in f32 and f64.
#include <gtest/gtest.h>

#include "cformer/cformer.h"
#include "cformer/models/translation.h"
#include "support/expect_close.h"
#include "support/golden.h"

namespace cf {
namespace {

nn::StateDict prefixed(const io::NamedTensors& nt, const std::string& prefix, DType dtype) {
  nn::StateDict m;
  for (const auto& [n, t] : nt.tensors)
    if (n.rfind(prefix, 0) == 0) m.emplace_back(n.substr(prefix.size()), t.to(dtype));
  return m;
}

Tensor find(const nn::StateDict& sd, const std::string& name) {
  for (const auto& [n, t] : sd)
    if (n == name) return t;
  return Tensor();
}

struct Tolerance {
  double logits_atol, logits_rtol, loss_atol, grad_atol, grad_rtol;
};

void check_case(const testing::GoldenFile& f, DType dtype, const std::string& suffix,
                const Tolerance& tol) {
  SCOPED_TRACE(f.file + (dtype == DType::f64 ? " (f64)" : " (f32)"));
  const io::NamedTensors& nt = f.data;
  auto cfg = models::TranslationConfig::from_json(nt.metadata.at("config"));
  const double ls = std::stod(nt.metadata.at("label_smoothing"));
  models::TranslationModel model(cfg, 0, dtype);
  model.load_state_dict(prefixed(nt, "init.", dtype), true);
  const Tensor &src = nt.at("src"), &tgt_in = nt.at("tgt_in"), &tgt_out = nt.at("tgt_out");
  EXPECT_CLOSE(model.forward(src, tgt_in), nt.at("logits" + suffix), tol.logits_atol,
               tol.logits_rtol);
  Tensor loss = model.loss(src, tgt_in, tgt_out, ls);
  EXPECT_CLOSE(loss, nt.at("loss" + suffix), tol.loss_atol, tol.loss_atol);
  loss.backward();
  const nn::StateDict grads = prefixed(nt, "grad" + suffix + ".", dtype);
  ASSERT_EQ(grads.size(), model.named_parameters().size());
  for (const auto& [name, p] : model.named_parameters()) {
    SCOPED_TRACE(name);
    Tensor want = find(grads, name);
    ASSERT_TRUE(want.defined()) << "no PyTorch gradient for " << name;
    ASSERT_TRUE(p.grad().defined()) << "no gradient for " << name;
    EXPECT_CLOSE(p.grad(), want, tol.grad_atol, tol.grad_rtol);
  }
}

TEST(TranslationParity, LogitsLossAndEveryGradientF32) {
  const auto files = testing::load_golden_files("translation");
  ASSERT_EQ(files.size(), 4u) << "golden translation files missing: run golden_generate";
  for (const auto& f : files) check_case(f, DType::f32, "", {1e-5, 1e-5, 1e-6, 1e-5, 1e-4});
}

TEST(TranslationParity, LogitsLossAndEveryGradientF64) {
  const auto files = testing::load_golden_files("translation");
  ASSERT_EQ(files.size(), 4u) << "golden translation files missing: run golden_generate";
  for (const auto& f : files) check_case(f, DType::f64, "64", {1e-11, 1e-10, 1e-12, 1e-11, 1e-9});
}

}  // namespace
}  // namespace cf
