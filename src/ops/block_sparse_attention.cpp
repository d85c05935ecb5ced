#include "ops/block_sparse_attention.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include "autograd/node.h"
#include "cformer/efficient_attention.h"
#include "ops/elementwise.h"
#include "tensor/tensor_util.h"
#include "util/check.h"

namespace cf {
namespace {

constexpr const char* kOp = "block_sparse_attention";

// The layout compressed per layout head (see ops/block_sparse_attention.h), plus where each
// head's probabilities live.
struct BlockCsr {
  std::vector<int64_t> row_ptr, cols, col_ptr, entries, entry_row, p_head;
  int64_t p_batch = 0, LH = 1, NQ = 0, NK = 0;
};

// Under is_causal a block kb > qb holds only keys j > i, so it is dropped.
BlockCsr build_csr(const Tensor& layout, int64_t H, int64_t bs, bool causal) {
  BlockCsr c;
  const Tensor lay = layout.contiguous();
  c.LH = lay.dim() == 3 ? lay.size(0) : 1;
  c.NQ = lay.size(-2);
  c.NK = lay.size(-1);
  const bool* m = lay.numel() > 0 ? lay.data_ptr<bool>() : nullptr;
  std::vector<int64_t> nnz(c.LH, 0);
  for (int64_t lh = 0; lh < c.LH; ++lh) {
    const int64_t start = static_cast<int64_t>(c.cols.size());
    c.row_ptr.push_back(start);
    for (int64_t qb = 0; qb < c.NQ; ++qb) {
      for (int64_t kb = 0; kb < c.NK; ++kb)
        if (m[(lh * c.NQ + qb) * c.NK + kb] && !(causal && kb > qb)) c.cols.push_back(kb);
      c.row_ptr.push_back(static_cast<int64_t>(c.cols.size()));
    }
    nnz[lh] = static_cast<int64_t>(c.cols.size()) - start;
    // The transposed lists: for each kb, the (qb, position in cols) pairs, qb ascending.
    std::vector<int64_t> count(c.NK + 1, 0);
    for (int64_t p = start; p < start + nnz[lh]; ++p) ++count[c.cols[p] + 1];
    for (int64_t kb = 0; kb < c.NK; ++kb) count[kb + 1] += count[kb];
    const int64_t base = static_cast<int64_t>(c.entries.size());
    for (int64_t kb = 0; kb <= c.NK; ++kb) c.col_ptr.push_back(base + count[kb]);
    c.entries.resize(base + nnz[lh]);
    c.entry_row.resize(base + nnz[lh]);
    std::vector<int64_t> fill(count.begin(), count.end() - 1);
    const int64_t* rp = c.row_ptr.data() + lh * (c.NQ + 1);
    for (int64_t qb = 0; qb < c.NQ; ++qb)
      for (int64_t p = rp[qb]; p < rp[qb + 1]; ++p) {
        const int64_t slot = base + fill[c.cols[p]]++;
        c.entries[slot] = p;
        c.entry_row[slot] = qb;
      }
  }
  for (int64_t h = 0; h < H; ++h) {
    c.p_head.push_back(c.p_batch);
    c.p_batch += nnz[c.LH == 1 ? 0 : h] * bs * bs;
  }
  return c;
}

template <class T>
ops::cpu::BlockSparseArgs<T> make_args(const Tensor& q, const Tensor& k, const Tensor& v,
                                       const Tensor& pad, const BlockCsr& c, Tensor& p, int64_t bs,
                                       double scale, bool causal) {
  ops::cpu::BlockSparseArgs<T> a{};
  a.q = q.data_ptr<T>();
  a.k = k.data_ptr<T>();
  a.v = v.data_ptr<T>();
  a.pad = pad.defined() && pad.numel() > 0 ? pad.data_ptr<bool>() : nullptr;
  a.row_ptr = c.row_ptr.data();
  a.cols = c.cols.data();
  a.col_ptr = c.col_ptr.data();
  a.entries = c.entries.data();
  a.entry_row = c.entry_row.data();
  a.p_head = c.p_head.data();
  a.p = p.numel() > 0 ? p.data_ptr<T>() : nullptr;
  a.p_batch = c.p_batch;
  a.B = q.size(0);
  a.H = q.size(1);
  a.L = q.size(2);
  a.S = k.size(2);
  a.E = q.size(3);
  a.Ev = v.size(3);
  a.bs = bs;
  a.NQ = c.NQ;
  a.NK = c.NK;
  a.LH = c.LH;
  a.scale = static_cast<T>(scale);
  a.causal = causal;
  return a;
}

template <class T> T* ptr_or_null(const Tensor& t) {
  return t.numel() > 0 ? t.data_ptr<T>() : nullptr;
}

void check_block_sparse(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& layout,
                        int64_t bs, const Tensor& pad) {
  ops::check_floating(kOp, q, "q");
  ops::check_floating(kOp, k, "k");
  ops::check_floating(kOp, v, "v");
  CF_CHECK(k.dtype() == q.dtype() && v.dtype() == q.dtype(), DTypeError, kOp,
           ": q, k and v must have one dtype, got ", dtype_name(q.dtype()), ", ",
           dtype_name(k.dtype()), " and ", dtype_name(v.dtype()));
  CF_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, ShapeError, kOp,
           ": q (B, H, L, E), k (B, H, S, E) and v (B, H, S, Ev) must be 4-D, got ", q.shape(),
           ", ", k.shape(), " and ", v.shape());
  CF_CHECK(k.size(0) == q.size(0) && k.size(1) == q.size(1) && k.size(3) == q.size(3), ShapeError,
           kOp, ": k must have shape (", q.size(0), ", ", q.size(1), ", S, ", q.size(3),
           ") like q ", q.shape(), ", got ", k.shape());
  CF_CHECK(v.size(0) == q.size(0) && v.size(1) == q.size(1) && v.size(2) == k.size(2), ShapeError,
           kOp, ": v must have shape (", q.size(0), ", ", q.size(1), ", ", k.size(2),
           ", Ev), got ", v.shape());
  CF_CHECK(bs >= 1, ValueError, kOp, ": block_size must be positive, got ", bs);
  detail::check_cpu(layout, kOp, "layout");
  CF_CHECK(layout.dtype() == DType::b8, DTypeError, kOp, ": layout must be bool, got ",
           dtype_name(layout.dtype()));
  const int64_t nq = (q.size(2) + bs - 1) / bs, nk = (k.size(2) + bs - 1) / bs;
  const bool fits = (layout.dim() == 2 || (layout.dim() == 3 && layout.size(0) == q.size(1))) &&
                    layout.size(-2) == nq && layout.size(-1) == nk;
  CF_CHECK(fits, ShapeError, kOp, ": layout must have shape (", nq, ", ", nk, ") or (", q.size(1),
           ", ", nq, ", ", nk, ") for L = ", q.size(2), ", S = ", k.size(2), ", block_size = ", bs,
           ", got ", layout.shape());
  if (pad.defined()) {
    detail::check_cpu(pad, kOp, "key_padding_mask");
    CF_CHECK(pad.dtype() == DType::b8, DTypeError, kOp, ": key_padding_mask must be bool, got ",
             dtype_name(pad.dtype()));
    CF_CHECK(pad.dim() == 2 && pad.size(0) == q.size(0) && pad.size(1) == k.size(2), ShapeError,
             kOp, ": key_padding_mask must have shape (", q.size(0), ", ", k.size(2), "), got ",
             pad.shape());
  }
}

}  // namespace

Tensor block_sparse_attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in,
                              const Tensor& layout, int64_t block_size,
                              const Tensor& key_padding_mask, bool is_causal,
                              std::optional<double> scale) {
  check_block_sparse(q_in, k_in, v_in, layout, block_size, key_padding_mask);
  const double s = scale.value_or(1.0 / std::sqrt(static_cast<double>(q_in.size(-1))));
  const Tensor q = q_in.detach().contiguous(), k = k_in.detach().contiguous(),
               v = v_in.detach().contiguous();
  const Tensor pad = key_padding_mask.defined() ? key_padding_mask.contiguous() : Tensor();
  auto csr = std::make_shared<const BlockCsr>(build_csr(layout, q.size(1), block_size, is_causal));
  const DType dt = q.dtype();
  Tensor out = empty(Shape{q.size(0), q.size(1), q.size(2), v.size(3)}, dt);
  Tensor p = empty(Shape{q.size(0), csr->p_batch}, dt);
  if (dt == DType::f32) {
    const auto a = make_args<float>(q, k, v, pad, *csr, p, block_size, s, is_causal);
    ops::cpu::block_sparse_attention_forward(a, ptr_or_null<float>(out));
  } else {
    const auto a = make_args<double>(q, k, v, pad, *csr, p, block_size, s, is_causal);
    ops::cpu::block_sparse_attention_forward_ref(a, ptr_or_null<double>(out));
  }
  if (autograd::needs_grad(q_in, k_in, v_in)) {
    autograd::record(
        kOp, {q_in, k_in, v_in}, out,
        [q, k, v, pad, csr, p, block_size, s, is_causal](
            const autograd::TensorList& g, const autograd::Needs&) -> autograd::TensorList {
          const Tensor go = g[0].contiguous();
          Tensor dq = zeros(q.shape(), q.dtype()), dk = zeros(k.shape(), k.dtype()),
                 dv = zeros(v.shape(), v.dtype());
          Tensor saved = p;
          if (q.dtype() == DType::f32) {
            const auto a = make_args<float>(q, k, v, pad, *csr, saved, block_size, s, is_causal);
            Tensor ds = empty(p.shape(), DType::f32);
            ops::cpu::block_sparse_attention_backward(
                a, ptr_or_null<float>(go), ptr_or_null<float>(dq), ptr_or_null<float>(dk),
                ptr_or_null<float>(dv), ptr_or_null<float>(ds));
          } else {
            const auto a = make_args<double>(q, k, v, pad, *csr, saved, block_size, s, is_causal);
            ops::cpu::block_sparse_attention_backward_ref(
                a, ptr_or_null<double>(go), ptr_or_null<double>(dq), ptr_or_null<double>(dk),
                ptr_or_null<double>(dv));
          }
          return {dq, dk, dv};
        });
  }
  return out;
}

namespace {

void check_positive(const char* op, const char* arg, int64_t x) {
  CF_CHECK(x >= 1, ValueError, op, ": ", arg, " must be positive, got ", x);
}

}  // namespace

Tensor sparse_fixed_layout(int64_t num_blocks, int64_t local_blocks, int64_t global_blocks,
                           bool unidirectional) {
  const char* op = "sparse_fixed_layout";
  check_positive(op, "num_blocks", num_blocks);
  check_positive(op, "local_blocks", local_blocks);
  check_positive(op, "global_blocks", global_blocks);
  CF_CHECK(global_blocks < local_blocks, ValueError, op, ": global_blocks (", global_blocks,
           ") must be smaller than local_blocks (", local_blocks, ")");
  Tensor out = zeros(Shape{num_blocks, num_blocks}, DType::b8);
  bool* m = out.data_ptr<bool>();
  const int64_t n = num_blocks;
  for (int64_t w = 0; w < n; w += local_blocks) {
    const int64_t end = std::min(w + local_blocks, n);
    for (int64_t r = w; r < end; ++r)
      for (int64_t c = w; c < (unidirectional ? r + 1 : end); ++c) m[r * n + c] = true;
  }
  // Summary columns: the last global_blocks blocks of each full window; a trailing partial window
  // uses its own last blocks (clipped to the sequence), as DeepSpeed's FixedSparsityConfig.
  auto summary = [m, n, unidirectional](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c)
      for (int64_t r = unidirectional ? c : 0; r < n; ++r) m[r * n + c] = true;
  };
  const int64_t full_end = n - n % local_blocks;
  for (int64_t w = 0; w < full_end; w += local_blocks)
    summary(w + local_blocks - global_blocks, w + local_blocks);
  if (full_end < n) {
    const int64_t start = std::max<int64_t>(
        full_end, std::min(full_end + local_blocks - global_blocks, n - global_blocks));
    summary(start, n);
  }
  return out;
}

Tensor sparse_strided_layout(int64_t num_blocks, int64_t stride_blocks, bool unidirectional) {
  const char* op = "sparse_strided_layout";
  check_positive(op, "num_blocks", num_blocks);
  check_positive(op, "stride_blocks", stride_blocks);
  Tensor out = zeros(Shape{num_blocks, num_blocks}, DType::b8);
  bool* m = out.data_ptr<bool>();
  for (int64_t r = 0; r < num_blocks; ++r)
    for (int64_t c = 0; c < num_blocks; ++c) {
      const int64_t d = unidirectional ? r - c : std::abs(r - c);
      m[r * num_blocks + c] = d >= 0 && (d < stride_blocks || d % stride_blocks == 0);
    }
  return out;
}

Tensor bigbird_layout(int64_t num_blocks, int64_t window_blocks, int64_t global_blocks,
                      int64_t random_blocks, Generator& gen, int64_t num_heads) {
  const char* op = "bigbird_layout";
  check_positive(op, "num_blocks", num_blocks);
  check_positive(op, "window_blocks", window_blocks);
  CF_CHECK(window_blocks % 2 == 1, ValueError, op, ": window_blocks must be odd, got ",
           window_blocks);
  CF_CHECK(global_blocks >= 0 && random_blocks >= 0 && num_heads >= 0, ValueError, op,
           ": global_blocks, random_blocks and num_heads must be >= 0, got ", global_blocks, ", ",
           random_blocks, " and ", num_heads);
  const int64_t n = num_blocks, heads = std::max<int64_t>(num_heads, 1);
  Tensor out = zeros(num_heads == 0 ? Shape{n, n} : Shape{heads, n, n}, DType::b8);
  bool* all = out.data_ptr<bool>();
  // One uniform key per (head, row, block): the random blocks of a row are its unattended blocks
  // with the smallest keys (sampling without replacement).
  const Tensor keys = rand(Shape{heads, n, n}, gen, DType::f64);
  const double* key = keys.data_ptr<double>();
  std::vector<int64_t> free;
  for (int64_t h = 0; h < heads; ++h) {
    bool* m = all + h * n * n;
    for (int64_t r = 0; r < n; ++r)
      for (int64_t c = std::max<int64_t>(0, r - window_blocks / 2);
           c <= std::min(n - 1, r + window_blocks / 2); ++c)
        m[r * n + c] = true;
    for (int64_t g = 0; g < std::min(global_blocks, n); ++g)
      for (int64_t x = 0; x < n; ++x) m[g * n + x] = m[x * n + g] = true;
    for (int64_t r = global_blocks; r < n; ++r) {
      free.clear();
      for (int64_t c = 0; c < n; ++c)
        if (!m[r * n + c]) free.push_back(c);
      const double* kr = key + (h * n + r) * n;
      const int64_t take = std::min<int64_t>(random_blocks, static_cast<int64_t>(free.size()));
      std::partial_sort(free.begin(), free.begin() + take, free.end(),
                        [kr](int64_t x, int64_t y) { return kr[x] < kr[y]; });
      for (int64_t t = 0; t < take; ++t) m[r * n + free[t]] = true;
    }
  }
  return out;
}

}  // namespace cf
