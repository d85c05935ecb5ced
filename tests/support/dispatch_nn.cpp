#include "support/op_dispatch.h"

namespace cf::testing {

// Optional tensor inputs follow the required ones in a fixed order; args say which are present.
Dispatch dispatch_nn(const std::string& op, const Json& a, const TensorList& in) {
  size_t next = 1;
  auto optional_input = [&a, &in, &next](const char* key) {
    return a.value(key, false) ? in.at(next++) : Tensor();
  };
  if (op == "softmax") return TensorList{softmax(in[0], a["dim"].get<int>())};
  if (op == "log_softmax") return TensorList{log_softmax(in[0], a["dim"].get<int>())};
  if (op == "layer_norm") {
    const Tensor w = optional_input("weight"), b = optional_input("bias");
    return TensorList{
        layer_norm(in[0], to_shape(a["normalized_shape"]), w, b, a["eps"].get<double>())};
  }
  if (op == "rms_norm") {
    const Tensor w = optional_input("weight");
    return TensorList{rms_norm(in[0], to_shape(a["normalized_shape"]), w, a["eps"].get<double>())};
  }
  if (op == "batch_norm") {
    // The running statistics are updated in place: run on clones and return them after the call.
    const bool running = a.value("running", false);
    const Tensor rm = running ? in.at(next++).clone() : Tensor();
    const Tensor rv = running ? in.at(next++).clone() : Tensor();
    const Tensor w = optional_input("weight"), b = optional_input("bias");
    Tensor y = batch_norm(in[0], rm, rv, w, b, a["training"].get<bool>(),
                          a["momentum"].get<double>(), a["eps"].get<double>());
    if (running) return TensorList{y, rm, rv};
    return TensorList{y};
  }
  return std::nullopt;
}

}  // namespace cf::testing
