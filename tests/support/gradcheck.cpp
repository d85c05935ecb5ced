#include "support/gradcheck.h"

#include <cmath>
#include <sstream>

#include "cformer/autograd.h"
#include "cformer/ops.h"

namespace cf::testing {
namespace {

// Pointer to the flat-index-th element (row-major order) of a strided f64 tensor.
double* element(const Tensor& t, int64_t flat) {
  int64_t off = 0;
  for (int d = t.dim() - 1; d >= 0; --d) {
    const int64_t idx = flat % t.shape()[d];
    flat /= t.shape()[d];
    off += idx * t.strides()[d];
  }
  return static_cast<double*>(t.impl()->storage->data) + t.storage_offset() + off;
}

double projected(const MultiFn& f, const std::vector<Tensor>& inputs,
                 const std::vector<Tensor>& weights) {
  NoGradGuard ng;
  std::vector<Tensor> outs = f(inputs);
  double total = 0.0;
  for (size_t j = 0; j < outs.size() && j < weights.size(); ++j) {
    if (!weights[j].defined()) continue;
    total += sum(mul(outs[j].to(DType::f64), weights[j])).item();
  }
  return total;
}

}  // namespace

Tensor make_noncontiguous(const Tensor& t) {
  Tensor src = t.detach();
  if (src.dim() == 0 || src.numel() == 0) return src.clone();
  if (src.dim() == 1) {
    Tensor big = zeros(Shape{src.size(0) * 2}, src.dtype());
    Tensor v = big.slice(0, 0, src.size(0) * 2, 2);
    v.copy_(src);
    return v;
  }
  Shape s = src.shape();
  std::swap(s[s.size() - 1], s[s.size() - 2]);
  Tensor storage = empty(s, src.dtype());
  Tensor v = storage.transpose(-1, -2);
  v.copy_(src);
  return v;
}

::testing::AssertionResult gradcheck(const MultiFn& f, const std::vector<Tensor>& inputs,
                                     const std::vector<Tensor>& weights,
                                     const GradcheckOptions& opt) {
  for (const Tensor& x : inputs)
    if (x.defined() && x.requires_grad() && x.dtype() != DType::f64)
      return ::testing::AssertionFailure() << "gradcheck needs f64 inputs";
  // Analytic: backward of L = sum_j <out_j, w_j>.
  for (const Tensor& x : inputs)
    if (x.defined() && x.requires_grad()) x.set_grad(Tensor());
  {
    std::vector<Tensor> outs = f(inputs);
    std::vector<Tensor> roots, grads;
    for (size_t j = 0; j < outs.size() && j < weights.size(); ++j) {
      if (!weights[j].defined() || !outs[j].requires_grad()) continue;
      roots.push_back(outs[j]);
      grads.push_back(weights[j]);
    }
    if (!roots.empty()) autograd::backward(roots, grads);
  }
  std::ostringstream fails;
  int nfail = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!x.defined() || !x.requires_grad()) continue;
    Tensor g = x.grad();
    Tensor ga = g.defined() ? g.contiguous() : zeros(x.shape(), DType::f64);
    const double* pa = ga.numel() ? ga.data_ptr<double>() : nullptr;
    for (int64_t k = 0; k < x.numel(); ++k) {
      double* p = element(x, k);
      const double orig = *p;
      *p = orig + opt.eps;
      const double lp = projected(f, inputs, weights);
      *p = orig - opt.eps;
      const double lm = projected(f, inputs, weights);
      *p = orig;
      const double numeric = (lp - lm) / (2.0 * opt.eps);
      const double analytic = pa[k];
      if (!(std::fabs(analytic - numeric) <= opt.atol + opt.rtol * std::fabs(numeric))) {
        if (nfail < 8)
          fails << "\n  input " << i << " " << x.shape() << " flat index " << k << ": analytic "
                << analytic << ", numeric " << numeric;
        ++nfail;
      }
    }
  }
  if (nfail == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << nfail << " gradient entries disagree:" << fails.str();
}

::testing::AssertionResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                     const std::vector<Tensor>& inputs,
                                     const GradcheckOptions& opt) {
  Tensor out;
  {
    NoGradGuard ng;
    out = f(inputs);
  }
  Generator gen(1234);
  Tensor w = randn(out.shape(), gen, DType::f64);
  return gradcheck([&f](const std::vector<Tensor>& in) { return std::vector<Tensor>{f(in)}; },
                   inputs, {w}, opt);
}

}  // namespace cf::testing
