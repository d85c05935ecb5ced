// linear_attention: the normalized linear attention behind Performer (Choromanski et al. 2021):
//   out_i = sum_j (q_i . k_j) v_j / sum_j (q_i . k_j),  j over all keys, or j <= i when causal,
// with q = phi(Q) (B, H, L, M), k = phi(K) (B, H, S, M) non-negative features, v (B, H, S, Ev).
// PyTorch twin: D^-1 (q (k^T v)) with D = q (k^T 1), the causal form through cumsum
// (tools/golden/gen_effattn_b.py). Time O(B H (L + S) M Ev), memory O(L M + M Ev) per head.
// Bidirectional: S = k^T v (M, Ev), z = k^T 1, out = q S / (q z).
// Causal, in chunks of C positions with the running state (S, z) of the earlier chunks:
//   out_c = (q_c S + tril(q_c k_c^T) v_c) / (q_c z + rowsum tril(q_c k_c^T)); S += k_c^T v_c.
// Backward with g = dout: dnum = g / den, dden = -(g . out) / den; forward sweep for dq
// (dq_c = dnum_c S^T + dden_c z^T + A_c k_c, A_c = tril(dnum_c v_c^T + dden_c 1^T)), reverse
// sweep with G = sum_{later} q^T dnum, h = sum_{later} q^T dden for dk_c = v_c G^T + 1 h^T +
// A_c^T q_c and dv_c = k_c G + tril(q_c k_c^T)^T dnum_c. Saved: out, den (B, H, L) and, for the
// bidirectional f32 kernel, S and z (B, H, M Ev + M).
#pragma once
#include <cstdint>

namespace cf::ops::cpu {

template <class T> struct LinearAttentionArgs {
  const T* q;  // (BH, L, M) contiguous
  const T* k;  // (BH, S, M) contiguous
  const T* v;  // (BH, S, Ev) contiguous
  T* out;      // (BH, L, Ev) contiguous
  T* den;      // (BH, L) the normalizers
  T* state;    // (BH, M Ev + M) f32 bidirectional only: S (M, Ev) then z (M) per head, written
               // by the forward (null: not kept) and read by the backward (required there)
  int64_t BH, L, S, M, Ev;
  bool causal;  // requires L == S
};

/// Fills a.out, a.den and, when not null, a.state (=).
void linear_attention_forward(const LinearAttentionArgs<float>& a);
/// dq, dk, dv (=) contiguous like q, k, v; dout (BH, L, Ev) contiguous; reads a.out, a.den and
/// (bidirectional) a.state; ws: (BH, L, Ev + 1) scratch. The per-thread state (M, Ev) + two
/// (64, 64) tiles is on the heap.
void linear_attention_backward(const LinearAttentionArgs<float>& a, const float* dout, float* dq,
                               float* dk, float* dv, float* ws);
/// Reference kernels: the direct O(L S M) sums in double; the f64 path and the oracle.
template <class T> void linear_attention_forward_ref(const LinearAttentionArgs<T>& a);
template <class T>
void linear_attention_backward_ref(const LinearAttentionArgs<T>& a, const T* dout, T* dq, T* dk,
                                   T* dv);

}  // namespace cf::ops::cpu
