// Fused scaled dot-product attention for 4-D f32 inputs without an explicit mask or dropout
// (optionally causal): the fast path behind scaled_dot_product_attention, whose composite form
// stays the oracle. Per (batch, head), in parallel over heads, with single-threaded GEMMs:
//   forward:  P = softmax(scale * Q K^T [causal: j <= i]),  O = P V        (P saved, L x S)
//   backward: dV = P^T dO,  dP = dO V^T,  dS = P * (dP - rowsum(dP * P)) * scale,
//             dQ = dS K,  dK = dS^T Q
// Shapes: q (B, NH, L, E), k (B, NH, S, E), v (B, NH, S, Ev) with unit stride in the last dim;
// the output and the input gradients are laid out as (B, L, NH, *) in memory and returned as
// (B, NH, L, *) views, so merging the heads back is free.
#pragma once
#include <cstdint>

#include "cformer/tensor.h"

namespace cf::ops {

/// True when the fast path applies (f32, 4-D, unit last-dim strides, no mask, no dropout).
bool fused_attention_applies(const Tensor& q, const Tensor& k, const Tensor& v);
/// Forward with autograd; the caller checked shapes and fused_attention_applies().
Tensor fused_attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, double scale);

namespace cpu {
struct AttentionArgs {
  const float* q;  // (B, NH, L, E), strides qs
  const float* k;  // (B, NH, S, E), strides ks
  const float* v;  // (B, NH, S, Ev), strides vs
  float* o;        // (B, NH, L, Ev), strides os
  float* p;        // (B, NH, L, S) contiguous: the saved probabilities
  int64_t qs[3], ks[3], vs[3], os[3];  // element strides of dims 0..2 (last dim stride 1)
  int64_t B, NH, L, S, E, Ev;
  float scale;
  bool causal;
};
void attention_forward(const AttentionArgs& a);
/// Gradients; dq/dk/dv strides as given, do_ the upstream gradient; ws: (threads, L, S) scratch.
void attention_backward(const AttentionArgs& a, const float* dout, const int64_t* dos, float* dq,
                        const int64_t* dqs, float* dk, const int64_t* dks, float* dv,
                        const int64_t* dvs, float* ws);
/// Reference: plain loops in double (the oracle for the kernels above).
void attention_forward_ref(const AttentionArgs& a);
}  // namespace cpu

}  // namespace cf::ops
