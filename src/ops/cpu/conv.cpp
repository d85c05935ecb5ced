// conv2d kernels. f32: per image and group, im2col (K = C/G KH KW rows of L = OH OW) and one
// GEMM (ops/cpu/gemm.h); a 1x1 stride-1 unpadded conv multiplies the image itself. Images run in
// parallel (each thread its own column buffer and weight-gradient accumulator, GEMMs
// single-threaded) when there are at least as many as threads, else one after the other with
// multi-threaded GEMMs. Convs whose output channels each read one input channel (depthwise,
// C/G = 1) use direct loops over the planes instead. The _ref kernels are plain loops in double.
// See Note [conv] in docs/notes/conv.md.
#include <algorithm>
#include <cstring>
#include <vector>

#include "ops/conv.h"
#include "ops/cpu/gemm.h"
#include "ops/cpu/parallel.h"

namespace cf::ops::cpu {
namespace {

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The outputs ow whose input column ow SW + off lies in [0, W): [lo, hi).
struct Span {
  int64_t lo, hi;
};
inline Span valid_span(int64_t off, int64_t S, int64_t W, int64_t OW) {
  const int64_t lo = off >= 0 ? 0 : std::min(OW, ceil_div(-off, S));
  const int64_t hi = off >= W ? lo : std::max(lo, std::min(OW, (W - 1 - off) / S + 1));
  return {lo, hi};
}

// col (C/G KH KW, OH OW) from one image's group of channels x (C/G, H, W).
void im2col(const float* x, const Conv2dGeometry& g, float* col) {
  const int64_t Cg = g.C / g.G, L = g.OH * g.OW, HW = g.H * g.W;
  for (int64_t c = 0; c < Cg; ++c) {
    const float* xc = x + c * HW;
    for (int64_t i = 0; i < g.KH; ++i) {
      for (int64_t j = 0; j < g.KW; ++j) {
        float* row = col + ((c * g.KH + i) * g.KW + j) * L;
        const int64_t off = j * g.DW - g.PW;
        const Span s = valid_span(off, g.SW, g.W, g.OW);
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          float* r = row + oh * g.OW;
          const int64_t ih = oh * g.SH - g.PH + i * g.DH;
          if (ih < 0 || ih >= g.H) {
            std::fill(r, r + g.OW, 0.0f);
            continue;
          }
          const float* xr = xc + ih * g.W;
          std::fill(r, r + s.lo, 0.0f);
          if (g.SW == 1) {
            std::memcpy(r + s.lo, xr + s.lo + off, sizeof(float) * (s.hi - s.lo));
          } else {
            for (int64_t ow = s.lo; ow < s.hi; ++ow) r[ow] = xr[ow * g.SW + off];
          }
          std::fill(r + s.hi, r + g.OW, 0.0f);
        }
      }
    }
  }
}

// dx (C/G, H, W) = the columns dcol (C/G KH KW, OH OW) summed back onto the image.
void col2im(const float* dcol, const Conv2dGeometry& g, float* dx) {
  const int64_t Cg = g.C / g.G, L = g.OH * g.OW, HW = g.H * g.W;
  std::fill(dx, dx + Cg * HW, 0.0f);
  for (int64_t c = 0; c < Cg; ++c) {
    float* dxc = dx + c * HW;
    for (int64_t i = 0; i < g.KH; ++i) {
      for (int64_t j = 0; j < g.KW; ++j) {
        const float* row = dcol + ((c * g.KH + i) * g.KW + j) * L;
        const int64_t off = j * g.DW - g.PW;
        const Span s = valid_span(off, g.SW, g.W, g.OW);
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const int64_t ih = oh * g.SH - g.PH + i * g.DH;
          if (ih < 0 || ih >= g.H) continue;
          const float* r = row + oh * g.OW;
          float* dr = dxc + ih * g.W;
          if (g.SW == 1) {
#pragma omp simd
            for (int64_t ow = s.lo; ow < s.hi; ++ow) dr[ow + off] += r[ow];
          } else {
            for (int64_t ow = s.lo; ow < s.hi; ++ow) dr[ow * g.SW + off] += r[ow];
          }
        }
      }
    }
  }
}

bool is_pointwise(const Conv2dGeometry& g) {
  return g.KH == 1 && g.KW == 1 && g.SH == 1 && g.SW == 1 && g.PH == 0 && g.PW == 0;
}

// Each output channel reads one input channel: C/G = 1 (depthwise and channel multipliers).
bool is_direct(const Conv2dGeometry& g) { return g.C == g.G; }

// Threads for a loop over the N images: all of them when every thread gets an image.
int image_threads(int64_t N) {
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  return N >= threads ? threads : 1;
}

// Calls f(tid, n0, n1) on `nt` threads, each with a contiguous range of images.
template <class F>
void for_images(int64_t N, int nt, const F& f) {
  if (nt <= 1) {
    f(0, int64_t{0}, N);
    return;
  }
#pragma omp parallel num_threads(nt)
  {
    const int tid = omp_get_thread_num();
    const int64_t chunk = ceil_div(N, omp_get_num_threads());
    const int64_t n0 = std::min(N, tid * chunk), n1 = std::min(N, n0 + chunk);
    f(tid, n0, n1);
  }
}

// --- direct kernels (C/G = 1): one output plane (OH, OW) from one input plane (H, W).

void direct_forward_plane(const float* x, const float* w, float bias, const Conv2dGeometry& g,
                          float* y) {
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    float* yr = y + oh * g.OW;
    std::fill(yr, yr + g.OW, bias);
    for (int64_t i = 0; i < g.KH; ++i) {
      const int64_t ih = oh * g.SH - g.PH + i * g.DH;
      if (ih < 0 || ih >= g.H) continue;
      const float* xr = x + ih * g.W;
      for (int64_t j = 0; j < g.KW; ++j) {
        const float wv = w[i * g.KW + j];
        const int64_t off = j * g.DW - g.PW;
        const Span s = valid_span(off, g.SW, g.W, g.OW);
        if (g.SW == 1) {
#pragma omp simd
          for (int64_t ow = s.lo; ow < s.hi; ++ow) yr[ow] += wv * xr[ow + off];
        } else {
          for (int64_t ow = s.lo; ow < s.hi; ++ow) yr[ow] += wv * xr[ow * g.SW + off];
        }
      }
    }
  }
}

// dx (H, W) += the plane dy (OH, OW) spread through the kernel w (KH, KW).
void direct_input_plane(const float* dy, const float* w, const Conv2dGeometry& g, float* dx) {
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    const float* dr = dy + oh * g.OW;
    for (int64_t i = 0; i < g.KH; ++i) {
      const int64_t ih = oh * g.SH - g.PH + i * g.DH;
      if (ih < 0 || ih >= g.H) continue;
      float* xr = dx + ih * g.W;
      for (int64_t j = 0; j < g.KW; ++j) {
        const float wv = w[i * g.KW + j];
        const int64_t off = j * g.DW - g.PW;
        const Span s = valid_span(off, g.SW, g.W, g.OW);
        if (g.SW == 1) {
#pragma omp simd
          for (int64_t ow = s.lo; ow < s.hi; ++ow) xr[ow + off] += wv * dr[ow];
        } else {
          for (int64_t ow = s.lo; ow < s.hi; ++ow) xr[ow * g.SW + off] += wv * dr[ow];
        }
      }
    }
  }
}

// dw (KH, KW) += the correlation of dy (OH, OW) with x (H, W).
void direct_weight_plane(const float* x, const float* dy, const Conv2dGeometry& g, float* dw) {
  for (int64_t i = 0; i < g.KH; ++i) {
    for (int64_t j = 0; j < g.KW; ++j) {
      const int64_t off = j * g.DW - g.PW;
      const Span s = valid_span(off, g.SW, g.W, g.OW);
      float acc = 0.0f;
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        const int64_t ih = oh * g.SH - g.PH + i * g.DH;
        if (ih < 0 || ih >= g.H) continue;
        const float* xr = x + ih * g.W;
        const float* dr = dy + oh * g.OW;
        if (g.SW == 1) {
#pragma omp simd reduction(+ : acc)
          for (int64_t ow = s.lo; ow < s.hi; ++ow) acc += dr[ow] * xr[ow + off];
        } else {
          for (int64_t ow = s.lo; ow < s.hi; ++ow) acc += dr[ow] * xr[ow * g.SW + off];
        }
      }
      dw[i * g.KW + j] += acc;
    }
  }
}

void direct_forward(const Conv2dArgs<float>& a) {
  const Conv2dGeometry& g = a.g;
  const int64_t Og = g.O / g.G, L = g.OH * g.OW, HW = g.H * g.W, KK = g.KH * g.KW;
  const int64_t planes = g.N * g.O;
  parallel_for(0, planes, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(1, L * KK)),
               [&a, &g, Og, L, HW, KK](int64_t b, int64_t e) {
                 for (int64_t p = b; p < e; ++p) {
                   const int64_t n = p / g.O, o = p % g.O;
                   direct_forward_plane(a.x + (n * g.C + o / Og) * HW, a.w + o * KK,
                                        a.b ? a.b[o] : 0.0f, g, a.y + p * L);
                 }
               });
}

void direct_backward_input(const Conv2dBackwardInputArgs<float>& a) {
  const Conv2dGeometry& g = a.g;
  const int64_t Og = g.O / g.G, L = g.OH * g.OW, HW = g.H * g.W, KK = g.KH * g.KW;
  const int64_t planes = g.N * g.C;
  parallel_for(0, planes, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(1, Og * L * KK)),
               [&a, &g, Og, L, HW, KK](int64_t b, int64_t e) {
                 for (int64_t p = b; p < e; ++p) {
                   const int64_t n = p / g.C, c = p % g.C;
                   float* dx = a.dx + p * HW;
                   std::fill(dx, dx + HW, a.b ? a.b[c] : 0.0f);
                   for (int64_t o = c * Og; o < (c + 1) * Og; ++o)
                     direct_input_plane(a.dy + (n * g.O + o) * L, a.w + o * KK, g, dx);
                 }
               });
}

void direct_backward_weight(const Conv2dBackwardWeightArgs<float>& a) {
  const Conv2dGeometry& g = a.g;
  const int64_t Og = g.O / g.G, L = g.OH * g.OW, HW = g.H * g.W, KK = g.KH * g.KW;
  parallel_for(0, g.O, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(1, g.N * L * KK)),
               [&a, &g, Og, L, HW, KK](int64_t b, int64_t e) {
                 for (int64_t o = b; o < e; ++o) {
                   float* dw = a.dw + o * KK;
                   std::fill(dw, dw + KK, 0.0f);
                   for (int64_t n = 0; n < g.N; ++n)
                     direct_weight_plane(a.x + (n * g.C + o / Og) * HW, a.dy + (n * g.O + o) * L,
                                         g, dw);
                 }
               });
}

// db[o] = sum of dy over the images and the plane.
void bias_grad(const float* dy, const Conv2dGeometry& g, float* db) {
  const int64_t L = g.OH * g.OW;
  parallel_for(0, g.O, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(1, g.N * L)),
               [dy, &g, L, db](int64_t b, int64_t e) {
                 for (int64_t o = b; o < e; ++o) {
                   float acc = 0.0f;
                   for (int64_t n = 0; n < g.N; ++n) {
                     const float* d = dy + (n * g.O + o) * L;
#pragma omp simd reduction(+ : acc)
                     for (int64_t l = 0; l < L; ++l) acc += d[l];
                   }
                   db[o] = acc;
                 }
               });
}

}  // namespace

void conv2d_forward(const Conv2dArgs<float>& a) {
  const Conv2dGeometry& g = a.g;
  const int64_t Cg = g.C / g.G, Og = g.O / g.G, K = Cg * g.KH * g.KW, L = g.OH * g.OW,
                HW = g.H * g.W;
  if (g.N * g.O * L == 0) return;
  if (K == 0) {
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t o = 0; o < g.O; ++o)
        std::fill(a.y + (n * g.O + o) * L, a.y + (n * g.O + o + 1) * L, a.b ? a.b[o] : 0.0f);
    return;
  }
  if (is_direct(g)) {
    direct_forward(a);
    return;
  }
  const bool pointwise = is_pointwise(g);
  for_images(g.N, image_threads(g.N), [&a, &g, Cg, Og, K, L, HW, pointwise](int, int64_t n0,
                                                                             int64_t n1) {
    std::vector<float> col(pointwise ? 0 : K * L);
    for (int64_t n = n0; n < n1; ++n) {
      for (int64_t grp = 0; grp < g.G; ++grp) {
        const float* xg = a.x + (n * g.C + grp * Cg) * HW;
        if (!pointwise) im2col(xg, g, col.data());
        float* yg = a.y + (n * g.O + grp * Og) * L;
        gemm(false, false, Og, L, K, 1.0f, a.w + grp * Og * K, K, pointwise ? xg : col.data(), L,
             0.0f, yg, L);
        if (!a.b) continue;
        for (int64_t o = 0; o < Og; ++o) {
          const float bv = a.b[grp * Og + o];
          float* r = yg + o * L;
#pragma omp simd
          for (int64_t l = 0; l < L; ++l) r[l] += bv;
        }
      }
    }
  });
}

void conv2d_backward_input(const Conv2dBackwardInputArgs<float>& a) {
  const Conv2dGeometry& g = a.g;
  const int64_t Cg = g.C / g.G, Og = g.O / g.G, K = Cg * g.KH * g.KW, L = g.OH * g.OW,
                HW = g.H * g.W;
  if (g.N * g.C * HW == 0) return;
  if (g.O == 0 || L == 0) {
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t c = 0; c < g.C; ++c)
        std::fill(a.dx + (n * g.C + c) * HW, a.dx + (n * g.C + c + 1) * HW, a.b ? a.b[c] : 0.0f);
    return;
  }
  if (is_direct(g)) {
    direct_backward_input(a);
    return;
  }
  const bool pointwise = is_pointwise(g);
  for_images(g.N, image_threads(g.N), [&a, &g, Cg, Og, K, L, HW, pointwise](int, int64_t n0,
                                                                             int64_t n1) {
    std::vector<float> dcol(pointwise ? 0 : K * L);
    for (int64_t n = n0; n < n1; ++n) {
      for (int64_t grp = 0; grp < g.G; ++grp) {
        const float* dyg = a.dy + (n * g.O + grp * Og) * L;
        float* dxg = a.dx + (n * g.C + grp * Cg) * HW;
        const float* wg = a.w + grp * Og * K;
        if (pointwise) {
          gemm(true, false, Cg, HW, Og, 1.0f, wg, K, dyg, L, 0.0f, dxg, HW);
        } else {
          gemm(true, false, K, L, Og, 1.0f, wg, K, dyg, L, 0.0f, dcol.data(), L);
          col2im(dcol.data(), g, dxg);
        }
        if (!a.b) continue;
        for (int64_t c = 0; c < Cg; ++c) {
          const float bv = a.b[grp * Cg + c];
          float* r = dxg + c * HW;
#pragma omp simd
          for (int64_t l = 0; l < HW; ++l) r[l] += bv;
        }
      }
    }
  });
}

void conv2d_backward_weight(const Conv2dBackwardWeightArgs<float>& a) {
  const Conv2dGeometry& g = a.g;
  const int64_t Cg = g.C / g.G, Og = g.O / g.G, K = Cg * g.KH * g.KW, L = g.OH * g.OW,
                HW = g.H * g.W;
  if (a.db) bias_grad(a.dy, g, a.db);
  if (!a.dw || g.O * K == 0) return;
  if (g.N * L == 0) {
    std::fill(a.dw, a.dw + g.O * K, 0.0f);
    return;
  }
  if (is_direct(g)) {
    direct_backward_weight(a);
    return;
  }
  const bool pointwise = is_pointwise(g);
  const int nt = image_threads(g.N);
  // Thread 0 accumulates into dw itself, the others into their own copies, summed at the end.
  std::vector<float> partial((nt - 1) * g.O * K);
  for_images(g.N, nt, [&a, &g, &partial, Cg, Og, K, L, HW, pointwise](int tid, int64_t n0,
                                                                       int64_t n1) {
    float* dw = tid == 0 ? a.dw : partial.data() + (tid - 1) * g.O * K;
    if (n0 == n1) {
      std::fill(dw, dw + g.O * K, 0.0f);
      return;
    }
    std::vector<float> col(pointwise ? 0 : K * L);
    for (int64_t n = n0; n < n1; ++n) {
      for (int64_t grp = 0; grp < g.G; ++grp) {
        const float* xg = a.x + (n * g.C + grp * Cg) * HW;
        if (!pointwise) im2col(xg, g, col.data());
        gemm(false, true, Og, K, L, 1.0f, a.dy + (n * g.O + grp * Og) * L, L,
             pointwise ? xg : col.data(), L, n == n0 ? 0.0f : 1.0f, dw + grp * Og * K, K);
      }
    }
  });
  const int64_t total = g.O * K;
  for (int t = 1; t < nt; ++t) {
    const float* p = partial.data() + (t - 1) * total;
#pragma omp simd
    for (int64_t i = 0; i < total; ++i) a.dw[i] += p[i];
  }
}

template <class T>
void conv2d_forward_ref(const Conv2dArgs<T>& a) {
  const Conv2dGeometry& g = a.g;
  const int64_t Cg = g.C / g.G, Og = g.O / g.G;
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t o = 0; o < g.O; ++o)
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          double acc = a.b ? static_cast<double>(a.b[o]) : 0.0;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t i = 0; i < g.KH; ++i) {
              const int64_t ih = oh * g.SH - g.PH + i * g.DH;
              if (ih < 0 || ih >= g.H) continue;
              for (int64_t j = 0; j < g.KW; ++j) {
                const int64_t iw = ow * g.SW - g.PW + j * g.DW;
                if (iw < 0 || iw >= g.W) continue;
                const int64_t ci = (o / Og) * Cg + c;
                acc += static_cast<double>(a.w[((o * Cg + c) * g.KH + i) * g.KW + j]) *
                       static_cast<double>(a.x[((n * g.C + ci) * g.H + ih) * g.W + iw]);
              }
            }
          a.y[((n * g.O + o) * g.OH + oh) * g.OW + ow] = static_cast<T>(acc);
        }
}

template <class T>
void conv2d_backward_input_ref(const Conv2dBackwardInputArgs<T>& a) {
  const Conv2dGeometry& g = a.g;
  const int64_t Cg = g.C / g.G, Og = g.O / g.G;
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t ci = 0; ci < g.C; ++ci)
      for (int64_t ih = 0; ih < g.H; ++ih)
        for (int64_t iw = 0; iw < g.W; ++iw) {
          double acc = a.b ? static_cast<double>(a.b[ci]) : 0.0;
          const int64_t grp = ci / Cg, c = ci % Cg;
          for (int64_t o = grp * Og; o < (grp + 1) * Og; ++o)
            for (int64_t i = 0; i < g.KH; ++i) {
              const int64_t th = ih + g.PH - i * g.DH;
              if (th < 0 || th % g.SH != 0 || th / g.SH >= g.OH) continue;
              for (int64_t j = 0; j < g.KW; ++j) {
                const int64_t tw = iw + g.PW - j * g.DW;
                if (tw < 0 || tw % g.SW != 0 || tw / g.SW >= g.OW) continue;
                acc += static_cast<double>(a.w[((o * Cg + c) * g.KH + i) * g.KW + j]) *
                       static_cast<double>(
                           a.dy[((n * g.O + o) * g.OH + th / g.SH) * g.OW + tw / g.SW]);
              }
            }
          a.dx[((n * g.C + ci) * g.H + ih) * g.W + iw] = static_cast<T>(acc);
        }
}

template <class T>
void conv2d_backward_weight_ref(const Conv2dBackwardWeightArgs<T>& a) {
  const Conv2dGeometry& g = a.g;
  const int64_t Cg = g.C / g.G, Og = g.O / g.G, L = g.OH * g.OW;
  if (a.db)
    for (int64_t o = 0; o < g.O; ++o) {
      double acc = 0.0;
      for (int64_t n = 0; n < g.N; ++n)
        for (int64_t l = 0; l < L; ++l) acc += static_cast<double>(a.dy[(n * g.O + o) * L + l]);
      a.db[o] = static_cast<T>(acc);
    }
  if (!a.dw) return;
  for (int64_t o = 0; o < g.O; ++o)
    for (int64_t c = 0; c < Cg; ++c)
      for (int64_t i = 0; i < g.KH; ++i)
        for (int64_t j = 0; j < g.KW; ++j) {
          double acc = 0.0;
          const int64_t ci = (o / Og) * Cg + c;
          for (int64_t n = 0; n < g.N; ++n)
            for (int64_t oh = 0; oh < g.OH; ++oh) {
              const int64_t ih = oh * g.SH - g.PH + i * g.DH;
              if (ih < 0 || ih >= g.H) continue;
              for (int64_t ow = 0; ow < g.OW; ++ow) {
                const int64_t iw = ow * g.SW - g.PW + j * g.DW;
                if (iw < 0 || iw >= g.W) continue;
                acc += static_cast<double>(a.dy[((n * g.O + o) * g.OH + oh) * g.OW + ow]) *
                       static_cast<double>(a.x[((n * g.C + ci) * g.H + ih) * g.W + iw]);
              }
            }
          a.dw[((o * Cg + c) * g.KH + i) * g.KW + j] = static_cast<T>(acc);
        }
}

template void conv2d_forward_ref<float>(const Conv2dArgs<float>&);
template void conv2d_forward_ref<double>(const Conv2dArgs<double>&);
template void conv2d_backward_input_ref<float>(const Conv2dBackwardInputArgs<float>&);
template void conv2d_backward_input_ref<double>(const Conv2dBackwardInputArgs<double>&);
template void conv2d_backward_weight_ref<float>(const Conv2dBackwardWeightArgs<float>&);
template void conv2d_backward_weight_ref<double>(const Conv2dBackwardWeightArgs<double>&);

}  // namespace cf::ops::cpu
