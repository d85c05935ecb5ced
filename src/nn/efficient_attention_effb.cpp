// nn::PerformerAttention and nn::AxialAttention (see cformer/efficient_attention.h). Public ops
// only, as every layer.
#include <string>

#include "cformer/autograd.h"
#include "cformer/efficient_attention.h"
#include "util/check.h"

namespace cf::nn {
namespace {

int64_t checked_head_dim(const char* what, int64_t e, int64_t h) {
  CF_CHECK(e >= 1 && h >= 1 && e % h == 0, ValueError, what, ": embed_dim (", e,
           ") must be a positive multiple of num_heads (", h, ")");
  return e / h;
}

PerformerAttentionOptions checked(const PerformerAttentionOptions& o) {
  CF_CHECK(o.nb_features >= 1 && o.redraw_interval >= 0, ValueError,
           "PerformerAttention: nb_features must be positive and redraw_interval >= 0, got ",
           o.nb_features, " and ", o.redraw_interval);
  return o;
}

uint64_t draw_seed(Generator& gen) {
  return static_cast<uint64_t>(randint(0, int64_t{1} << 62, Shape{1}, gen).item());
}

}  // namespace

PerformerAttention::PerformerAttention(int64_t e, int64_t h, Generator& gen,
                                       PerformerAttentionOptions o, DType dtype)
    : Module("PerformerAttention"),
      embed_dim(e),
      num_heads(h),
      head_dim(checked_head_dim("PerformerAttention", e, h)),
      options(checked(o)),
      feature_gen(draw_seed(gen)),
      projection_matrix(register_buffer(
          "projection_matrix",
          favor_projection(o.nb_features, head_dim, feature_gen, o.orthogonal, dtype))) {
  to_q = register_module("to_q", std::make_shared<Linear>(e, e, o.bias, gen, dtype));
  to_k = register_module("to_k", std::make_shared<Linear>(e, e, o.bias, gen, dtype));
  to_v = register_module("to_v", std::make_shared<Linear>(e, e, o.bias, gen, dtype));
  to_out = register_module("to_out", std::make_shared<Linear>(e, e, o.bias, gen, dtype));
}

void PerformerAttention::redraw_projection() {
  NoGradGuard no_grad;
  projection_matrix.copy_(favor_projection(options.nb_features, head_dim, feature_gen,
                                           options.orthogonal, projection_matrix.dtype()));
}

Tensor PerformerAttention::forward(const Tensor& x) {
  CF_CHECK(x.dim() == 3 && x.size(2) == embed_dim, ShapeError,
           "PerformerAttention: x must have shape (N, L, ", embed_dim, "), got ", x.shape());
  if (is_training() && options.redraw_interval > 0) {
    if (calls_since_last_redraw >= options.redraw_interval) {
      redraw_projection();
      calls_since_last_redraw = 0;
    }
    ++calls_since_last_redraw;
  }
  const int64_t N = x.size(0), L = x.size(1);
  auto heads = [N, L, this](const Tensor& t) {
    return t.view(Shape{N, L, num_heads, head_dim}).transpose(1, 2);
  };
  const Tensor out = performer_attention(heads(to_q->forward(x)), heads(to_k->forward(x)),
                                         heads(to_v->forward(x)), projection_matrix,
                                         options.causal);
  return to_out->forward(out.transpose(1, 2).reshape(Shape{N, L, embed_dim}));
}

std::string PerformerAttention::extra_repr() const {
  return "embed_dim=" + std::to_string(embed_dim) + ", num_heads=" + std::to_string(num_heads) +
         ", nb_features=" + std::to_string(options.nb_features) +
         ", causal=" + (options.causal ? "true" : "false") +
         ", redraw_interval=" + std::to_string(options.redraw_interval);
}

AxialAttention::AxialAttention(int64_t e, int64_t h, Generator& gen, DType dtype)
    : Module("AxialAttention"), embed_dim(e), num_heads(h) {
  checked_head_dim("AxialAttention", e, h);
  MultiheadAttentionOptions o;
  o.batch_first = true;
  row_attn = register_module("row_attn", std::make_shared<MultiheadAttention>(e, h, gen, o, dtype));
  col_attn = register_module("col_attn", std::make_shared<MultiheadAttention>(e, h, gen, o, dtype));
}

Tensor AxialAttention::forward(const Tensor& x) {
  CF_CHECK(x.dim() == 4 && x.size(3) == embed_dim, ShapeError,
           "AxialAttention: x must have shape (B, H, W, ", embed_dim, "), got ", x.shape());
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), D = embed_dim;
  const Tensor rows = x.reshape(Shape{B * H, W, D});
  const Tensor y = row_attn->forward(rows, rows, rows, {}, false).output.view(Shape{B, H, W, D});
  const Tensor cols = y.transpose(1, 2).reshape(Shape{B * W, H, D});
  const Tensor z = col_attn->forward(cols, cols, cols, {}, false).output;
  return z.view(Shape{B, W, H, D}).transpose(1, 2).contiguous();
}

std::string AxialAttention::extra_repr() const {
  return "embed_dim=" + std::to_string(embed_dim) + ", num_heads=" + std::to_string(num_heads);
}

}  // namespace cf::nn
