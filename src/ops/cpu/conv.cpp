// conv2d kernels. f32: oneDNN's convolution primitives (ops/cpu/conv_dnnl.cpp) where the
// measured rule in use_onednn says they are faster; else per image and group, im2col
// (K = C/G KH KW rows of L = OH OW) and one GEMM (ops/cpu/gemm.h); a 1x1 stride-1 unpadded conv
// multiplies the image itself. Images run in parallel (each thread its own column buffer and
// weight-gradient accumulator, GEMMs single-threaded) when there are at least as many as
// threads, else one after the other with multi-threaded GEMMs. Convs whose output channels each
// read one input channel (depthwise, C/G = 1) use direct loops over the planes instead. The _ref
// kernels are plain loops in double. See Note [conv] in docs/notes/conv.md.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "ops/conv.h"
#include "ops/cpu/conv_dnnl.h"
#include "ops/cpu/gemm.h"
#include "ops/cpu/parallel.h"
#include "ops/cpu/vec.h"
#include "util/check.h"

namespace cf::ops::cpu {
namespace {

constexpr int kW = VecF::kWidth;

// dst[0, n) = src[0, n) and dst[0, n) += src[0, n) for the short rows of im2col / col2im (a 14x14
// output has rows of 14): whole vectors and one masked tail, no call and no scalar loop.
inline void copy_row(const float* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + kW <= n; i += kW) VecF::load(src + i).store(dst + i);
  if (i < n) VecF::load(src + i, static_cast<int>(n - i)).store(dst + i, static_cast<int>(n - i));
}
inline void add_row(const float* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + kW <= n; i += kW) (VecF::load(dst + i) + VecF::load(src + i)).store(dst + i);
  if (i < n) {
    const int k = static_cast<int>(n - i);
    (VecF::load(dst + i, k) + VecF::load(src + i, k)).store(dst + i, k);
  }
}

inline int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

// The outputs ow whose input column ow SW + off lies in [0, W): [lo, hi).
struct Span {
  int64_t lo, hi;
};
inline Span valid_span(int64_t off, int64_t S, int64_t W, int64_t OW) {
  const int64_t lo = off >= 0 ? 0 : std::min(OW, ceil_div(-off, S));
  const int64_t hi = off >= W ? lo : std::max(lo, std::min(OW, (W - 1 - off) / S + 1));
  return {lo, hi};
}

bool is_pointwise(const Conv2dGeometry& g) {
  return g.KH == 1 && g.KW == 1 && g.SH == 1 && g.SW == 1 && g.PH == 0 && g.PW == 0;
}

// Depthwise convs (and channel multipliers): each output channel reads one input channel of its
// own group. A single-channel input with G = 1 (a first layer) goes through im2col + GEMM: the
// GEMM shares each patch among all output channels (measured in docs/notes/conv.md).
bool is_direct(const Conv2dGeometry& g) {
  return g.C == g.G && g.G > 1;
}

// Per-thread scratch of the image loops (sized on first use).
struct Scratch {
  std::vector<float> col, pad;
};

// Splits [0, N) (images, planes or channels) into `chunks` contiguous chunks (fixed by N and
// chunks alone, so that per-chunk sums are reproducible) and calls f(chunk, n0, n1, scratch) for
// each; threads take chunks dynamically, which keeps both busy when one of them is descheduled on
// a shared machine. One chunk (or inside a parallel region): in turn on this thread, GEMMs
// multi-threaded.
template <class F>
void for_chunks(int64_t N, int64_t chunks, const F& f) {
  auto bounds = [N, chunks](int64_t ck) {
    return std::pair<int64_t, int64_t>{ck * N / chunks, (ck + 1) * N / chunks};
  };
  if (chunks <= 1 || omp_in_parallel() || omp_get_max_threads() <= 1) {
    Scratch s;
    for (int64_t ck = 0; ck < chunks; ++ck) {
      const auto [n0, n1] = bounds(ck);
      f(ck, n0, n1, s);
    }
    return;
  }
#pragma omp parallel
  {
    Scratch s;
#pragma omp for schedule(dynamic, 1)
    for (int64_t ck = 0; ck < chunks; ++ck) {
      const auto [n0, n1] = bounds(ck);
      f(ck, n0, n1, s);
    }
  }
}

// Chunks for an image loop: one image each when every thread gets one (none is shared), else a
// single chunk. `max_chunks` bounds it where every chunk keeps a partial sum.
int64_t image_chunks(int64_t N, int64_t max_chunks) {
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (threads <= 1 || N < threads) return N > 0 ? 1 : 0;
  return std::min(N, max_chunks);
}

// Chunks for the direct kernels' loops over `count` items of `work` multiply-adds each.
int64_t work_chunks(int64_t count, int64_t work) {
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (threads <= 1 || count * work < kGrainSize) return count > 0 ? 1 : 0;
  return std::min(count, 8 * static_cast<int64_t>(threads));
}

// --- direct kernels (C/G = 1). Each works on zero-padded planes of Wp = W + 2 PW columns, so
// no tap needs a bounds check. With unit strides, output position (oh, ow) sits at t = oh Wp + ow
// of a plane with the padded pitch, and every tap (i, j) is one contiguous multiply-add over
// T = (OH - 1) Wp + OW values at offset i DH Wp + j DW: long vector loops even for 14x14 planes.

struct Padded {
  int64_t Hp, Wp, T;  // padded plane (Hp, Wp); T: extent of an output plane at pitch Wp
  bool unit;          // unit strides: the whole-plane form
};
Padded padded(const Conv2dGeometry& g) {
  const int64_t Wp = g.W + 2 * g.PW;
  return {g.H + 2 * g.PH, Wp, (g.OH - 1) * Wp + g.OW, g.SH == 1 && g.SW == 1};
}

// xp (Hp, Wp) = x (H, W) with zero borders (the borders are written once per buffer).
void pad_plane(const float* x, const Conv2dGeometry& g, const Padded& p, float* xp) {
  for (int64_t h = 0; h < g.H; ++h)
    std::memcpy(xp + (h + g.PH) * p.Wp + g.PW, x + h * g.W, sizeof(float) * g.W);
}

// ext (OH, Wp) = dy (OH, OW) at pitch Wp; the extra columns are zero (written once per buffer).
void pitch_plane(const float* dy, const Conv2dGeometry& g, const Padded& p, float* ext) {
  for (int64_t oh = 0; oh < g.OH; ++oh)
    std::memcpy(ext + oh * p.Wp, dy + oh * g.OW, sizeof(float) * g.OW);
}

// col (C/G KH KW, OH OW) from one image's group of channels x (C/G, H, W), each channel copied
// into the zero-bordered scratch xp (Hp, Wp) first so that the copies need no bounds checks.
void im2col(const float* x, const Conv2dGeometry& g, const Padded& p, float* xp, float* col) {
  const int64_t Cg = g.C / g.G, L = g.OH * g.OW, HW = g.H * g.W;
  for (int64_t c = 0; c < Cg; ++c) {
    pad_plane(x + c * HW, g, p, xp);
    for (int64_t i = 0; i < g.KH; ++i)
      for (int64_t j = 0; j < g.KW; ++j) {
        float* row = col + ((c * g.KH + i) * g.KW + j) * L;
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const float* src = xp + (oh * g.SH + i * g.DH) * p.Wp + j * g.DW;
          float* dst = row + oh * g.OW;
          if (g.SW == 1) {
            copy_row(src, dst, g.OW);
          } else {
            for (int64_t ow = 0; ow < g.OW; ++ow) dst[ow] = src[ow * g.SW];
          }
        }
      }
  }
}

// dx (C/G, H, W) = the columns dcol (C/G KH KW, OH OW) summed back onto the image, through the
// padded scratch dxp (Hp, Wp).
void col2im(const float* dcol, const Conv2dGeometry& g, const Padded& p, float* dxp, float* dx) {
  const int64_t Cg = g.C / g.G, L = g.OH * g.OW, HW = g.H * g.W;
  for (int64_t c = 0; c < Cg; ++c) {
    std::fill(dxp, dxp + p.Hp * p.Wp, 0.0f);
    for (int64_t i = 0; i < g.KH; ++i)
      for (int64_t j = 0; j < g.KW; ++j) {
        const float* row = dcol + ((c * g.KH + i) * g.KW + j) * L;
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          float* dst = dxp + (oh * g.SH + i * g.DH) * p.Wp + j * g.DW;
          const float* src = row + oh * g.OW;
          if (g.SW == 1) {
            add_row(src, dst, g.OW);
          } else {
            for (int64_t ow = 0; ow < g.OW; ++ow) dst[ow * g.SW] += src[ow];
          }
        }
      }
    for (int64_t h = 0; h < g.H; ++h)
      std::memcpy(dx + c * HW + h * g.W, dxp + (h + g.PH) * p.Wp + g.PW, sizeof(float) * g.W);
  }
}

// R output rows from oh0 of y (OH, OW) = bias + sum_{i, j} w[i, j] src[(oh + i DH) pitch + ow +
// j DW]: the taps accumulate in registers, R rows at a time for independent FMA chains. Every load
// is a whole vector (src needs kW floats of slack after the plane): the lanes past OW read the
// next columns or row and are never stored. Masked loads measured 6-15 % slower here, and loads
// straight from the unpadded plane with per-tap lane masks twice as slow (dev/conv_paths).
template <int R>
void taps_rows(const float* src, int64_t pitch, const float* w, float bias, const Conv2dGeometry& g,
               int64_t oh0, float* y) {
  for (int64_t ow = 0; ow < g.OW; ow += kW) {
    const int n = static_cast<int>(std::min<int64_t>(kW, g.OW - ow));
    VecF acc[R];
    for (int r = 0; r < R; ++r) acc[r] = VecF(bias);
    for (int64_t i = 0; i < g.KH; ++i)
      for (int64_t j = 0; j < g.KW; ++j) {
        const VecF wv(w[i * g.KW + j]);
        const float* base = src + (oh0 + i * g.DH) * pitch + ow + j * g.DW;
        for (int r = 0; r < R; ++r) acc[r] = VecF::fma(wv, VecF::load(base + r * pitch), acc[r]);
      }
    for (int r = 0; r < R; ++r) acc[r].store(y + (oh0 + r) * g.OW + ow, n);
  }
}

// y (OH, OW) = the taps of w (KH, KW) over src (pitch elements a row, kW floats of slack) plus
// bias (unit strides).
void taps_plane(const float* src, int64_t pitch, const float* w, float bias,
                const Conv2dGeometry& g, float* y) {
  int64_t oh = 0;
  for (; oh + 4 <= g.OH; oh += 4) taps_rows<4>(src, pitch, w, bias, g, oh, y);
  for (; oh < g.OH; ++oh) taps_rows<1>(src, pitch, w, bias, g, oh, y);
}

// y (OH, OW) = bias + taps of w (KH, KW) over the padded plane xp (kW floats of slack).
void direct_forward_plane(const float* xp, const float* w, float bias, const Conv2dGeometry& g,
                          const Padded& p, float* y) {
  if (p.unit) {
    taps_plane(xp, p.Wp, w, bias, g, y);
    return;
  }
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    float* yr = y + oh * g.OW;
    std::fill(yr, yr + g.OW, bias);
    for (int64_t i = 0; i < g.KH; ++i)
      for (int64_t j = 0; j < g.KW; ++j) {
        const float wv = w[i * g.KW + j];
        const float* src = xp + (oh * g.SH + i * g.DH) * p.Wp + j * g.DW;
        for (int64_t ow = 0; ow < g.OW; ++ow) yr[ow] += wv * src[ow * g.SW];
      }
  }
}

// dxp (Hp, Wp) += dy (OH, OW) spread through the kernel w (KH, KW); ext: dy at pitch Wp.
void direct_input_plane(const float* dy, const float* w, const Conv2dGeometry& g, const Padded& p,
                        float* ext, float* dxp) {
  if (p.unit) {
    pitch_plane(dy, g, p, ext);
    for (int64_t i = 0; i < g.KH; ++i)
      for (int64_t j = 0; j < g.KW; ++j) {
        const float wv = w[i * g.KW + j];
        float* dst = dxp + i * g.DH * p.Wp + j * g.DW;
#pragma omp simd
        for (int64_t t = 0; t < p.T; ++t) dst[t] += wv * ext[t];
      }
    return;
  }
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    const float* dr = dy + oh * g.OW;
    for (int64_t i = 0; i < g.KH; ++i)
      for (int64_t j = 0; j < g.KW; ++j) {
        const float wv = w[i * g.KW + j];
        float* dst = dxp + (oh * g.SH + i * g.DH) * p.Wp + j * g.DW;
        for (int64_t ow = 0; ow < g.OW; ++ow) dst[ow * g.SW] += wv * dr[ow];
      }
  }
}

// dw (KH, KW) += the correlation of dy (OH, OW) with the padded plane xp; ext: dy at pitch Wp.
void direct_weight_plane(const float* xp, const float* dy, const Conv2dGeometry& g, const Padded& p,
                         float* ext, float* dw) {
  if (p.unit) {
    pitch_plane(dy, g, p, ext);
    for (int64_t i = 0; i < g.KH; ++i)
      for (int64_t j = 0; j < g.KW; ++j) {
        const float* src = xp + i * g.DH * p.Wp + j * g.DW;
        float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
        for (int64_t t = 0; t < p.T; ++t) acc += ext[t] * src[t];
        dw[i * g.KW + j] += acc;
      }
    return;
  }
  for (int64_t i = 0; i < g.KH; ++i)
    for (int64_t j = 0; j < g.KW; ++j) {
      float acc = 0.0f;
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        const float* dr = dy + oh * g.OW;
        const float* src = xp + (oh * g.SH + i * g.DH) * p.Wp + j * g.DW;
        for (int64_t ow = 0; ow < g.OW; ++ow) acc += dr[ow] * src[ow * g.SW];
      }
      dw[i * g.KW + j] += acc;
    }
}

void direct_forward(const Conv2dArgs<float>& a) {
  const Conv2dGeometry& g = a.g;
  const Padded p = padded(g);
  const int64_t Og = g.O / g.G, L = g.OH * g.OW, HW = g.H * g.W, KK = g.KH * g.KW;
  // One input plane feeds its Og output planes: parallel over the (n, c) input planes.
  for_chunks(g.N * g.C, work_chunks(g.N * g.C, Og * L * KK),
             [&a, &g, &p, Og, L, HW, KK](int64_t, int64_t b, int64_t e, Scratch& s) {
               s.pad.resize(p.Hp * p.Wp + kW, 0.0f);
               for (int64_t q = b; q < e; ++q) {
                 const int64_t n = q / g.C, c = q % g.C;
                 pad_plane(a.x + q * HW, g, p, s.pad.data());
                 for (int64_t o = c * Og; o < (c + 1) * Og; ++o)
                   direct_forward_plane(s.pad.data(), a.w + o * KK, a.b ? a.b[o] : 0.0f, g, p,
                                        a.y + (n * g.O + o) * L);
               }
             });
}

void direct_backward_input(const Conv2dBackwardInputArgs<float>& a) {
  const Conv2dGeometry& g = a.g;
  const Padded p = padded(g);
  const int64_t Og = g.O / g.G, L = g.OH * g.OW, HW = g.H * g.W, KK = g.KH * g.KW;
  for_chunks(g.N * g.C, work_chunks(g.N * g.C, Og * L * KK),
             [&a, &g, &p, Og, L, HW, KK](int64_t, int64_t b, int64_t e, Scratch& s) {
               s.pad.resize(p.Hp * p.Wp);
               s.col.resize(p.unit ? g.OH * p.Wp : 0, 0.0f);
               for (int64_t q = b; q < e; ++q) {
                 const int64_t n = q / g.C, c = q % g.C;
                 std::fill(s.pad.begin(), s.pad.end(), 0.0f);
                 for (int64_t o = c * Og; o < (c + 1) * Og; ++o)
                   direct_input_plane(a.dy + (n * g.O + o) * L, a.w + o * KK, g, p, s.col.data(),
                                      s.pad.data());
                 const float bv = a.b ? a.b[c] : 0.0f;
                 float* dx = a.dx + q * HW;
                 for (int64_t h = 0; h < g.H; ++h) {
                   const float* src = s.pad.data() + (h + g.PH) * p.Wp + g.PW;
#pragma omp simd
                   for (int64_t w = 0; w < g.W; ++w) dx[h * g.W + w] = src[w] + bv;
                 }
               }
             });
}

void direct_backward_weight(const Conv2dBackwardWeightArgs<float>& a) {
  const Conv2dGeometry& g = a.g;
  const Padded p = padded(g);
  const int64_t Og = g.O / g.G, L = g.OH * g.OW, HW = g.H * g.W, KK = g.KH * g.KW;
  // Parallel over the input channels: each thread owns the Og weight rows its channel feeds.
  for_chunks(g.C, work_chunks(g.C, g.N * Og * L * KK),
             [&a, &g, &p, Og, L, HW, KK](int64_t, int64_t b, int64_t e, Scratch& s) {
               s.pad.resize(p.Hp * p.Wp, 0.0f);
               s.col.resize(p.unit ? g.OH * p.Wp : 0, 0.0f);
               for (int64_t c = b; c < e; ++c) {
                 std::fill(a.dw + c * Og * KK, a.dw + (c + 1) * Og * KK, 0.0f);
                 for (int64_t n = 0; n < g.N; ++n) {
                   pad_plane(a.x + (n * g.C + c) * HW, g, p, s.pad.data());
                   for (int64_t o = c * Og; o < (c + 1) * Og; ++o)
                     direct_weight_plane(s.pad.data(), a.dy + (n * g.O + o) * L, g, p, s.col.data(),
                                         a.dw + o * KK);
                 }
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

// Runs f(n, grp, scratch) for every image and group: images in parallel when every thread gets
// one, else in turn with multi-threaded GEMMs. The scratch holds one group's im2col columns
// (C/G KH KW, OH OW) and a padded plane, unless the conv is pointwise.
template <class F>
void for_image_groups(const Conv2dGeometry& g, const F& f) {
  const bool pointwise = is_pointwise(g);
  const Padded p = padded(g);
  const int64_t K = g.C / g.G * g.KH * g.KW, L = g.OH * g.OW;
  for_chunks(g.N, image_chunks(g.N, g.N),
             [&g, &p, &f, pointwise, K, L](int64_t, int64_t n0, int64_t n1, Scratch& s) {
               if (!pointwise) {
                 s.col.resize(K * L);
                 s.pad.resize(p.Hp * p.Wp, 0.0f);
               }
               for (int64_t n = n0; n < n1; ++n)
                 for (int64_t grp = 0; grp < g.G; ++grp) f(n, grp, s);
             });
}

// planes (count, len) += b[c] on plane c.
void add_bias(const float* b, int64_t count, int64_t len, float* planes) {
  for (int64_t c = 0; c < count; ++c) {
    const float bv = b[c];
    float* r = planes + c * len;
#pragma omp simd
    for (int64_t l = 0; l < len; ++l) r[l] += bv;
  }
}

ConvPath path_from_env() {
  const char* v = std::getenv("CFORMER_CONV");
  return conv_path_from_name(v ? v : "");
}

std::atomic<ConvPath>& path_setting() {
  static std::atomic<ConvPath> path{path_from_env()};
  return path;
}

enum class Pass { forward, backward_input, backward_weight };

// Whether a pass goes to oneDNN's convolution primitives first (they decline what they have no
// optimized kernel for). Measured with dev/conv_paths.cpp (oneDNN 2.6.3 with its blocked formats,
// this 2-core AVX-512 machine, N = 128, 1 thread, CPU time; oneDNN time / ours as a speed-up):
//  - forward and input gradient: oneDNN when C/G >= 4 and the conv is not pointwise. 3x3 at
//    C/G = 32..64 on 7x7..28x28 (dilation 1-3, stride 1-2): 1.04-2.7x; C/G = 4, 8: 1.09-1.42x.
//    Below that ours win: C/G = 1 (depthwise 0.91-0.94x, a single input channel 0.13-0.75x),
//    2 (0.44-0.48x), 3 (0.36-0.69x); and a pointwise conv's GEMM on the image itself beats
//    oneDNN with its layout reorders (0.55-0.62x).
//  - weight gradient: oneDNN with one group, depthwise (C/G = 1) or C/G >= 8. C/G >= 8:
//    1.16-1.41x (pointwise 1.23x); depthwise 1.6-1.7x (4.7x at 2 threads); one group of 1 or 3
//    channels 0.91-1.72x (1.5-1.7x on the 3x3 and 7x7 ones); grouped C/G = 2, 4: 0.41-0.43x.
// Among oneDNN's kernels, use_winograd in conv_dnnl.cpp takes Winograd for the undilated 3x3
// stride-1 shapes with >= 32 channels (another 1.35-1.5x over the direct kernel measured here).
bool use_onednn(const Conv2dGeometry& g, Pass pass) {
  switch (path_setting().load(std::memory_order_relaxed)) {
    case ConvPath::onednn:
      return true;
    case ConvPath::im2col:
      return false;
    case ConvPath::automatic:
      break;
  }
  const int64_t Cg = g.C / g.G;
  if (pass == Pass::backward_weight) return Cg == 1 || Cg >= 8 || g.G == 1;
  return Cg >= 4 && !is_pointwise(g);
}

}  // namespace

void set_conv_path(ConvPath path) {
  path_setting().store(path, std::memory_order_relaxed);
}
ConvPath conv_path() {
  return path_setting().load(std::memory_order_relaxed);
}
ConvPath conv_path_from_name(const std::string& name) {
  if (name.empty() || name == "auto") return ConvPath::automatic;
  if (name == "onednn") return ConvPath::onednn;
  if (name == "im2col") return ConvPath::im2col;
  CF_THROW(ValueError, "conv2d: CFORMER_CONV must be auto, onednn or im2col, got '", name, "'");
}

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
  if (use_onednn(g, Pass::forward) && dnnl_conv2d_forward(a)) return;
  if (is_direct(g)) {
    direct_forward(a);
    return;
  }
  const bool pointwise = is_pointwise(g);
  const Padded p = padded(g);
  for_image_groups(g,
                   [&a, &g, &p, Cg, Og, K, L, HW, pointwise](int64_t n, int64_t grp, Scratch& s) {
                     const float* xg = a.x + (n * g.C + grp * Cg) * HW;
                     if (!pointwise) im2col(xg, g, p, s.pad.data(), s.col.data());
                     float* yg = a.y + (n * g.O + grp * Og) * L;
                     gemm(false, false, Og, L, K, 1.0f, a.w + grp * Og * K, K,
                          pointwise ? xg : s.col.data(), L, 0.0f, yg, L);
                     if (a.b) add_bias(a.b + grp * Og, Og, L, yg);
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
  if (use_onednn(g, Pass::backward_input) && dnnl_conv2d_backward_input(a)) {
    if (a.b)
      parallel_for(0, g.N * g.C, std::max<int64_t>(1, kGrainSize / HW),
                   [&a, &g, HW](int64_t b, int64_t e) {
                     for (int64_t q = b; q < e; ++q) add_bias(a.b + q % g.C, 1, HW, a.dx + q * HW);
                   });
    return;
  }
  if (is_direct(g)) {
    direct_backward_input(a);
    return;
  }
  const bool pointwise = is_pointwise(g);
  const Padded p = padded(g);
  for_image_groups(g,
                   [&a, &g, &p, Cg, Og, K, L, HW, pointwise](int64_t n, int64_t grp, Scratch& s) {
                     const float* dyg = a.dy + (n * g.O + grp * Og) * L;
                     float* dxg = a.dx + (n * g.C + grp * Cg) * HW;
                     const float* wg = a.w + grp * Og * K;
                     if (pointwise) {
                       gemm(true, false, Cg, HW, Og, 1.0f, wg, K, dyg, L, 0.0f, dxg, HW);
                     } else {
                       gemm(true, false, K, L, Og, 1.0f, wg, K, dyg, L, 0.0f, s.col.data(), L);
                       col2im(s.col.data(), g, p, s.pad.data(), dxg);
                     }
                     if (a.b) add_bias(a.b + grp * Cg, Cg, HW, dxg);
                   });
}

void conv2d_backward_weight(const Conv2dBackwardWeightArgs<float>& a) {
  const Conv2dGeometry& g = a.g;
  const int64_t Cg = g.C / g.G, Og = g.O / g.G, K = Cg * g.KH * g.KW, L = g.OH * g.OW,
                HW = g.H * g.W;
  if (a.dw && g.O * K > 0 && g.N * L > 0 && use_onednn(g, Pass::backward_weight) &&
      dnnl_conv2d_backward_weight(a))
    return;
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
  const Padded p = padded(g);
  // Chunk 0 accumulates into dw itself, the others into their own partial sums, added in order.
  const int64_t chunks = image_chunks(g.N, 2 * omp_get_max_threads()), total = g.O * K;
  std::vector<float> partial(std::max<int64_t>(0, chunks - 1) * total);
  auto body = [&a, &g, &p, &partial, Cg, Og, K, L, HW, total, pointwise](int64_t ck, int64_t n0,
                                                                         int64_t n1, Scratch& s) {
    float* dw = ck == 0 ? a.dw : partial.data() + (ck - 1) * total;
    if (!pointwise) {
      s.col.resize(K * L);
      s.pad.resize(p.Hp * p.Wp, 0.0f);
    }
    for (int64_t n = n0; n < n1; ++n) {
      for (int64_t grp = 0; grp < g.G; ++grp) {
        const float* xg = a.x + (n * g.C + grp * Cg) * HW;
        if (!pointwise) im2col(xg, g, p, s.pad.data(), s.col.data());
        gemm(false, true, Og, K, L, 1.0f, a.dy + (n * g.O + grp * Og) * L, L,
             pointwise ? xg : s.col.data(), L, n == n0 ? 0.0f : 1.0f, dw + grp * Og * K, K);
      }
    }
  };
  for_chunks(g.N, chunks, body);
  for (int64_t ck = 1; ck < chunks; ++ck) {
    const float* part = partial.data() + (ck - 1) * total;
#pragma omp simd
    for (int64_t i = 0; i < total; ++i) a.dw[i] += part[i];
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
