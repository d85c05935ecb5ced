// memory_efficient_attention: exact attention in tiles (FlashAttention, Dao et al. 2022, with
// FlashAttention-2's loop order). Dims: B batch, NH heads, L queries, S keys, E head dim of q / k,
// Ev of v. Twin: torch.softmax(q @ k.mT * scale + mask, -1) @ v (mask: causal j > i, padding).
//   forward, per query row i over key tiles:  m_i = max(m_i, max_j s_ij),
//     l_i = l_i e^(m_old - m_i) + sum_j e^(s_ij - m_i),  o_i = o_i e^(m_old - m_i) + sum_j e^(s_ij - m_i) v_j;
//     finally o_i /= l_i and lse_i = m_i + log l_i (saved with the output, nothing else).
//   backward, per tile pair: P = e^(S - lse),  dV += P^T dO,  dP = dO V^T,
//     dS = P (dP - D) scale with D_i = rowsum(dO_i * O_i),  dQ += dS K,  dK += dS^T Q.
// A fully masked row: l_i = 0, o_i = 0, lse_i = -inf, so P = 0 there and its gradients are 0.
// Kernels overwrite their outputs (=). All tensors contiguous.
#pragma once
#include <cstdint>

namespace cf::ops::cpu {

template <class T>
struct MeaArgs {
  const T* q;         // (B, NH, L, E)
  const T* k;         // (B, NH, S, E)
  const T* v;         // (B, NH, S, Ev)
  const bool* kpm;    // (B, S) true = masked key, or null
  int64_t B, NH, L, S, E, Ev;
  T scale;
  bool causal;
};

/// o (B, NH, L, Ev), lse (B, NH, L).
void mea_forward(const MeaArgs<float>& a, float* o, float* lse);
/// dout (B, NH, L, Ev); o, lse from the forward; dq, dk, dv like q, k, v (null: not needed).
void mea_backward(const MeaArgs<float>& a, const float* o, const float* lse, const float* dout,
                  float* dq, float* dk, float* dv);
/// Reference: plain loops with double accumulation, one row at a time (also the f64 path).
template <class T> void mea_forward_ref(const MeaArgs<T>& a, T* o, T* lse);
template <class T>
void mea_backward_ref(const MeaArgs<T>& a, const T* o, const T* lse, const T* dout, T* dq, T* dk,
                      T* dv);

}  // namespace cf::ops::cpu
