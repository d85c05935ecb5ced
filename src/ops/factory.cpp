#include "ops/factory.h"

#include <cmath>

#include "cformer/ops.h"
#include "util/check.h"

namespace cf {
namespace {

bool integral(double v) { return std::isfinite(v) && v == std::trunc(v); }

void check_factory_dtype(const char* op, DType dtype) {
  CF_CHECK(dtype == DType::f32 || dtype == DType::f64 || dtype == DType::i64, DTypeError, op,
           ": dtype must be f32, f64 or i64, got ", dtype_name(dtype));
}

}  // namespace

Tensor arange(double start, double end, double step, std::optional<DType> dtype) {
  CF_CHECK(std::isfinite(start) && std::isfinite(end), ValueError,
           "arange: start and end must be finite, got ", start, " and ", end);
  CF_CHECK(step != 0.0 && std::isfinite(step), ValueError,
           "arange: step must be finite and non-zero, got ", step);
  CF_CHECK((step > 0 && end >= start) || (step < 0 && end <= start), ValueError, "arange: step ",
           step, " has the wrong sign for the range [", start, ", ", end, ")");
  const bool all_integral = integral(start) && integral(end) && integral(step);
  const DType dt = dtype.value_or(all_integral ? DType::i64 : DType::f32);
  check_factory_dtype("arange", dt);
  CF_CHECK(dt != DType::i64 || all_integral, ValueError,
           "arange: an i64 result needs integral start, end and step, got ", start, ", ", end,
           ", ", step);
  const double len = std::ceil((end - start) / step);
  CF_CHECK(len < 9.0e15, ValueError, "arange: the range [", start, ", ", end, ") with step ",
           step, " has too many elements (", len, ")");
  const int64_t n = static_cast<int64_t>(len);
  Tensor out = empty(Shape{n}, dt);
  if (n == 0) return out;
  switch (dt) {
    case DType::f32: ops::cpu::arange_forward<float>(out.data_ptr<float>(), n, start, step); break;
    case DType::f64: ops::cpu::arange_forward<double>(out.data_ptr<double>(), n, start, step); break;
    default:
      ops::cpu::arange_forward_i64(out.data_ptr<int64_t>(), n, static_cast<int64_t>(start),
                                   static_cast<int64_t>(step));
  }
  return out;
}

Tensor arange(double end) { return arange(0.0, end, 1.0); }

Tensor linspace(double start, double end, int64_t steps, DType dtype) {
  CF_CHECK(steps >= 0, ValueError, "linspace: steps must be non-negative, got ", steps);
  CF_CHECK(std::isfinite(start) && std::isfinite(end), ValueError,
           "linspace: start and end must be finite, got ", start, " and ", end);
  check_factory_dtype("linspace", dtype);
  Tensor out = empty(Shape{steps}, dtype);
  if (steps == 0) return out;
  switch (dtype) {
    case DType::f32: ops::cpu::linspace_forward<float>(out.data_ptr<float>(), steps, start, end); break;
    case DType::f64: ops::cpu::linspace_forward<double>(out.data_ptr<double>(), steps, start, end); break;
    default: ops::cpu::linspace_forward<int64_t>(out.data_ptr<int64_t>(), steps, start, end);
  }
  return out;
}

}  // namespace cf
