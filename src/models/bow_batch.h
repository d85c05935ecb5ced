// Sparse mini-batches of bag-of-words features and the logits of a batch, shared by inference
// (bow.cpp) and training (bow_train.cpp). Dims: B texts, V vocabulary, K labels, Z nonzeros.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "cformer/tensor.h"

namespace cf::models::bow_detail {

using SparseRow = std::vector<std::pair<int64_t, float>>;  // (token index, value), ascending

struct SparseBatch {
  int64_t rows = 0;  // B
  Tensor index;      // (Z) i64 token indices
  Tensor value;      // (Z) f32 feature values
  Tensor row;        // (Z) i64 the text each nonzero belongs to
};

/// The rows order[begin, end) of rows as one batch.
SparseBatch make_batch(const std::vector<SparseRow>& rows, const std::vector<int64_t>& order,
                       size_t begin, size_t end);

/// logits (B, K) = X W^T + b as index_select / index_add over the nonzeros, so the cost and the
/// gradient's work follow Z, not B x V. weight_t (V, K), bias (K).
Tensor batch_logits(const SparseBatch& batch, const Tensor& weight_t, const Tensor& bias);

}  // namespace cf::models::bow_detail
