// im2col / col2im kernels. OpenMP over the N C image planes: a plane owns its kh kw column rows,
// so col2im's overlapping sums need no atomics. Per kernel offset (i, j) the valid blocks along
// w are computed once, so the inner loops carry no bounds tests (a unit-stride copy when
// sw == 1). The _ref kernels are plain loops (col2im accumulates in double).
#include <algorithm>
#include <vector>

#include "ops/cpu/parallel.h"
#include "ops/fold.h"

namespace cf::ops::cpu {
namespace {

// The blocks b in [lo, hi) whose coordinate b s - p + i d lies in [0, size).
struct Range {
  int64_t lo, hi;
};
inline Range blocks(int64_t off, int64_t s, int64_t size, int64_t L) {
  // off = i d - p; need 0 <= b s + off < size
  const int64_t lo = off < 0 ? (-off + s - 1) / s : 0;
  const int64_t hi = size - off <= 0 ? 0 : std::min<int64_t>(L, (size - off + s - 1) / s);
  return {std::min(lo, L), std::max(std::min(lo, L), hi)};
}

template <class F>
void for_planes(int64_t planes, int64_t per_plane, const F& f) {
  parallel_for(0, planes, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(1, per_plane)),
               [&f](int64_t b, int64_t e) {
                 for (int64_t p = b; p < e; ++p) f(p);
               });
}

}  // namespace

void unfold_forward(const Im2ColArgs<float>& a) {
  const FoldGeom g = a.g;
  const int64_t L = g.Lh * g.Lw;
  for_planes(g.N * g.C, g.kh * g.kw * L, [&a, g, L](int64_t p) {
    const float* im = a.im + p * g.H * g.W;
    float* col = a.col + p * g.kh * g.kw * L;
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        float* row = col + (i * g.kw + j) * L;
        const int64_t offh = i * g.dh - g.ph, offw = j * g.dw - g.pw;
        const Range rh = blocks(offh, g.sh, g.H, g.Lh), rw = blocks(offw, g.sw, g.W, g.Lw);
        std::fill(row, row + rh.lo * g.Lw, 0.0f);
        for (int64_t bh = rh.lo; bh < rh.hi; ++bh) {
          float* out = row + bh * g.Lw;
          const int64_t base = (bh * g.sh + offh) * g.W + offw;  // + bw sw >= 0 when valid
          std::fill(out, out + rw.lo, 0.0f);
          if (g.sw == 1) {
            std::copy(im + (base + rw.lo), im + (base + rw.hi), out + rw.lo);
          } else {
            for (int64_t bw = rw.lo; bw < rw.hi; ++bw) out[bw] = im[base + bw * g.sw];
          }
          std::fill(out + rw.hi, out + g.Lw, 0.0f);
        }
        std::fill(row + rh.hi * g.Lw, row + L, 0.0f);
      }
  });
}

template <class T>
void unfold_forward_ref(const Im2ColArgs<T>& a) {
  const FoldGeom& g = a.g;
  const int64_t L = g.Lh * g.Lw;
  for (int64_t p = 0; p < g.N * g.C; ++p)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j)
        for (int64_t bh = 0; bh < g.Lh; ++bh)
          for (int64_t bw = 0; bw < g.Lw; ++bw) {
            const int64_t ih = bh * g.sh - g.ph + i * g.dh, iw = bw * g.sw - g.pw + j * g.dw;
            const bool inside = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W;
            a.col[(p * g.kh * g.kw + i * g.kw + j) * L + bh * g.Lw + bw] =
                inside ? a.im[(p * g.H + ih) * g.W + iw] : T(0);
          }
}

void fold_forward(const Col2ImArgs<float>& a) {
  const FoldGeom g = a.g;
  const int64_t L = g.Lh * g.Lw;
  for_planes(g.N * g.C, g.kh * g.kw * L, [&a, g, L](int64_t p) {
    float* im = a.im + p * g.H * g.W;
    const float* col = a.col + p * g.kh * g.kw * L;
    std::fill(im, im + g.H * g.W, 0.0f);
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        const float* row = col + (i * g.kw + j) * L;
        const int64_t offh = i * g.dh - g.ph, offw = j * g.dw - g.pw;
        const Range rh = blocks(offh, g.sh, g.H, g.Lh), rw = blocks(offw, g.sw, g.W, g.Lw);
        for (int64_t bh = rh.lo; bh < rh.hi; ++bh) {
          const float* in = row + bh * g.Lw;
          const int64_t base = (bh * g.sh + offh) * g.W + offw;  // + bw sw >= 0 when valid
          if (g.sw == 1) {
#pragma omp simd
            for (int64_t bw = rw.lo; bw < rw.hi; ++bw) im[base + bw] += in[bw];
          } else {
            for (int64_t bw = rw.lo; bw < rw.hi; ++bw) im[base + bw * g.sw] += in[bw];
          }
        }
      }
  });
}

template <class T>
void fold_forward_ref(const Col2ImArgs<T>& a) {
  const FoldGeom& g = a.g;
  const int64_t L = g.Lh * g.Lw;
  std::vector<double> acc(g.H * g.W);
  for (int64_t p = 0; p < g.N * g.C; ++p) {
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j)
        for (int64_t bh = 0; bh < g.Lh; ++bh)
          for (int64_t bw = 0; bw < g.Lw; ++bw) {
            const int64_t ih = bh * g.sh - g.ph + i * g.dh, iw = bw * g.sw - g.pw + j * g.dw;
            if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
            acc[ih * g.W + iw] += a.col[(p * g.kh * g.kw + i * g.kw + j) * L + bh * g.Lw + bw];
          }
    for (int64_t i = 0; i < g.H * g.W; ++i) a.im[p * g.H * g.W + i] = static_cast<T>(acc[i]);
  }
}

template void unfold_forward_ref<float>(const Im2ColArgs<float>&);
template void unfold_forward_ref<double>(const Im2ColArgs<double>&);
template void fold_forward_ref<float>(const Col2ImArgs<float>&);
template void fold_forward_ref<double>(const Col2ImArgs<double>&);

}  // namespace cf::ops::cpu
