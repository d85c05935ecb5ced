#include <cmath>
#include <string>

#include "support/op_dispatch.h"

namespace cf::testing {
namespace {

// p may be a number or the string "inf" / "-inf" (JSON has no infinity).
double norm_order(const Json& p) {
  if (p.is_string()) return p.get<std::string>() == "-inf" ? -INFINITY : INFINITY;
  return p.get<double>();
}

std::optional<int> opt_dim(const Json& a) {
  if (!a.contains("dim") || a["dim"].is_null()) return std::nullopt;
  return a["dim"].get<int>();
}

}  // namespace

Dispatch dispatch_reduce(const std::string& op, const Json& a, const TensorList& in) {
  const Dims dims = a.contains("dims") ? to_shape(a["dims"]) : Dims{};
  const bool keepdim = a.value("keepdim", false);
  if (op == "sum") return TensorList{sum(in[0], dims, keepdim)};
  if (op == "mean") return TensorList{mean(in[0], dims, keepdim)};
  if (op == "var") return TensorList{var(in[0], dims, a["correction"].get<int64_t>(), keepdim)};
  if (op == "std") return TensorList{std_dev(in[0], dims, a["correction"].get<int64_t>(), keepdim)};
  if (op == "max" || op == "min") {
    const bool is_max = op == "max";
    if (const auto dim = opt_dim(a)) {
      ValuesIndices r = is_max ? max(in[0], *dim, keepdim) : min(in[0], *dim, keepdim);
      return TensorList{r.values, r.indices};
    }
    return TensorList{is_max ? max(in[0]) : min(in[0])};
  }
  if (op == "argmax") return TensorList{argmax(in[0], opt_dim(a), keepdim)};
  if (op == "argmin") return TensorList{argmin(in[0], opt_dim(a), keepdim)};
  if (op == "logsumexp") return TensorList{logsumexp(in[0], dims, keepdim)};
  if (op == "norm") return TensorList{norm(in[0], norm_order(a["p"]), dims, keepdim)};
  return std::nullopt;
}

}  // namespace cf::testing
