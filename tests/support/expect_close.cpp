#include "support/expect_close.h"

#include <cmath>
#include <sstream>

namespace cf::testing {

::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected, double atol,
                                     double rtol) {
  if (!actual.defined() || !expected.defined())
    return ::testing::AssertionFailure() << "undefined tensor (actual "
                                         << actual.defined() << ", expected " << expected.defined() << ")";
  if (actual.shape() != expected.shape())
    return ::testing::AssertionFailure() << "shape " << actual.shape() << " != expected "
                                         << expected.shape();
  const Tensor a = actual.detach().to(DType::f64).contiguous();
  const Tensor e = expected.detach().to(DType::f64).contiguous();
  const double* pa = a.numel() ? a.data_ptr<double>() : nullptr;
  const double* pe = e.numel() ? e.data_ptr<double>() : nullptr;
  int64_t worst = -1, bad = 0;
  double worst_excess = 0.0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double x = pa[i], y = pe[i];
    if (std::isnan(x) && std::isnan(y)) continue;
    if (std::isinf(x) && std::isinf(y) && (x > 0) == (y > 0)) continue;
    const double err = std::fabs(x - y), tol = atol + rtol * std::fabs(y);
    if (!(err <= tol)) {
      ++bad;
      const double excess = std::isnan(err) ? INFINITY : err - tol;
      if (worst < 0 || excess > worst_excess) {
        worst = i;
        worst_excess = excess;
      }
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  std::ostringstream os;
  os << bad << " of " << a.numel() << " values differ (atol " << atol << ", rtol " << rtol
     << "); worst at flat index " << worst << ": actual " << pa[worst] << ", expected "
     << pe[worst] << "\n  first values (actual | expected):";
  for (int64_t i = 0; i < std::min<int64_t>(a.numel(), 8); ++i) os << "\n    " << pa[i] << " | " << pe[i];
  return ::testing::AssertionFailure() << os.str();
}

}  // namespace cf::testing
