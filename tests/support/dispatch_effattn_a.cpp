#include "cformer/efficient_attention.h"
#include "support/op_dispatch.h"

namespace cf::testing {

// memory_efficient_attention: inputs q, k, v[, key_padding_mask]; args is_causal, scale.
// longformer_attention: inputs q, k, v, qg, kg, vg, global_mask[, key_padding_mask]; args
// window, dilation, scale.
Dispatch dispatch_effattn_a(const std::string& op, const Json& a, const TensorList& in) {
  if (op == "longformer_attention")
    return TensorList{longformer_attention(in[0], in[1], in[2], in[3], in[4], in[5], in[6],
                                           a.at("window").get<int64_t>(),
                                           a.at("dilation").get<int64_t>(),
                                           in.size() > 7 ? in[7] : Tensor(), opt_double(a, "scale"))};
  if (op == "memory_efficient_attention")
    return TensorList{memory_efficient_attention(in[0], in[1], in[2],
                                                 in.size() > 3 ? in[3] : Tensor(),
                                                 a.at("is_causal").get<bool>(),
                                                 opt_double(a, "scale"))};
  return std::nullopt;
}

}  // namespace cf::testing
