// Head reshapes and packed in-projection slices shared by the translation model's training path
// (model.cpp) and its incremental decoding (decode.cpp). Internal to src/models/translation.
#pragma once
#include <cstdint>

#include "cformer/tensor.h"

namespace cf::models::translation_detail {

// (N, T, E) -> (N, H, T, HS)
inline Tensor split_heads(const Tensor& t, int64_t H) {
  const int64_t N = t.size(0), T = t.size(1), HS = t.size(2) / H;
  return t.reshape(Shape{N, T, H, HS}).transpose(1, 2);
}

// (N, H, T, HS) -> (N, T, E)
inline Tensor merge_heads(const Tensor& t) {
  const int64_t N = t.size(0), H = t.size(1), T = t.size(2), HS = t.size(3);
  return t.transpose(1, 2).reshape(Shape{N, T, H * HS});
}

// Row block [part * E, (part + 1) * E) of a packed in-projection (weight (3E, E) or bias (3E)).
inline Tensor proj_part(const Tensor& packed, int64_t part, int64_t E) {
  return packed.defined() ? packed.narrow(0, part * E, E) : Tensor();
}

}  // namespace cf::models::translation_detail
