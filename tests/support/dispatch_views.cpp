#include "support/op_dispatch.h"

namespace cf::testing {

Dispatch dispatch_views(const std::string& op, const Json& a, const TensorList& in) {
  if (op == "view") return TensorList{in[0].contiguous().view(to_shape(a["shape"]))};
  if (op == "reshape") return TensorList{in[0].reshape(to_shape(a["shape"]))};
  if (op == "permute") return TensorList{in[0].permute(to_shape(a["dims"]))};
  if (op == "transpose") return TensorList{in[0].transpose(a["dim0"], a["dim1"])};
  if (op == "slice")
    return TensorList{in[0].slice(a["dim"], a["start"], a["end"], a.value("step", 1))};
  if (op == "narrow") return TensorList{in[0].narrow(a["dim"], a["start"], a["length"])};
  if (op == "select") return TensorList{in[0].select(a["dim"], a["index"])};
  if (op == "expand") return TensorList{in[0].expand(to_shape(a["shape"]))};
  if (op == "squeeze")
    return TensorList{a.contains("dim") ? in[0].squeeze(a["dim"].get<int>()) : in[0].squeeze()};
  if (op == "unsqueeze") return TensorList{in[0].unsqueeze(a["dim"])};
  if (op == "clone") return TensorList{in[0].clone()};
  if (op == "contiguous") return TensorList{in[0].contiguous()};
  if (op == "to") {
    // f32 -> f64 -> f32 exercises both conversions and their backward (f32 parity). An f64
    // input is not sent through f32: finite differences cannot see through f32 rounding.
    return TensorList{in[0].to(DType::f64).to(in[0].dtype())};
  }
  return std::nullopt;
}

Dispatch dispatch_linalg(const std::string& op, const Json& a, const TensorList& in) {
  if (op == "matmul") return TensorList{matmul(in[0], in[1])};
  if (op == "bmm") return TensorList{bmm(in[0], in[1])};
  if (op == "linear") {
    // "col_major": the weight as the transpose of a contiguous (in, out) matrix (HF Conv1D).
    Tensor w = a.value("weight_layout", "") == "col_major" ? in[1].t().contiguous().t() : in[1];
    return TensorList{linear(in[0], w, in.size() > 2 ? in[2] : Tensor())};
  }
  return std::nullopt;
}

}  // namespace cf::testing
