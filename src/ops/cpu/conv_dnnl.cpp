// conv2d kernels through oneDNN's convolution primitives: forward (with bias), backward data and
// backward weights (with the bias gradient), f32, groups and dilation (oneDNN counts dilation
// from 0: DH - 1). The primitives choose their memory formats (blocked nChw16c / OIhw16i16o on
// AVX-512: plain NCHW measured 0.6-0.8x of them); the NCHW / OIHW tensors are reordered in and out
// through grow-only per-thread buffers, kept for the thread's life. A primitive is built once per
// geometry, pass and thread count and cached (building one costs milliseconds). Execution passes
// a user scratchpad from the per-thread buffers, so one cached primitive may run on several
// threads at once (this oneDNN build shares its own scratchpad otherwise). See Note [conv].
#include "ops/cpu/conv_dnnl.h"

#ifdef CFORMER_WITH_ONEDNN
#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>

#include <dnnl.hpp>

#include "util/check.h"
#endif

namespace cf::ops::cpu {

#ifdef CFORMER_WITH_ONEDNN
namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;

dnnl::engine& cpu_engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

enum class Pass { forward, backward_input, backward_weight };

// One operand of a pass: the NCHW / OIHW layout the caller holds and the one the primitive
// wants; `move` reorders between them (in before an input is read, out after an output is written).
struct Operand {
  int arg = 0;
  memory::desc user, prim;
  dnnl::reorder move;
  memory::desc move_scratch;
  bool reordered = false;
};

struct Entry {
  dnnl::primitive prim;
  Operand in[2], out;
  int bias_arg = 0;  // 0: none
  memory::desc bias, scratch;
};

using Key = std::array<int64_t, 18>;

struct Cache {
  std::mutex mu;
  std::map<Key, std::shared_ptr<const Entry>> entries;  // null: no optimized kernel for it
};

Cache& cache() {
  static Cache c;
  return c;
}

// Grow-only 64-byte aligned buffers of one thread: the scratchpad and the reordered operands.
struct Buffer {
  std::unique_ptr<char, decltype(&std::free)> p{nullptr, &std::free};
  size_t size = 0;
  void* get(size_t bytes) {
    if (bytes > size) {
      const size_t rounded = (bytes + 63) / 64 * 64;
      p.reset(static_cast<char*>(std::aligned_alloc(64, rounded)));
      CF_CHECK(p != nullptr, OutOfMemoryError, "conv2d: cannot allocate ", rounded,
               " bytes of oneDNN workspace");
      size = rounded;
    }
    return p.get();
  }
};
struct Buffers {
  Buffer scratch, operand[3];
};
Buffers& thread_buffers() {
  thread_local Buffers b;
  return b;
}

memory::dims dims(std::initializer_list<int64_t> v) {
  return memory::dims(v.begin(), v.end());
}

memory::desc image_desc(int64_t N, int64_t C, int64_t H, int64_t W, tag t) {
  return memory::desc(dims({N, C, H, W}), memory::data_type::f32, t);
}
memory::desc weight_desc(const Conv2dGeometry& g, bool any) {
  const int64_t Cg = g.C / g.G;
  if (g.G == 1)
    return memory::desc(dims({g.O, Cg, g.KH, g.KW}), memory::data_type::f32,
                        any ? tag::any : tag::oihw);
  return memory::desc(dims({g.G, g.O / g.G, Cg, g.KH, g.KW}), memory::data_type::f32,
                      any ? tag::any : tag::goihw);
}

Operand operand(int arg, const memory::desc& user, const memory::desc& prim, bool input) {
  Operand o;
  o.arg = arg;
  o.user = user;
  o.prim = prim;
  o.reordered = user != prim;
  if (o.reordered) {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    auto& e = cpu_engine();
    const dnnl::reorder::primitive_desc pd =
        input ? dnnl::reorder::primitive_desc(e, user, e, prim, attr)
              : dnnl::reorder::primitive_desc(e, prim, e, user, attr);
    o.move = dnnl::reorder(pd);
    o.move_scratch = pd.scratchpad_desc();
  }
  return o;
}

// The first implementation oneDNN offers that is not its reference kernel, or false.
template <class PD>
bool skip_reference(PD& pd) {
  for (;;) {
    const char* impl = pd.impl_info_str();
    if (std::strncmp(impl, "ref", 3) != 0) return true;
    if (!pd.next_impl()) return false;
  }
}

// oneDNN's Winograd F(4x4, 3x3) kernel (jit_wino_4x3) for the forward and input gradient of
// 3x3, stride-1, undilated, ungrouped convs with at least 32 input and output channels and 8
// images. Measured (dev/conv_paths, 1 thread, against oneDNN's direct kernel): 1.35-1.5x faster
// at 32 -> 64 on 28x28 and 64 -> 64 on 7x7 and 14x14 with N = 128, 1.37x at N = 8; slower at
// 16 -> 32 (1.0x forward, 0.85x input gradient), below (0.4-0.8x), at N = 1 (0.5x) and for the
// weight gradient (0.95x). Its rounding error is larger: on the 64 -> 64 14x14 shape the largest
// error is 1.8e-6 of the largest output against 3.8e-7 for the direct kernel.
bool use_winograd(const Conv2dGeometry& g, Pass pass) {
  return pass != Pass::backward_weight && g.KH == 3 && g.KW == 3 && g.SH == 1 && g.SW == 1 &&
         g.DH == 1 && g.DW == 1 && g.G == 1 && std::min(g.C, g.O) >= 32 && g.N >= 8;
}

std::unique_ptr<Entry> build(const Conv2dGeometry& g, Pass pass, bool bias, dnnl::algorithm alg) {
  const memory::desc x_user = image_desc(g.N, g.C, g.H, g.W, tag::nchw),
                     y_user = image_desc(g.N, g.O, g.OH, g.OW, tag::nchw),
                     w_user = weight_desc(g, false);
  const memory::desc x_any = image_desc(g.N, g.C, g.H, g.W, tag::any),
                     y_any = image_desc(g.N, g.O, g.OH, g.OW, tag::any),
                     w_any = weight_desc(g, true);
  const memory::desc b_desc(dims({g.O}), memory::data_type::f32, tag::x);
  // The right padding that makes oneDNN's size formula give exactly OH: output rows past the
  // last one (conv_transpose2d's output_padding) are then inputs no output reads.
  const int64_t prh = (g.OH - 1) * g.SH + g.DH * (g.KH - 1) + 1 - g.H - g.PH;
  const int64_t prw = (g.OW - 1) * g.SW + g.DW * (g.KW - 1) + 1 - g.W - g.PW;
  if (prh + g.SH <= 0 || prw + g.SW <= 0) return nullptr;
  const memory::dims strides = dims({g.SH, g.SW}), dilates = dims({g.DH - 1, g.DW - 1}),
                     pad_l = dims({g.PH, g.PW}), pad_r = dims({prh, prw});
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  auto& eng = cpu_engine();
  const dnnl::convolution_forward::desc fwd_d =
      bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, alg, x_any, w_any,
                                             b_desc, y_any, strides, dilates, pad_l, pad_r)
           : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, alg, x_any, w_any,
                                             y_any, strides, dilates, pad_l, pad_r);
  dnnl::convolution_forward::primitive_desc fwd(fwd_d, attr, eng, true);
  if (!fwd) return nullptr;
  auto e = std::make_unique<Entry>();
  switch (pass) {
    case Pass::forward: {
      if (!skip_reference(fwd)) return nullptr;
      e->prim = dnnl::convolution_forward(fwd);
      e->in[0] = operand(DNNL_ARG_SRC, x_user, fwd.src_desc(), true);
      e->in[1] = operand(DNNL_ARG_WEIGHTS, w_user, fwd.weights_desc(), true);
      e->out = operand(DNNL_ARG_DST, y_user, fwd.dst_desc(), false);
      if (bias) e->bias_arg = DNNL_ARG_BIAS;
      e->scratch = fwd.scratchpad_desc();
      break;
    }
    case Pass::backward_input: {
      dnnl::convolution_backward_data::desc d(alg, x_any, w_any, y_any, strides, dilates, pad_l,
                                              pad_r);
      dnnl::convolution_backward_data::primitive_desc pd(d, attr, eng, fwd, true);
      if (!pd || !skip_reference(pd)) return nullptr;
      e->prim = dnnl::convolution_backward_data(pd);
      e->in[0] = operand(DNNL_ARG_DIFF_DST, y_user, pd.diff_dst_desc(), true);
      e->in[1] = operand(DNNL_ARG_WEIGHTS, w_user, pd.weights_desc(), true);
      e->out = operand(DNNL_ARG_DIFF_SRC, x_user, pd.diff_src_desc(), false);
      e->scratch = pd.scratchpad_desc();
      break;
    }
    case Pass::backward_weight: {
      const dnnl::convolution_backward_weights::desc d =
          bias ? dnnl::convolution_backward_weights::desc(alg, x_any, w_any, b_desc, y_any, strides,
                                                          dilates, pad_l, pad_r)
               : dnnl::convolution_backward_weights::desc(alg, x_any, w_any, y_any, strides,
                                                          dilates, pad_l, pad_r);
      dnnl::convolution_backward_weights::primitive_desc pd(d, attr, eng, fwd, true);
      if (!pd || !skip_reference(pd)) return nullptr;
      e->prim = dnnl::convolution_backward_weights(pd);
      e->in[0] = operand(DNNL_ARG_SRC, x_user, pd.src_desc(), true);
      e->in[1] = operand(DNNL_ARG_DIFF_DST, y_user, pd.diff_dst_desc(), true);
      e->out = operand(DNNL_ARG_DIFF_WEIGHTS, w_user, pd.diff_weights_desc(), false);
      if (bias) e->bias_arg = DNNL_ARG_DIFF_BIAS;
      e->scratch = pd.scratchpad_desc();
      break;
    }
  }
  e->bias = b_desc;
  return e;
}

// Geometries seen by one process are few (the layers of the models times a batch size or two);
// a cache that reaches this size is emptied rather than grown (shared pointers keep the entries
// that other threads are running alive).
constexpr size_t kMaxEntries = 512;

// The cached primitive for (geometry, pass, bias, threads), built on first use; null when oneDNN
// has no optimized implementation for it.
std::shared_ptr<const Entry> lookup(const Conv2dGeometry& g, Pass pass, bool bias) {
  const Key key{g.N,
                g.C,
                g.H,
                g.W,
                g.O,
                g.KH,
                g.KW,
                g.OH,
                g.OW,
                g.SH,
                g.SW,
                g.PH,
                g.PW,
                g.DH,
                g.DW,
                g.G,
                static_cast<int64_t>(pass) * 2 + bias,
                omp_get_max_threads()};
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.entries.find(key);
  if (it == c.entries.end()) {
    if (c.entries.size() >= kMaxEntries) c.entries.clear();
    std::shared_ptr<const Entry> e;
    // A geometry oneDNN cannot run (it throws or offers only its reference kernel) gets the
    // next choice: Winograd, then the direct kernel, then cformer's own kernels (null).
    for (dnnl::algorithm alg :
         {dnnl::algorithm::convolution_winograd, dnnl::algorithm::convolution_direct}) {
      if (alg == dnnl::algorithm::convolution_winograd && !use_winograd(g, pass)) continue;
      try {
        e = build(g, pass, bias, alg);
      } catch (const dnnl::error&) {
        e = nullptr;
      }
      if (e) break;
    }
    it = c.entries.emplace(key, std::move(e)).first;
  }
  return it->second;
}

void* scratch_for(Buffer& b, const memory::desc& d) {
  return d.get_size() ? b.get(d.get_size()) : nullptr;
}

void reorder(const Operand& o, const memory& from, const memory& to, dnnl::stream& s,
             Buffers& buf) {
  std::unordered_map<int, memory> args{{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
  if (o.move_scratch.get_size())
    args.emplace(DNNL_ARG_SCRATCHPAD,
                 memory(o.move_scratch, cpu_engine(), scratch_for(buf.scratch, o.move_scratch)));
  o.move.execute(s, args);
}

// Runs the entry: reorders the inputs in, executes, reorders the output out.
void execute_entry(const Entry& e, const float* in0, const float* in1, float* out,
                   const float* bias) {
  auto& eng = cpu_engine();
  dnnl::stream s(eng);
  Buffers& buf = thread_buffers();
  std::unordered_map<int, memory> args;
  const float* ins[2] = {in0, in1};
  for (int k = 0; k < 2; ++k) {
    const Operand& o = e.in[k];
    memory user(o.user, eng, const_cast<float*>(ins[k]));
    if (!o.reordered) {
      args.emplace(o.arg, user);
      continue;
    }
    memory m(o.prim, eng, buf.operand[k].get(o.prim.get_size()));
    reorder(o, user, m, s, buf);
    args.emplace(o.arg, m);
  }
  memory user_out(e.out.user, eng, out);
  memory prim_out = e.out.reordered
                        ? memory(e.out.prim, eng, buf.operand[2].get(e.out.prim.get_size()))
                        : user_out;
  args.emplace(e.out.arg, prim_out);
  if (e.bias_arg) args.emplace(e.bias_arg, memory(e.bias, eng, const_cast<float*>(bias)));
  if (e.scratch.get_size())
    args.emplace(DNNL_ARG_SCRATCHPAD, memory(e.scratch, eng, scratch_for(buf.scratch, e.scratch)));
  e.prim.execute(s, args);
  if (e.out.reordered) {
    reorder(e.out, prim_out, user_out, s, buf);
  }
  s.wait();
}

// A primitive that was built but fails to run (oneDNN reports out of memory, say) is an error of
// cformer's kind, not a dnnl::error escaping the library.
void execute(const Entry& e, const float* in0, const float* in1, float* out, const float* bias) {
  try {
    execute_entry(e, in0, in1, out, bias);
  } catch (const dnnl::error& err) {
    CF_THROW(InternalError, "conv2d: oneDNN convolution failed: ", err.what(), " (status ",
             static_cast<int>(err.status), ")");
  }
}

}  // namespace

bool dnnl_conv_available() {
  return true;
}

bool dnnl_conv2d_forward(const Conv2dArgs<float>& a) {
  if (omp_in_parallel()) return false;
  const std::shared_ptr<const Entry> e = lookup(a.g, Pass::forward, a.b != nullptr);
  if (!e) return false;
  execute(*e, a.x, a.w, a.y, a.b);
  return true;
}

bool dnnl_conv2d_backward_input(const Conv2dBackwardInputArgs<float>& a) {
  if (omp_in_parallel()) return false;
  const std::shared_ptr<const Entry> e = lookup(a.g, Pass::backward_input, false);
  if (!e) return false;
  execute(*e, a.dy, a.w, a.dx, nullptr);
  return true;
}

bool dnnl_conv2d_backward_weight(const Conv2dBackwardWeightArgs<float>& a) {
  if (omp_in_parallel()) return false;
  const std::shared_ptr<const Entry> e = lookup(a.g, Pass::backward_weight, a.db != nullptr);
  if (!e) return false;
  // The bias gradient is an output too: it is written through the bias operand.
  execute(*e, a.x, a.dy, a.dw, a.db);
  return true;
}

#else

bool dnnl_conv_available() {
  return false;
}
bool dnnl_conv2d_forward(const Conv2dArgs<float>&) {
  return false;
}
bool dnnl_conv2d_backward_input(const Conv2dBackwardInputArgs<float>&) {
  return false;
}
bool dnnl_conv2d_backward_weight(const Conv2dBackwardWeightArgs<float>&) {
  return false;
}

#endif

}  // namespace cf::ops::cpu
