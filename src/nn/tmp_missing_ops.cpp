// Throw-away definitions of ops other families are implementing; deleted at merge.
#include "cformer/ops.h"
#include "util/check.h"

namespace cf {

Tensor logical_or(const Tensor&, const Tensor&) {
  CF_THROW(NotImplementedError, "logical_or: not merged yet");
}
Tensor logical_not(const Tensor&) {
  CF_THROW(NotImplementedError, "logical_not: not merged yet");
}
Tensor masked_fill(const Tensor&, const Tensor&, double) {
  CF_THROW(NotImplementedError, "masked_fill: not merged yet");
}
Tensor softmax(const Tensor&, int) {
  CF_THROW(NotImplementedError, "softmax: not merged yet");
}
Tensor dropout(const Tensor&, double, bool, Generator&) {
  CF_THROW(NotImplementedError, "dropout: not merged yet");
}
Tensor layer_norm(const Tensor&, const Shape&, const Tensor&, const Tensor&, double) {
  CF_THROW(NotImplementedError, "layer_norm: not merged yet");
}
Tensor rms_norm(const Tensor&, const Shape&, const Tensor&, double) {
  CF_THROW(NotImplementedError, "rms_norm: not merged yet");
}
Tensor embedding(const Tensor&, const Tensor&, std::optional<int64_t>) {
  CF_THROW(NotImplementedError, "embedding: not merged yet");
}
Tensor gelu(const Tensor&, GeluApproximation) {
  CF_THROW(NotImplementedError, "gelu: not merged yet");
}
Tensor relu(const Tensor&) {
  CF_THROW(NotImplementedError, "relu: not merged yet");
}
Tensor silu(const Tensor&) {
  CF_THROW(NotImplementedError, "silu: not merged yet");
}
Tensor scaled_dot_product_attention(const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                    double, bool, std::optional<double>, Generator*) {
  CF_THROW(NotImplementedError, "scaled_dot_product_attention: not merged yet");
}

}  // namespace cf
