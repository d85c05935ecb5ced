#include "support/op_dispatch.h"

namespace cf::testing {

Dispatch dispatch_elementwise(const std::string& op, const Json& a, const TensorList& in) {
  const bool scalar = a.contains("scalar");
  const double s = scalar ? a["scalar"].get<double>() : 0.0;
  if (op == "add") return TensorList{scalar ? add(in[0], s) : add(in[0], in[1], a["alpha"].get<double>())};
  if (op == "sub") return TensorList{scalar ? sub(in[0], s) : sub(in[0], in[1], a["alpha"].get<double>())};
  if (op == "mul") return TensorList{scalar ? mul(in[0], s) : mul(in[0], in[1])};
  if (op == "div") return TensorList{scalar ? div(in[0], s) : div(in[0], in[1])};
  return std::nullopt;
}

}  // namespace cf::testing
