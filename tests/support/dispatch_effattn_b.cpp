#include "cformer/efficient_attention.h"
#include "support/op_dispatch.h"

namespace cf::testing {

// block_sparse_attention: inputs q, k, v, layout[, key_padding_mask]; args block_size, is_causal,
// scale (null: 1 / sqrt(E)). linear_attention: q_features, k_features, v; is_causal.
// performer_attention: q, k, v, projection; is_causal, eps. favor_features: x, projection;
// is_query, eps.
Dispatch dispatch_effattn_b(const std::string& op, const Json& a, const TensorList& in) {
  if (op == "block_sparse_attention")
    return TensorList{block_sparse_attention(in[0], in[1], in[2], in[3],
                                             a.at("block_size").get<int64_t>(),
                                             in.size() > 4 ? in[4] : Tensor(),
                                             a.at("is_causal").get<bool>(), opt_double(a, "scale"))};
  if (op == "linear_attention")
    return TensorList{linear_attention(in[0], in[1], in[2], a.at("is_causal").get<bool>())};
  if (op == "performer_attention")
    return TensorList{performer_attention(in[0], in[1], in[2], in[3], a.at("is_causal").get<bool>(),
                                          a.at("eps").get<double>())};
  if (op == "favor_features")
    return TensorList{favor_features(in[0], in[1], a.at("is_query").get<bool>(),
                                     a.at("eps").get<double>())};
  return std::nullopt;
}

}  // namespace cf::testing
