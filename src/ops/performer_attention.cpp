// Performer FAVOR+ (Choromanski et al. 2021): the random projection and the attention as a
// composite of favor_features (src/ops/favor_features.h) and linear_attention. PyTorch twin:
// tools/golden/gen_effattn_b.py (softmax_kernel of the paper's code / performer-pytorch, with
// the max not detached).
#include <cmath>
#include <vector>

#include "cformer/efficient_attention.h"
#include "cformer/ops.h"
#include "util/check.h"

namespace cf {

Tensor favor_projection(int64_t m, int64_t d, Generator& gen, bool orthogonal, DType dtype) {
  const char* op = "favor_projection";
  CF_CHECK(m >= 1 && d >= 1, ValueError, op, ": num_features and dim must be positive, got ", m,
           " and ", d);
  CF_CHECK(dtype == DType::f32 || dtype == DType::f64, DTypeError, op,
           ": dtype must be float32 or float64, got ", dtype_name(dtype));
  if (!orthogonal) return randn(Shape{m, d}, gen, DType::f64).to(dtype);
  const int64_t blocks = (m + d - 1) / d;
  const Tensor g = randn(Shape{blocks, d, d}, gen, DType::f64);
  const Tensor norms = randn(Shape{m, d}, gen, DType::f64);
  const double* gp = g.data_ptr<double>();
  const double* np = norms.data_ptr<double>();
  Tensor w = empty(Shape{m, d}, DType::f64);
  double* wp = w.data_ptr<double>();
  std::vector<double> rows(d * d);
  for (int64_t b = 0; b < blocks; ++b) {
    // Modified Gram-Schmidt over the rows of a d x d Gaussian block.
    std::copy(gp + b * d * d, gp + (b + 1) * d * d, rows.begin());
    for (int64_t r = 0; r < d; ++r) {
      double* x = rows.data() + r * d;
      for (int64_t p = 0; p < r; ++p) {
        const double* y = rows.data() + p * d;
        double dot = 0.0;
        for (int64_t e = 0; e < d; ++e) dot += x[e] * y[e];
        for (int64_t e = 0; e < d; ++e) x[e] -= dot * y[e];
      }
      double nrm = 0.0;
      for (int64_t e = 0; e < d; ++e) nrm += x[e] * x[e];
      nrm = std::sqrt(nrm);
      for (int64_t e = 0; e < d; ++e) x[e] /= nrm;
    }
    for (int64_t r = 0; r < d && b * d + r < m; ++r) {
      const int64_t f = b * d + r;
      double chi = 0.0;
      for (int64_t e = 0; e < d; ++e) chi += np[f * d + e] * np[f * d + e];
      chi = std::sqrt(chi);
      for (int64_t e = 0; e < d; ++e) wp[f * d + e] = chi * rows[r * d + e];
    }
  }
  return w.to(dtype);
}

Tensor performer_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                           const Tensor& projection, bool is_causal, double eps) {
  const char* op = "performer_attention";
  CF_CHECK(q.dim() >= 2 && k.dim() >= 2 && k.size(-1) == q.size(-1), ShapeError, op,
           ": q (..., L, d) and k (..., S, d) must share d, got ", q.shape(), " and ", k.shape());
  CF_CHECK(eps >= 0.0, ValueError, op, ": eps must be >= 0, got ", eps);
  return linear_attention(favor_features(q, projection, true, eps),
                          favor_features(k, projection, false, eps), v, is_causal);
}

}  // namespace cf
