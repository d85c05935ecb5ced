#include "support/op_dispatch.h"

namespace cf::testing {

Dispatch dispatch_elementwise(const std::string& op, const Json& a, const TensorList& in) {
  const bool scalar = a.contains("scalar");
  const double s = scalar ? a["scalar"].get<double>() : 0.0;
  if (op == "add") return TensorList{scalar ? add(in[0], s) : add(in[0], in[1], a["alpha"].get<double>())};
  if (op == "sub") return TensorList{scalar ? sub(in[0], s) : sub(in[0], in[1], a["alpha"].get<double>())};
  if (op == "mul") return TensorList{scalar ? mul(in[0], s) : mul(in[0], in[1])};
  if (op == "div") return TensorList{scalar ? div(in[0], s) : div(in[0], in[1])};
  if (op == "pow")
    return TensorList{a.contains("exponent") ? pow(in[0], a["exponent"].get<double>()) : pow(in[0], in[1])};
  if (op == "maximum") return TensorList{maximum(in[0], in[1])};
  if (op == "minimum") return TensorList{minimum(in[0], in[1])};

  if (op == "neg") return TensorList{neg(in[0])};
  if (op == "exp") return TensorList{exp(in[0])};
  if (op == "log") return TensorList{log(in[0])};
  if (op == "sqrt") return TensorList{sqrt(in[0])};
  if (op == "rsqrt") return TensorList{rsqrt(in[0])};
  if (op == "abs") return TensorList{abs(in[0])};
  if (op == "tanh") return TensorList{tanh(in[0])};
  if (op == "sigmoid") return TensorList{sigmoid(in[0])};
  if (op == "relu") return TensorList{relu(in[0])};
  if (op == "leaky_relu") return TensorList{leaky_relu(in[0], a["negative_slope"].get<double>())};
  if (op == "gelu") {
    const bool tanh_form = a["approximate"].get<std::string>() == "tanh";
    return TensorList{gelu(in[0], tanh_form ? GeluApproximation::tanh : GeluApproximation::none)};
  }
  if (op == "silu") return TensorList{silu(in[0])};
  if (op == "softplus")
    return TensorList{softplus(in[0], a["beta"].get<double>(), a["threshold"].get<double>())};
  if (op == "clamp") return TensorList{clamp(in[0], opt_double(a, "min"), opt_double(a, "max"))};

  if (op == "where") return TensorList{where(in[0], in[1], in[2])};
  if (op == "masked_fill") return TensorList{masked_fill(in[0], in[1], a["value"].get<double>())};

  using TensorTensor = Tensor (*)(const Tensor&, const Tensor&);
  using TensorScalar = Tensor (*)(const Tensor&, double);
  struct Comparison {
    const char* name;
    TensorTensor tt;
    TensorScalar ts;
  };
  const Comparison comparisons[] = {{"eq", eq, eq}, {"ne", ne, ne}, {"lt", lt, lt},
                                    {"le", le, le}, {"gt", gt, gt}, {"ge", ge, ge}};
  for (const Comparison& c : comparisons)
    if (op == c.name) return TensorList{scalar ? c.ts(in[0], s) : c.tt(in[0], in[1])};
  if (op == "logical_not") return TensorList{logical_not(in[0])};
  if (op == "logical_and") return TensorList{logical_and(in[0], in[1])};
  if (op == "logical_or") return TensorList{logical_or(in[0], in[1])};
  return std::nullopt;
}

}  // namespace cf::testing
