// longformer_attention: sliding-window attention with global tokens (Beltagy et al. 2020,
// "Longformer"), with the projections Hugging Face's LongformerSelfAttention uses.
// Dims: B batch, NH heads, N positions, E head dim of q / k, Ev of v, w the one-sided window,
// d the dilation, G = max over the batch of the number of global tokens.
// A local query i (global[i] false) attends, with ONE softmax, to
//   { j = i + d t : |t| <= w, 0 <= j < N, j not global } ∪ { every global j },  padded j excluded,
// with scores scale * q_i . k_j and values v_j (the ordinary projections, global keys included).
// A global query i attends to every unpadded key j with scale * qg_i . kg_j and values vg_j.
// Twin: dense softmax(scores masked by that rule) v, rows mixed as above. A row with nothing to
// attend gives 0. f32: banded probabilities P (B, NH, N, 2w+1), P to the global keys (B, NH, N, G)
// and the global rows' P (B, NH, G, N) are saved; backward computes dS per row (dq, dqg), then
// gathers dk, dv, dkg, dvg per key, so no two threads write one row. Kernels overwrite (=).
#pragma once
#include <cstdint>

namespace cf::ops::cpu {

template <class T>
struct LongformerArgs {
  const T *q, *k, *qg, *kg;  // (B, NH, N, E)
  const T *v, *vg;           // (B, NH, N, Ev)
  const bool* global;        // (B, N) true = global token
  const bool* kpm;           // (B, N) true = padded key, or null
  const int64_t* gidx;       // (B, G): the global positions in order, then -1
  int64_t B, NH, N, E, Ev, w, d, G;
  T scale;
};

/// Saved probabilities of the f32 kernel.
struct LongformerProbs {
  float* band;  // (B, NH, N, 2w+1): local row i, key i + d (t - w); 0 where not attended
  float* glob;  // (B, NH, N, G): local row i, global key gidx[b][g]
  float* rows;  // (B, NH, G, N): global row gidx[b][g], every key
};

void longformer_forward(const LongformerArgs<float>& a, float* o, const LongformerProbs& p);
/// dout (B, NH, N, Ev); ds: scratch laid out like p (receives dS); gradients like the inputs
/// (null: not needed).
void longformer_backward(const LongformerArgs<float>& a, const LongformerProbs& p,
                         const LongformerProbs& ds, const float* dout, float* dq, float* dk, float* dv, float* dqg, float* dkg,
                         float* dvg);
/// Reference: the rule above tested key by key for every (i, j), double accumulation; the
/// backward recomputes the probabilities. Also the f64 path.
template <class T> void longformer_forward_ref(const LongformerArgs<T>& a, T* o);
template <class T>
void longformer_backward_ref(const LongformerArgs<T>& a, const T* dout, T* dq, T* dk, T* dv,
                             T* dqg, T* dkg, T* dvg);

}  // namespace cf::ops::cpu
