// Resampling kernels. The source indices and weights of every output row and column are computed
// once per call with PyTorch's formulas (float for f32, double for f64, as PyTorch's opmath);
// OpenMP over the P planes (each plane belongs to one thread, so the backward scatters need no
// atomics). Bilinear forward is separable: input rows interpolated along w once, then blended.
// The _ref kernels are plain loops with double accumulation.
#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/cpu/parallel.h"
#include "ops/upsample.h"

namespace cf::ops::cpu {
namespace {

// PyTorch's area_pixel_compute_scale (compute_scales_value without align_corners).
template <class A>
A area_scale(int64_t in, int64_t out, bool align_corners, double scale) {
  if (align_corners) return out > 1 ? static_cast<A>(in - 1) / static_cast<A>(out - 1) : A(0);
  return scale > 0.0 ? static_cast<A>(1.0 / scale) : static_cast<A>(in) / static_cast<A>(out);
}

// PyTorch's nearest_idx: the scale is a float for every dtype.
std::vector<int64_t> nearest_indices(int64_t in, int64_t out, double scale) {
  std::vector<int64_t> idx(out);
  const float r = area_scale<float>(in, out, false, scale);
  for (int64_t o = 0; o < out; ++o) {
    if (out == in)
      idx[o] = o;
    else if (out == 2 * in)
      idx[o] = o >> 1;
    else
      idx[o] = std::min(static_cast<int64_t>(std::floor(static_cast<float>(o) * r)), in - 1);
  }
  return idx;
}

// PyTorch's compute_source_index_and_lambda for every output index along one dim.
template <class A>
struct Linear {
  std::vector<int64_t> i0, i1;
  std::vector<A> l0, l1;
};
template <class A>
Linear<A> linear_indices(int64_t in, int64_t out, bool align_corners, double scale) {
  Linear<A> t{std::vector<int64_t>(out), std::vector<int64_t>(out), std::vector<A>(out),
              std::vector<A>(out)};
  const A r = area_scale<A>(in, out, align_corners, scale);
  for (int64_t o = 0; o < out; ++o) {
    if (out == in) {
      t.i0[o] = t.i1[o] = o;
      t.l0[o] = A(1);
      t.l1[o] = A(0);
      continue;
    }
    A src;
    if (align_corners) {
      src = r * static_cast<A>(o);
    } else {
      src = static_cast<A>(static_cast<double>(r) * (static_cast<double>(o) + 0.5) - 0.5);
      if (src < A(0)) src = A(0);
    }
    const int64_t i0 = static_cast<int64_t>(src);
    t.i0[o] = i0;
    t.i1[o] = i0 + (i0 < in - 1 ? 1 : 0);
    t.l1[o] = std::min(std::max(src - static_cast<A>(i0), A(0)), A(1));
    t.l0[o] = A(1) - t.l1[o];
  }
  return t;
}

template <class F>
void for_planes(int64_t P, int64_t per_plane, const F& f) {
  parallel_for(0, P, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(1, per_plane)),
               [&f](int64_t b, int64_t e) {
                 for (int64_t p = b; p < e; ++p) f(p);
               });
}

}  // namespace

// ---------------------------------------------------------------- nearest

void upsample_nearest2d_forward(const UpsampleArgs<float>& a) {
  const std::vector<int64_t> ih = nearest_indices(a.H, a.Ho, a.scale_h);
  const std::vector<int64_t> iw = nearest_indices(a.W, a.Wo, a.scale_w);
  const int64_t* ihp = ih.data();
  const int64_t* iwp = iw.data();
  for_planes(a.P, a.Ho * a.Wo, [&a, ihp, iwp](int64_t p) {
    const float* x = a.x + p * a.H * a.W;
    float* y = a.y + p * a.Ho * a.Wo;
    for (int64_t oh = 0; oh < a.Ho; ++oh) {
      float* yr = y + oh * a.Wo;
      if (oh > 0 && ihp[oh] == ihp[oh - 1]) {  // the same source row again: copy the output row
        std::copy(yr - a.Wo, yr, yr);
        continue;
      }
      const float* xr = x + ihp[oh] * a.W;
      for (int64_t ow = 0; ow < a.Wo; ++ow) yr[ow] = xr[iwp[ow]];
    }
  });
}

template <class T>
void upsample_nearest2d_forward_ref(const UpsampleArgs<T>& a) {
  const std::vector<int64_t> ih = nearest_indices(a.H, a.Ho, a.scale_h);
  const std::vector<int64_t> iw = nearest_indices(a.W, a.Wo, a.scale_w);
  for (int64_t p = 0; p < a.P; ++p)
    for (int64_t oh = 0; oh < a.Ho; ++oh)
      for (int64_t ow = 0; ow < a.Wo; ++ow)
        a.y[(p * a.Ho + oh) * a.Wo + ow] = a.x[(p * a.H + ih[oh]) * a.W + iw[ow]];
}

void upsample_nearest2d_backward(const UpsampleArgs<float>& a) {
  const std::vector<int64_t> ih = nearest_indices(a.H, a.Ho, a.scale_h);
  const std::vector<int64_t> iw = nearest_indices(a.W, a.Wo, a.scale_w);
  const int64_t* ihp = ih.data();
  const int64_t* iwp = iw.data();
  for_planes(a.P, a.Ho * a.Wo, [&a, ihp, iwp](int64_t p) {
    const float* g = a.x + p * a.Ho * a.Wo;
    float* dx = a.y + p * a.H * a.W;
    std::fill(dx, dx + a.H * a.W, 0.0f);
    for (int64_t oh = 0; oh < a.Ho; ++oh) {
      const float* gr = g + oh * a.Wo;
      float* dr = dx + ihp[oh] * a.W;
      for (int64_t ow = 0; ow < a.Wo; ++ow) dr[iwp[ow]] += gr[ow];
    }
  });
}

template <class T>
void upsample_nearest2d_backward_ref(const UpsampleArgs<T>& a) {
  const std::vector<int64_t> ih = nearest_indices(a.H, a.Ho, a.scale_h);
  const std::vector<int64_t> iw = nearest_indices(a.W, a.Wo, a.scale_w);
  std::vector<double> acc(a.H * a.W);
  for (int64_t p = 0; p < a.P; ++p) {
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int64_t oh = 0; oh < a.Ho; ++oh)
      for (int64_t ow = 0; ow < a.Wo; ++ow)
        acc[ih[oh] * a.W + iw[ow]] += a.x[(p * a.Ho + oh) * a.Wo + ow];
    for (int64_t i = 0; i < a.H * a.W; ++i) a.y[p * a.H * a.W + i] = static_cast<T>(acc[i]);
  }
}

// ---------------------------------------------------------------- bilinear

// Separable: each needed input row is interpolated along w once (t = w0 x[c0] + w1 x[c1]),
// then output rows blend two of them (h0 t0 + h1 t1): the same products PyTorch forms.
void upsample_bilinear2d_forward(const UpsampleArgs<float>& a) {
  const Linear<float> th = linear_indices<float>(a.H, a.Ho, a.align_corners, a.scale_h);
  const Linear<float> tw = linear_indices<float>(a.W, a.Wo, a.align_corners, a.scale_w);
  const int64_t Wo = a.Wo;
  const int64_t* c0 = tw.i0.data();
  const int64_t* c1 = tw.i1.data();
  const float* w0 = tw.l0.data();
  const float* w1 = tw.l1.data();
  parallel_for(0, a.P, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(1, a.Ho * Wo)),
               [&a, &th, Wo, c0, c1, w0, w1](int64_t b, int64_t e) {
                 // Two cached horizontally interpolated rows, keyed by input row.
                 std::vector<float> buf(2 * Wo);
                 float* rows[2] = {buf.data(), buf.data() + Wo};
                 int64_t keys[2];
                 for (int64_t p = b; p < e; ++p) {
                   const float* x = a.x + p * a.H * a.W;
                   float* y = a.y + p * a.Ho * Wo;
                   keys[0] = keys[1] = -1;
                   auto row = [&rows, &keys, x, &a, Wo, c0, c1, w0, w1](int64_t ih,
                                                                        int slot) -> const float* {
                     if (keys[0] == ih) return rows[0];
                     if (keys[1] == ih) return rows[1];
                     float* t = rows[slot];
                     const float* r = x + ih * a.W;
#pragma omp simd
                     for (int64_t ow = 0; ow < Wo; ++ow)
                       t[ow] = w0[ow] * r[c0[ow]] + w1[ow] * r[c1[ow]];
                     keys[slot] = ih;
                     return t;
                   };
                   for (int64_t oh = 0; oh < a.Ho; ++oh) {
                     // Slots: keep whichever cached row the other index still uses.
                     const int64_t i0 = th.i0[oh], i1 = th.i1[oh];
                     const int s0 = keys[1] == i1 ? 0 : 1;
                     const float* t0 = row(i0, s0);
                     const int s1 = keys[0] == i0 ? 1 : 0;
                     const float* t1 = row(i1, s1);
                     const float h0 = th.l0[oh], h1 = th.l1[oh];
                     float* yr = y + oh * Wo;
#pragma omp simd
                     for (int64_t ow = 0; ow < Wo; ++ow) yr[ow] = h0 * t0[ow] + h1 * t1[ow];
                   }
                 }
               });
}

template <class T>
void upsample_bilinear2d_forward_ref(const UpsampleArgs<T>& a) {
  const Linear<T> th = linear_indices<T>(a.H, a.Ho, a.align_corners, a.scale_h);
  const Linear<T> tw = linear_indices<T>(a.W, a.Wo, a.align_corners, a.scale_w);
  for (int64_t p = 0; p < a.P; ++p)
    for (int64_t oh = 0; oh < a.Ho; ++oh)
      for (int64_t ow = 0; ow < a.Wo; ++ow) {
        auto at = [&a, p](int64_t h, int64_t w) -> double { return a.x[(p * a.H + h) * a.W + w]; };
        const double v = double(th.l0[oh]) * (double(tw.l0[ow]) * at(th.i0[oh], tw.i0[ow]) +
                                              double(tw.l1[ow]) * at(th.i0[oh], tw.i1[ow])) +
                         double(th.l1[oh]) * (double(tw.l0[ow]) * at(th.i1[oh], tw.i0[ow]) +
                                              double(tw.l1[ow]) * at(th.i1[oh], tw.i1[ow]));
        a.y[(p * a.Ho + oh) * a.Wo + ow] = static_cast<T>(v);
      }
}

void upsample_bilinear2d_backward(const UpsampleArgs<float>& a) {
  const Linear<float> th = linear_indices<float>(a.H, a.Ho, a.align_corners, a.scale_h);
  const Linear<float> tw = linear_indices<float>(a.W, a.Wo, a.align_corners, a.scale_w);
  for_planes(a.P, a.Ho * a.Wo, [&a, &th, &tw](int64_t p) {
    const float* g = a.x + p * a.Ho * a.Wo;
    float* dx = a.y + p * a.H * a.W;
    std::fill(dx, dx + a.H * a.W, 0.0f);
    for (int64_t oh = 0; oh < a.Ho; ++oh) {
      float* r0 = dx + th.i0[oh] * a.W;
      float* r1 = dx + th.i1[oh] * a.W;
      const float h0 = th.l0[oh], h1 = th.l1[oh];
      const float* gr = g + oh * a.Wo;
      for (int64_t ow = 0; ow < a.Wo; ++ow) {
        const int64_t c0 = tw.i0[ow], c1 = tw.i1[ow];
        const float w0 = tw.l0[ow] * gr[ow], w1 = tw.l1[ow] * gr[ow];
        r0[c0] += h0 * w0;
        r0[c1] += h0 * w1;
        r1[c0] += h1 * w0;
        r1[c1] += h1 * w1;
      }
    }
  });
}

template <class T>
void upsample_bilinear2d_backward_ref(const UpsampleArgs<T>& a) {
  const Linear<T> th = linear_indices<T>(a.H, a.Ho, a.align_corners, a.scale_h);
  const Linear<T> tw = linear_indices<T>(a.W, a.Wo, a.align_corners, a.scale_w);
  std::vector<double> acc(a.H * a.W);
  for (int64_t p = 0; p < a.P; ++p) {
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int64_t oh = 0; oh < a.Ho; ++oh)
      for (int64_t ow = 0; ow < a.Wo; ++ow) {
        const double g = a.x[(p * a.Ho + oh) * a.Wo + ow];
        const double h[2] = {double(th.l0[oh]), double(th.l1[oh])};
        const double w[2] = {double(tw.l0[ow]), double(tw.l1[ow])};
        const int64_t hi[2] = {th.i0[oh], th.i1[oh]}, wi[2] = {tw.i0[ow], tw.i1[ow]};
        for (int u = 0; u < 2; ++u)
          for (int v = 0; v < 2; ++v) acc[hi[u] * a.W + wi[v]] += h[u] * w[v] * g;
      }
    for (int64_t i = 0; i < a.H * a.W; ++i) a.y[p * a.H * a.W + i] = static_cast<T>(acc[i]);
  }
}

template void upsample_nearest2d_forward_ref<float>(const UpsampleArgs<float>&);
template void upsample_nearest2d_forward_ref<double>(const UpsampleArgs<double>&);
template void upsample_nearest2d_backward_ref<float>(const UpsampleArgs<float>&);
template void upsample_nearest2d_backward_ref<double>(const UpsampleArgs<double>&);
template void upsample_bilinear2d_forward_ref<float>(const UpsampleArgs<float>&);
template void upsample_bilinear2d_forward_ref<double>(const UpsampleArgs<double>&);
template void upsample_bilinear2d_backward_ref<float>(const UpsampleArgs<float>&);
template void upsample_bilinear2d_backward_ref<double>(const UpsampleArgs<double>&);

}  // namespace cf::ops::cpu
