// nn::AttentionKernel: the attention kernel chosen by configuration (dense, memory_efficient,
// longformer, block_sparse, performer) over projected heads, for every Transformer of the
// library. See cformer/efficient_attention.h for the semantics of each kind.
#include <cmath>

#include <nlohmann/json.hpp>

#include "cformer/autograd.h"
#include "cformer/efficient_attention.h"
#include "util/check.h"

namespace cf::nn {
namespace {

const char* const kKinds[] = {"dense", "memory_efficient", "longformer", "block_sparse",
                              "performer"};

uint64_t draw_seed(Generator& gen) {
  return static_cast<uint64_t>(randint(0, int64_t{1} << 62, Shape{1}, gen).item());
}

Tensor build_layout(const AttentionKernelOptions& o, int64_t num_heads, int64_t max_len,
                    bool causal, Generator& gen) {
  const int64_t nb = (max_len + o.block_size - 1) / o.block_size;
  Tensor l;
  if (o.sparse_layout == "fixed")
    l = sparse_fixed_layout(nb, o.local_blocks, o.global_blocks, causal);
  else if (o.sparse_layout == "strided")
    l = sparse_strided_layout(nb, o.local_blocks, causal);
  else
    return bigbird_layout(nb, o.window_blocks, o.global_blocks, o.random_blocks, gen, num_heads);
  return l.unsqueeze(0).expand(Shape{num_heads, nb, nb}).contiguous();
}

template <class T>
void read_field(const nlohmann::json& j, const char* key, T& out) {
  if (!j.contains(key)) return;
  try {
    out = j.at(key).get<T>();
  } catch (const nlohmann::json::exception& e) {
    CF_THROW(FormatError, "attention config: bad '", key, "': ", e.what());
  }
}

}  // namespace

void AttentionKernelOptions::validate() const {
  bool known = false;
  for (const char* k : kKinds) known = known || kind == k;
  CF_CHECK(known, ValueError, "attention: unknown kind '", kind,
           "' (dense, memory_efficient, longformer, block_sparse, performer)");
  if (kind == "longformer")
    CF_CHECK(attention_window > 0 && attention_window % 2 == 0 && dilation >= 1, ValueError,
             "attention: attention_window must be even and positive and dilation >= 1, got ",
             attention_window, " and ", dilation);
  if (kind == "block_sparse") {
    CF_CHECK(sparse_layout == "fixed" || sparse_layout == "strided" || sparse_layout == "bigbird",
             ValueError, "attention: unknown sparse_layout '", sparse_layout,
             "' (fixed, strided, bigbird)");
    CF_CHECK(block_size > 0 && local_blocks > 0 && global_blocks > 0 && window_blocks > 0 &&
                 random_blocks >= 0,
             ValueError,
             "attention: block_size, local_blocks, global_blocks and window_blocks must be "
             "positive, random_blocks >= 0");
  }
  if (kind == "performer")
    CF_CHECK(nb_features > 0 && redraw_interval >= 0, ValueError,
             "attention: nb_features must be positive and redraw_interval >= 0, got ", nb_features,
             " and ", redraw_interval);
}

std::string AttentionKernelOptions::to_json() const {
  nlohmann::json j{{"kind", kind}};
  if (kind == "longformer") {
    j["attention_window"] = attention_window;
    j["dilation"] = dilation;
  } else if (kind == "block_sparse") {
    j["sparse_layout"] = sparse_layout;
    j["block_size"] = block_size;
    j["local_blocks"] = local_blocks;
    j["global_blocks"] = global_blocks;
    j["window_blocks"] = window_blocks;
    j["random_blocks"] = random_blocks;
  } else if (kind == "performer") {
    j["nb_features"] = nb_features;
    j["redraw_interval"] = redraw_interval;
  }
  return j.dump();
}

AttentionKernelOptions AttentionKernelOptions::from_json(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  CF_CHECK(j.is_object(), FormatError, "attention config: not a JSON object: ", text);
  AttentionKernelOptions o;
  read_field(j, "kind", o.kind);
  read_field(j, "attention_window", o.attention_window);
  read_field(j, "dilation", o.dilation);
  read_field(j, "sparse_layout", o.sparse_layout);
  read_field(j, "block_size", o.block_size);
  read_field(j, "local_blocks", o.local_blocks);
  read_field(j, "global_blocks", o.global_blocks);
  read_field(j, "window_blocks", o.window_blocks);
  read_field(j, "random_blocks", o.random_blocks);
  read_field(j, "nb_features", o.nb_features);
  read_field(j, "redraw_interval", o.redraw_interval);
  try {
    o.validate();
  } catch (const ValueError& e) {
    CF_THROW(FormatError, e.what());
  }
  return o;
}

AttentionKernel::AttentionKernel(const AttentionKernelOptions& o, int64_t h, int64_t e,
                                 int64_t len, bool is_causal, Generator& gen, DType dtype)
    : Module("AttentionKernel"), options(o), num_heads(h), head_dim(e), max_len(len),
      causal(is_causal) {
  o.validate();
  CF_CHECK(h > 0 && e > 0, ValueError, "AttentionKernel: num_heads and head_dim must be positive, got ",
           h, " and ", e);
  CF_CHECK(!(causal && o.kind == "longformer"), ValueError,
           "AttentionKernel: the longformer kernel has no causal form (use memory_efficient, "
           "block_sparse with the fixed or strided layout, or performer)");
  CF_CHECK(!(causal && o.kind == "block_sparse" && o.sparse_layout == "bigbird"), ValueError,
           "AttentionKernel: the bigbird layout has no causal form (use fixed or strided)");
  if (o.kind == "block_sparse") {
    CF_CHECK(len > 0, ValueError,
             "AttentionKernel: block_sparse needs the maximum sequence length, got ", len);
    layout = &register_buffer("layout", build_layout(o, h, len, causal, gen));
  }
  if (o.kind == "performer") {
    feature_gen = Generator(draw_seed(gen));
    projection_matrix = &register_buffer("projection_matrix",
                                         favor_projection(o.nb_features, e, feature_gen, true, dtype));
  }
}

void AttentionKernel::redraw_projection() {
  CF_CHECK(projection_matrix != nullptr, ValueError,
           "AttentionKernel: redraw_projection needs the performer kernel, not ", options.kind);
  NoGradGuard ng;
  projection_matrix->copy_(favor_projection(options.nb_features, head_dim, feature_gen, true,
                                               projection_matrix->dtype()));
}

Tensor AttentionKernel::forward(const Tensor& q, const Tensor& k, const Tensor& v,
                                const Tensor& pad, double dropout_p, Generator* dropout_gen,
                                std::optional<double> scale) {
  const std::string& a = options.kind;
  CF_CHECK(q.defined() && k.defined() && v.defined() && q.dim() == 4 && k.dim() == 4 &&
               v.dim() == 4,
           ShapeError, "AttentionKernel: q, k, v must be (B, H, L, E) tensors");
  CF_CHECK(dropout_p == 0.0 || a == "dense", ValueError, "AttentionKernel: the ", a,
           " kernel has no attention-probability dropout (got dropout_p ", dropout_p,
           "); set the attention dropout to 0 or use the dense kernel");
  if (a == "dense") {
    Tensor keep;
    if (pad.defined())
      keep = logical_not(pad).view(Shape{pad.size(0), 1, 1, pad.size(1)});
    return scaled_dot_product_attention(q, k, v, keep, dropout_p, causal, scale, dropout_gen);
  }
  if (a == "memory_efficient") return memory_efficient_attention(q, k, v, pad, causal, scale);
  if (a == "longformer") {
    CF_CHECK(q.size(2) == k.size(2), ShapeError,
             "AttentionKernel: longformer is self-attention (L == S), got L ", q.size(2),
             " and S ", k.size(2));
    return longformer_attention(q, k, v, q, k, v, Tensor(), options.attention_window / 2,
                                options.dilation, pad, scale);
  }
  if (a == "block_sparse") {
    const int64_t L = q.size(2), S = k.size(2);
    CF_CHECK(L <= max_len && S <= max_len, ValueError, "AttentionKernel: block_sparse layout covers ",
             max_len, " positions, got L ", L, " and S ", S);
    const int64_t bs = options.block_size;
    const int64_t nq = (L + bs - 1) / bs, nk = (S + bs - 1) / bs;
    const Tensor l = layout->narrow(1, 0, nq).narrow(2, 0, nk).contiguous();
    return block_sparse_attention(q, k, v, l, bs, pad, causal, scale);
  }
  // performer
  if (is_training() && options.redraw_interval > 0) {
    if (calls_since_last_redraw >= options.redraw_interval) {
      redraw_projection();
      calls_since_last_redraw = 0;
    }
    ++calls_since_last_redraw;
  }
  CF_CHECK(!causal || q.size(2) == k.size(2), ShapeError,
           "AttentionKernel: causal performer needs L == S, got L ", q.size(2), " and S ",
           k.size(2));
  Tensor qs = q;
  if (scale.has_value())  // FAVOR+ uses 1 / sqrt(E): fold the requested scale into q
    qs = mul(q, *scale * std::sqrt(static_cast<double>(q.size(3))));
  const Tensor qf = favor_features(qs, *projection_matrix, true);
  Tensor kf = favor_features(k, *projection_matrix, false);
  if (pad.defined())
    kf = mul(kf, logical_not(pad).to(kf.dtype()).view(Shape{pad.size(0), 1, pad.size(1), 1}));
  return linear_attention(qf, kf, v, causal);
}

std::string AttentionKernel::extra_repr() const {
  return detail::str_cat("kind=", options.kind, ", num_heads=", num_heads,
                         ", head_dim=", head_dim, ", causal=", causal);
}

}  // namespace cf::nn
