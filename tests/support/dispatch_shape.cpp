#include "support/op_dispatch.h"

#include <stdexcept>

namespace cf::testing {
namespace {

DType to_dtype(const std::string& s) {
  if (s == "f32") return DType::f32;
  if (s == "f64") return DType::f64;
  if (s == "i64") return DType::i64;
  throw std::runtime_error("dispatch_shape: unknown dtype '" + s + "'");
}

PadMode to_pad_mode(const std::string& s) {
  if (s == "constant") return PadMode::constant;
  if (s == "reflect") return PadMode::reflect;
  if (s == "replicate") return PadMode::replicate;
  if (s == "circular") return PadMode::circular;
  throw std::runtime_error("dispatch_shape: unknown pad mode '" + s + "'");
}

TensorList pair(const ValuesIndices& r) { return TensorList{r.values, r.indices}; }

}  // namespace

Dispatch dispatch_shape(const std::string& op, const Json& a, const TensorList& in) {
  const int dim = a.value("dim", 0);
  if (op == "cat") return TensorList{cat(in, dim)};
  if (op == "stack") return TensorList{stack(in, dim)};
  if (op == "split") {
    if (a.contains("sizes")) return split_with_sizes(in[0], to_shape(a["sizes"]), dim);
    return split(in[0], a["split_size"].get<int64_t>(), dim);
  }
  if (op == "chunk") return chunk(in[0], a["chunks"].get<int64_t>(), dim);
  if (op == "gather") return TensorList{gather(in[0], dim, in[1])};
  if (op == "scatter_add") return TensorList{scatter_add(in[0], dim, in[1], in[2])};
  if (op == "index_select") return TensorList{index_select(in[0], dim, in[1])};
  if (op == "index_add")
    return TensorList{index_add(in[0], dim, in[1], in[2], a.value("alpha", 1.0))};
  if (op == "repeat") return TensorList{repeat(in[0], to_shape(a["repeats"]))};
  if (op == "tril") return TensorList{tril(in[0], a.value("diagonal", int64_t{0}))};
  if (op == "triu") return TensorList{triu(in[0], a.value("diagonal", int64_t{0}))};
  if (op == "flip") return TensorList{flip(in[0], to_shape(a["dims"]))};
  if (op == "pad")
    return TensorList{pad(in[0], to_shape(a["pad"]), to_pad_mode(a.value("mode", "constant")),
                          a.value("value", 0.0))};
  if (op == "topk")
    return pair(topk(in[0], a["k"].get<int64_t>(), a.value("dim", -1), a.value("largest", true),
                     a.value("sorted", true)));
  if (op == "sort") return pair(sort(in[0], a.value("dim", -1), a.value("descending", false)));
  if (op == "cumsum") return TensorList{cumsum(in[0], dim)};
  if (op == "arange") {
    if (!a.contains("start")) return TensorList{arange(a["end"].get<double>())};
    std::optional<DType> dt;
    if (a.contains("dtype")) dt = to_dtype(a["dtype"]);
    return TensorList{arange(a["start"].get<double>(), a["end"].get<double>(),
                             a.value("step", 1.0), dt)};
  }
  if (op == "linspace")
    return TensorList{linspace(a["start"].get<double>(), a["end"].get<double>(),
                               a["steps"].get<int64_t>(), to_dtype(a.value("dtype", "f32")))};
  if (op == "embedding") {
    std::optional<int64_t> padding_idx;
    if (a.contains("padding_idx")) padding_idx = a["padding_idx"].get<int64_t>();
    return TensorList{embedding(in[0], in[1], padding_idx)};
  }
  if (op == "one_hot") return TensorList{one_hot(in[0], a.value("num_classes", int64_t{-1}))};
  return std::nullopt;
}

}  // namespace cf::testing
