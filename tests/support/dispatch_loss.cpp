#include "support/op_dispatch.h"

namespace cf::testing {

// Inputs: class losses (x, target[, weight]); binary_cross_entropy (x, target[, weight]);
// binary_cross_entropy_with_logits (x, target[, weight][, pos_weight]) as flagged in args.
Dispatch dispatch_loss(const std::string& op, const Json& a, const TensorList& in) {
  const Reduction red = to_reduction(a.value("reduction", std::string("mean")));
  auto opt = [&in](size_t i) { return i < in.size() ? in[i] : Tensor(); };
  if (op == "cross_entropy")
    return TensorList{cross_entropy(in[0], in[1], opt(2), a.at("ignore_index").get<int64_t>(), red,
                                    a.at("label_smoothing").get<double>())};
  if (op == "nll_loss")
    return TensorList{nll_loss(in[0], in[1], opt(2), a.at("ignore_index").get<int64_t>(), red)};
  if (op == "mse_loss") return TensorList{mse_loss(in[0], in[1], red)};
  if (op == "binary_cross_entropy")
    return TensorList{binary_cross_entropy(in[0], in[1], opt(2), red)};
  if (op == "binary_cross_entropy_with_logits") {
    size_t next = 2;
    Tensor w = a.at("has_weight").get<bool>() ? in[next++] : Tensor();
    Tensor pw = a.at("has_pos_weight").get<bool>() ? in[next++] : Tensor();
    return TensorList{binary_cross_entropy_with_logits(in[0], in[1], w, pw, red)};
  }
  if (op == "kl_div") return TensorList{kl_div(in[0], in[1], red, a.at("log_target").get<bool>())};
  return std::nullopt;
}

}  // namespace cf::testing
