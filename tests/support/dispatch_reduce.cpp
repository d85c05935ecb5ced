#include "support/op_dispatch.h"

namespace cf::testing {

Dispatch dispatch_reduce(const std::string& op, const Json& a, const TensorList& in) {
  const Dims dims = a.contains("dims") ? to_shape(a["dims"]) : Dims{};
  const bool keepdim = a.value("keepdim", false);
  if (op == "sum") return TensorList{sum(in[0], dims, keepdim)};
  if (op == "mean") return TensorList{mean(in[0], dims, keepdim)};
  return std::nullopt;
}

}  // namespace cf::testing
