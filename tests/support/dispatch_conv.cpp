#include "support/op_dispatch.h"

namespace cf::testing {

// Inputs: x, weight, then bias when args["bias"] is true. stride / padding / dilation /
// output_padding: lists of 1 or 2 values (default as in torch).
Dispatch dispatch_conv(const std::string& op, const Json& a, const TensorList& in) {
  auto pair = [&a](const char* key, int64_t dflt) {
    return a.contains(key) ? to_shape(a[key]) : Shape{dflt, dflt};
  };
  const Tensor bias = a.value("bias", false) ? in.at(2) : Tensor();
  const int64_t groups = a.value("groups", int64_t{1});
  if (op == "conv2d")
    return TensorList{conv2d(in[0], in[1], bias, pair("stride", 1), pair("padding", 0),
                             pair("dilation", 1), groups)};
  if (op == "conv_transpose2d")
    return TensorList{conv_transpose2d(in[0], in[1], bias, pair("stride", 1), pair("padding", 0),
                                       pair("output_padding", 0), groups, pair("dilation", 1))};
  return std::nullopt;
}

}  // namespace cf::testing
