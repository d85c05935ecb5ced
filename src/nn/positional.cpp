// Positional encodings: the fixed sinusoids of "Attention is all you need" (section 3.5) and a
// learned table (GPT-2's wpe).
#include <cmath>

#include "cformer/nn.h"
#include "util/check.h"

namespace cf::nn {
namespace {

/// x + table[offset : offset + T], with T the sequence dim of x's layout.
Tensor add_positions(const char* op, const Tensor& x, const Tensor& table, int64_t offset,
                     bool batch_first) {
  const int64_t max_len = table.size(0), E = table.size(1);
  CF_CHECK(x.defined() && (x.dim() == 2 || x.dim() == 3) && x.size(-1) == E, ShapeError, op,
           ": input must be (T, ", E, ") or 3-D with last dim ", E, ", got ",
           x.defined() ? x.shape().str() : std::string("undefined"));
  const int seq_dim = x.dim() == 3 && batch_first ? 1 : 0;
  const int64_t T = x.size(seq_dim);
  CF_CHECK(offset >= 0 && offset + T <= max_len, ShapeError, op, ": positions [", offset, ", ",
           offset + T, ") exceed max_len ", max_len);
  Tensor pos = table.narrow(0, offset, T);                   // (T, E)
  if (x.dim() == 3 && !batch_first) pos = pos.unsqueeze(1);  // (T, 1, E)
  return add(x, pos);
}

/// pe (max_len, d): dims 2j and 2j+1 share the frequency 1 / 10000^(2j / d).
Tensor sinusoids(int64_t d, int64_t max_len, DType dtype) {
  CF_CHECK(d > 0 && max_len > 0, ValueError,
           "SinusoidalPositionalEncoding: d_model and max_len must be positive, got ", d, " and ",
           max_len);
  std::vector<double> v(static_cast<size_t>(max_len * d));
  for (int64_t t = 0; t < max_len; ++t)
    for (int64_t i = 0; i < d; ++i) {
      const double freq = std::exp(-std::log(10000.0) * static_cast<double>(i - i % 2) / d);
      const double a = static_cast<double>(t) * freq;
      v[static_cast<size_t>(t * d + i)] = i % 2 == 0 ? std::sin(a) : std::cos(a);
    }
  return from_vector<double>(v, Shape{max_len, d}).to(dtype);
}

Tensor normal_tensor(int64_t max_len, int64_t d, double std, Generator& gen, DType dtype) {
  CF_CHECK(d > 0 && max_len > 0, ValueError,
           "LearnedPositionalEncoding: d_model and max_len must be positive, got ", d, " and ",
           max_len);
  Tensor w = empty(Shape{max_len, d}, dtype);
  init::normal_(w, 0.0, std, gen);
  return w;
}

}  // namespace

SinusoidalPositionalEncoding::SinusoidalPositionalEncoding(int64_t d, int64_t max_len_, bool bf,
                                                           DType dtype)
    : Module("SinusoidalPositionalEncoding"),
      d_model(d),
      max_len(max_len_),
      batch_first(bf),
      pe(register_buffer("pe", sinusoids(d, max_len_, dtype), false)) {}

Tensor SinusoidalPositionalEncoding::forward(const Tensor& x, int64_t offset) {
  return add_positions("SinusoidalPositionalEncoding", x, pe, offset, batch_first);
}

std::string SinusoidalPositionalEncoding::extra_repr() const {
  return detail::str_cat("d_model=", d_model, ", max_len=", max_len);
}

LearnedPositionalEncoding::LearnedPositionalEncoding(int64_t max_len_, int64_t d, Generator& gen,
                                                     bool bf, double init_std, DType dtype)
    : Module("LearnedPositionalEncoding"),
      max_len(max_len_),
      d_model(d),
      batch_first(bf),
      weight(register_parameter("weight", normal_tensor(max_len_, d, init_std, gen, dtype))) {}

Tensor LearnedPositionalEncoding::forward(const Tensor& x, int64_t offset) {
  return add_positions("LearnedPositionalEncoding", x, weight, offset, batch_first);
}

std::string LearnedPositionalEncoding::extra_repr() const {
  return detail::str_cat("max_len=", max_len, ", d_model=", d_model);
}

}  // namespace cf::nn
