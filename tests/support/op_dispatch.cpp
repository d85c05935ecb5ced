#include "support/op_dispatch.h"

#include <stdexcept>

namespace cf::testing {

TensorList run_op(const std::string& op, const Json& args, const TensorList& in) {
  using Fn = Dispatch (*)(const std::string&, const Json&, const TensorList&);
  const Fn families[] = {dispatch_views, dispatch_elementwise, dispatch_reduce, dispatch_linalg,
                         dispatch_nn,    dispatch_loss,        dispatch_shape,  dispatch_attention,
                         dispatch_conv, dispatch_pool, dispatch_effattn_a, dispatch_effattn_b};
  for (Fn f : families)
    if (auto r = f(op, args, in)) return *r;
  throw std::runtime_error("no dispatcher knows op '" + op + "'");
}

Shape to_shape(const Json& j) {
  Shape s;
  for (const auto& v : j) s.push_back(v.get<int64_t>());
  return s;
}

std::optional<double> opt_double(const Json& args, const char* key) {
  if (!args.contains(key) || args[key].is_null()) return std::nullopt;
  return args[key].get<double>();
}

Reduction to_reduction(const std::string& s) {
  if (s == "none") return Reduction::none;
  if (s == "sum") return Reduction::sum;
  if (s == "batchmean") return Reduction::batchmean;
  return Reduction::mean;
}

}  // namespace cf::testing
