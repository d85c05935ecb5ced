#include "support/op_dispatch.h"

namespace cf::testing {

// Inputs: q, k, v[, attn_mask]; args: is_causal, scale (null: 1 / sqrt(E)).
Dispatch dispatch_attention(const std::string& op, const Json& a, const TensorList& in) {
  if (op == "scaled_dot_product_attention")
    return TensorList{
        scaled_dot_product_attention(in[0], in[1], in[2], in.size() > 3 ? in[3] : Tensor(), 0.0,
                                     a.at("is_causal").get<bool>(), opt_double(a, "scale"))};
  return std::nullopt;
}

}  // namespace cf::testing
