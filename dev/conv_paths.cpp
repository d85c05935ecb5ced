// dev/conv_paths: conv2d's three f32 passes on the bench/conv shapes (and a few more) through
// oneDNN's convolution primitives and through cformer's own kernels (im2col + GEMM, direct
// depthwise), timed alternately in the same process: the evidence for the per-shape rule in
// src/ops/cpu/conv.cpp. Prints median wall and CPU milliseconds per pass and path.
//   g++ -O3 -march=native -std=c++20 -fopenmp -Iinclude -Isrc dev/conv_paths.cpp \
//       build/libcformer.a -ldl -lz -ldnnl -o /tmp/conv_paths
//   /tmp/conv_paths [threads] [repeats]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include "cformer/cformer.h"
#include "ops/conv.h"

using namespace cf;
using ops::cpu::Conv2dGeometry;
using ops::cpu::ConvPath;

namespace {

double cpu_now() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}
double wall_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Shape2 {
  const char* name;
  bool transpose;
  int64_t N, C, O, H, k, s, p, d, g;  // as bench/conv: the op's own (N, C->O, HxW, ...)
};

// The conv2d geometry of the op (for conv_transpose2d: the conv2d whose input gradient it is).
Conv2dGeometry geometry(const Shape2& q) {
  const int64_t ek = q.d * (q.k - 1) + 1;
  if (!q.transpose) {
    const int64_t OH = (q.H + 2 * q.p - ek) / q.s + 1;
    return {q.N, q.C, q.H, q.H, q.O, q.k, q.k, OH, OH, q.s, q.s, q.p, q.p, q.d, q.d, q.g};
  }
  const int64_t OH = (q.H - 1) * q.s - 2 * q.p + ek;
  return {q.N, q.O, OH, OH, q.C, q.k, q.k, q.H, q.H, q.s, q.s, q.p, q.p, q.d, q.d, q.g};
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2,
            repeats = argc > 2 ? std::atoi(argv[2]) : 9;
  set_num_threads(threads);
  std::printf("# threads %d, repeats %d (median ms: wall / cpu)\n", threads, repeats);
  const std::vector<Shape2> shapes = {
      {"vit patch 4", false, 128, 1, 192, 28, 4, 4, 0, 1, 1},
      {"vit patch 7", false, 128, 1, 192, 28, 7, 7, 0, 1, 1},
      {"cnn 3x3 32->64 28", false, 128, 32, 64, 28, 3, 1, 1, 1, 1},
      {"cnn 3x3 64->64 14", false, 128, 64, 64, 14, 3, 1, 1, 1, 1},
      {"vitae 3x3 dil 2", false, 128, 64, 64, 14, 3, 1, 2, 2, 1},
      {"vitae 3x3 dil 3", false, 128, 64, 64, 14, 3, 1, 3, 3, 1},
      {"depthwise 3x3 64 14", false, 128, 64, 64, 14, 3, 1, 1, 1, 64},
      {"dcgan 256->128 8->16", true, 64, 256, 128, 8, 4, 2, 1, 1, 1},
      {"dcgan 128->1 16->32", true, 64, 128, 1, 16, 4, 2, 1, 1, 1},
      {"cnn 3x3 1->32 28", false, 128, 1, 32, 28, 3, 1, 1, 1, 1},
      {"cnn 3x3 64->64 7", false, 128, 64, 64, 7, 3, 1, 1, 1, 1},
      {"grouped 3x3 64 g4 14", false, 128, 64, 64, 14, 3, 1, 1, 1, 4},
      {"3x3 s2 32->64 28", false, 128, 32, 64, 28, 3, 2, 1, 1, 1},
      {"1x1 64->128 14", false, 128, 64, 128, 14, 1, 1, 0, 1, 1},
      {"3x3 64->64 14 N8", false, 8, 64, 64, 14, 3, 1, 1, 1, 1},
      {"dcgan 100->256 1->4", true, 64, 100, 256, 1, 4, 1, 0, 1, 1},
      {"cnn 3x3 3->32 28", false, 128, 3, 32, 28, 3, 1, 1, 1, 1},
      {"grouped 3x3 64 g32 14", false, 128, 64, 64, 14, 3, 1, 1, 1, 32},
      {"grouped 3x3 64 g16 14", false, 128, 64, 64, 14, 3, 1, 1, 1, 16},
      {"grouped 3x3 64 g8 14", false, 128, 64, 64, 14, 3, 1, 1, 1, 8},
      {"depthwise 3x3 64 28", false, 128, 64, 64, 28, 3, 1, 1, 1, 64},
      {"cnn 3x3 16->32 28", false, 128, 16, 32, 28, 3, 1, 1, 1, 1},
      {"cnn 3x3 8->16 28", false, 128, 8, 16, 28, 3, 1, 1, 1, 1},
      {"cnn 3x3 4->8 28", false, 128, 4, 8, 28, 3, 1, 1, 1, 1},
      {"cnn 3x3 64->64 14 N1", false, 1, 64, 64, 14, 3, 1, 1, 1, 1},
  };
  Generator gen(0);
  std::printf(
      "| shape | pass | im2col wall | onednn wall | im2col cpu | onednn cpu | cpu ratio |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|\n");
  const char* only = argc > 3 ? argv[3] : "";
  for (const Shape2& q : shapes) {
    if (*only && std::string(q.name).find(only) == std::string::npos) continue;
    const Conv2dGeometry g = geometry(q);
    Tensor x = randn(Shape{g.N, g.C, g.H, g.W}, gen),
           w = randn(Shape{g.O, g.C / g.G, g.KH, g.KW}, gen), b = randn(Shape{g.O}, gen),
           bc = randn(Shape{g.C}, gen), dy = randn(Shape{g.N, g.O, g.OH, g.OW}, gen),
           y = empty(Shape{g.N, g.O, g.OH, g.OW}), dx = empty(Shape{g.N, g.C, g.H, g.W}),
           dw = empty(w.shape()), db = empty(Shape{g.O});
    float *px = x.data_ptr<float>(), *pw = w.data_ptr<float>(), *pb = b.data_ptr<float>(),
          *pbc = bc.data_ptr<float>(), *pdy = dy.data_ptr<float>(), *py = y.data_ptr<float>(),
          *pdx = dx.data_ptr<float>(), *pdw = dw.data_ptr<float>(), *pdb = db.data_ptr<float>();
    struct Pass {
      const char* name;
      std::function<void()> f;
    };
    std::vector<Pass> passes = {
        {"forward",
         [px, pw, pb, py, g] {
           ops::cpu::conv2d_forward({px, pw, pb, py, g});
         }},
        {"backward_input",
         [pdy, pw, pbc, pdx, g, q] {
           ops::cpu::conv2d_backward_input({pdy, pw, q.transpose ? pbc : nullptr, pdx, g});
         }},
        {"backward_weight",
         [px, pdy, pdw, pdb, g, q] {
           ops::cpu::conv2d_backward_weight({px, pdy, pdw, q.transpose ? nullptr : pdb, g});
         }},
    };
    for (const Pass& p : passes) {
      std::vector<double> wall[2], cpu[2];
      const ConvPath paths[2] = {ConvPath::im2col, ConvPath::onednn};
      for (int k = 0; k < 2; ++k) {
        ops::cpu::set_conv_path(paths[k]);
        for (int i = 0; i < 3; ++i) p.f();
      }
      for (int r = 0; r < repeats; ++r)
        for (int k = 0; k < 2; ++k) {
          ops::cpu::set_conv_path(paths[k]);
          const double w0 = wall_now(), c0 = cpu_now();
          p.f();
          wall[k].push_back(1e3 * (wall_now() - w0));
          cpu[k].push_back(1e3 * (cpu_now() - c0));
        }
      auto med = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
      };
      std::printf("| %s | %s | %.3f | %.3f | %.3f | %.3f | %.2fx |\n", q.name, p.name, med(wall[0]),
                  med(wall[1]), med(cpu[0]), med(cpu[1]), med(cpu[0]) / med(cpu[1]));
      std::fflush(stdout);
    }
  }
  return 0;
}
