// block_sparse_attention: out = softmax(q k^T * scale + M) v with M = 0 on the attended blocks of
// a block layout (minus causal / padded keys) and -inf elsewhere; ONE softmax per query over all
// its attended keys. PyTorch twin: the dense masked form (tools/golden/gen_effattn_b.py).
// Letters: B batch, H heads, L queries, S keys, E / Ev head widths, bs block size,
// NQ = ceil(L / bs), NK = ceil(S / bs). The layout is compressed to CSR per layout head: the
// attended key blocks of query block qb are cols[row_ptr[qb] .. row_ptr[qb + 1]) (ascending).
// Saved for backward: P, the probabilities of the attended blocks only: for query block qb a
// (bs, n_qb * bs) row-major matrix, so memory is O(B H L n bs), never L x S.
// Backward: dV_kb = sum P^T dO, dP = dO V^T, dS = P * (dP - rowsum(dP * P)) * scale,
// dQ_qb = sum dS K_kb, dK_kb = sum dS^T Q_qb; pass 1 over query blocks (dS, dQ), pass 2 over key
// blocks through the transposed lists (dK, dV), so both passes parallelize without atomics.
#pragma once
#include <cstdint>

namespace cf::ops::cpu {

template <class T> struct BlockSparseArgs {
  const T* q;               // (B, H, L, E) contiguous
  const T* k;               // (B, H, S, E) contiguous
  const T* v;               // (B, H, S, Ev) contiguous
  const bool* pad;          // (B, S) contiguous, true = ignored key; null: none
  const int64_t* row_ptr;   // (LH, NQ + 1) offsets into cols, absolute
  const int64_t* cols;      // (nnz) attended key blocks, ascending per row
  const int64_t* col_ptr;   // (LH, NK + 1) offsets into entries, absolute (the transposed lists)
  const int64_t* entries;   // (nnz) index into cols of each (qb, kb) pair, grouped by kb
  const int64_t* entry_row; // (nnz) the qb of each entry
  const int64_t* p_head;    // (H) offset of head h's probabilities inside one batch element
  T* p;                     // (B, p_batch) the saved probabilities (see the file header)
  int64_t p_batch;          // elements of p per batch element
  int64_t B, H, L, S, E, Ev, bs, NQ, NK, LH;  // LH: 1 (shared layout) or H
  T scale;
  bool causal;
};

/// out (B, H, L, Ev) contiguous, overwritten (=); fills a.p.
void block_sparse_attention_forward(const BlockSparseArgs<float>& a, float* out);
/// dq, dk, dv contiguous like q, k, v, overwritten (=); dout (B, H, L, Ev) contiguous;
/// ds: scratch shaped like a.p.
void block_sparse_attention_backward(const BlockSparseArgs<float>& a, const float* dout,
                                     float* dq, float* dk, float* dv, float* ds);
/// Reference kernels: plain loops, double accumulation; the f64 path and the oracle.
template <class T> void block_sparse_attention_forward_ref(const BlockSparseArgs<T>& a, T* out);
template <class T>
void block_sparse_attention_backward_ref(const BlockSparseArgs<T>& a, const T* dout, T* dq, T* dk,
                                         T* dv);

}  // namespace cf::ops::cpu
