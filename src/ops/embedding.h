// embedding and one_hot (torch.nn.functional.embedding / one_hot).
//   embedding: out[n, :] = weight[indices[n], :]   indices i64 (N) of any shape, weight (V, D)
//              grad weight[v, :] = sum over n with indices[n] == v (!= padding_idx) of g[n, :],
//              summed in increasing n (deterministic); no dense one-hot is formed.
//   one_hot:   out[n, c] = (indices[n] == c), i64 (N, C)
// N: number of indices, V: num_embeddings, D: embedding dim, C: num_classes.
// Saved for backward: indices. Kernels overwrite (=), the backward included (it zeroes dweight).
#pragma once
#include <cstdint>

namespace cf::ops::cpu {

template <class T> struct EmbeddingArgs {
  const int64_t* indices;  // (N), values in [0, V)
  const T* weight;         // (V, D) contiguous
  T* out;                  // (N, D)
  int64_t N, V, D;
};
template <class T> void embedding_forward(const EmbeddingArgs<T>& a);
template <class T> void embedding_forward_ref(const EmbeddingArgs<T>& a);

template <class T> struct EmbeddingBackwardArgs {
  const int64_t* indices;  // (N), values in [0, V)
  const T* dout;           // (N, D) contiguous
  T* dweight;              // (V, D), overwritten
  int64_t N, V, D;
  int64_t padding_idx;     // rows equal to it get no gradient; -1: none
};
/// Zeroes dweight, then adds the rows of dout; threads split the columns of D.
template <class T> void embedding_backward(const EmbeddingBackwardArgs<T>& a);
template <class T> void embedding_backward_ref(const EmbeddingBackwardArgs<T>& a);

/// out (N, C) = one-hot rows of indices (N), values in [0, C).
void one_hot_forward(const int64_t* indices, int64_t N, int64_t C, int64_t* out);

}  // namespace cf::ops::cpu
