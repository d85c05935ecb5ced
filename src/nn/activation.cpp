// Dropout, activation modules and the MLP block.
#include "cformer/nn.h"
#include "util/check.h"

namespace cf::nn {

Dropout::Dropout(double p_, Generator* gen_) : UnaryModule("Dropout"), p(p_), gen(gen_) {
  CF_CHECK(p >= 0.0 && p <= 1.0, ValueError, "Dropout: p must be in [0, 1], got ", p);
  CF_CHECK(p == 0.0 || gen != nullptr, ValueError, "Dropout: p = ", p,
           " needs a Generator (pass the model's generator)");
}

Tensor Dropout::forward(const Tensor& x) {
  if (!is_training() || p == 0.0) return x;
  return dropout(x, p, true, *gen);
}

std::string Dropout::extra_repr() const {
  return detail::str_cat("p=", p);
}

GELU::GELU(GeluApproximation a) : UnaryModule("GELU"), approximate(a) {}

Tensor GELU::forward(const Tensor& x) {
  return gelu(x, approximate);
}

std::string GELU::extra_repr() const {
  return approximate == GeluApproximation::tanh ? "approximate='tanh'" : "";
}

Activation parse_activation(const std::string& name) {
  if (name == "relu") return Activation::relu;
  if (name == "gelu") return Activation::gelu;
  if (name == "gelu_tanh" || name == "gelu_new" || name == "gelu_pytorch_tanh")
    return Activation::gelu_tanh;
  if (name == "silu" || name == "swish") return Activation::silu;
  CF_THROW(ValueError, "activation: unknown name '", name,
           "', expected relu, gelu, gelu_tanh (gelu_new, gelu_pytorch_tanh) or silu (swish)");
}

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::relu:
      return "relu";
    case Activation::gelu:
      return "gelu";
    case Activation::gelu_tanh:
      return "gelu_tanh";
    case Activation::silu:
      return "silu";
  }
  return "?";
}

Tensor apply_activation(const Tensor& x, Activation a) {
  switch (a) {
    case Activation::relu:
      return relu(x);
    case Activation::gelu:
      return gelu(x, GeluApproximation::none);
    case Activation::gelu_tanh:
      return gelu(x, GeluApproximation::tanh);
    case Activation::silu:
      return silu(x);
  }
  CF_THROW(InternalError, "apply_activation: bad enumerator");
}

std::shared_ptr<UnaryModule> make_activation(Activation a) {
  switch (a) {
    case Activation::relu:
      return std::make_shared<ReLU>();
    case Activation::gelu:
      return std::make_shared<GELU>(GeluApproximation::none);
    case Activation::gelu_tanh:
      return std::make_shared<GELU>(GeluApproximation::tanh);
    case Activation::silu:
      return std::make_shared<SiLU>();
  }
  CF_THROW(InternalError, "make_activation: bad enumerator");
}

MLP::MLP(int64_t in, int64_t hidden, int64_t out, Generator& gen, Activation activation, double p,
         Generator* dropout_gen, bool bias, DType dtype)
    : UnaryModule("MLP") {
  fc1 = register_module("fc1", std::make_shared<Linear>(in, hidden, bias, gen, dtype));
  act = register_module("act", make_activation(activation));
  drop = register_module("drop", std::make_shared<Dropout>(p, dropout_gen));
  fc2 = register_module("fc2", std::make_shared<Linear>(hidden, out, bias, gen, dtype));
}

Tensor MLP::forward(const Tensor& x) {
  return fc2->forward(drop->forward(act->forward(fc1->forward(x))));
}

}  // namespace cf::nn
