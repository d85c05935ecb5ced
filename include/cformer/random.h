// Seeded random numbers. A Generator is a Philox-4x32-10 counter-based stream: element i of a
// random op is a pure function of (seed, offset + i), so results do not depend on the thread
// count, and the whole state is two integers (checkpointed with training state).
#pragma once
#include <cstdint>

#include "cformer/shape.h"
#include "cformer/tensor.h"

namespace cf {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  void manual_seed(uint64_t seed) {
    seed_ = seed;
    offset_ = 0;
  }
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  /// Restores a state read from seed() and offset().
  void set_state(uint64_t seed, uint64_t offset) {
    seed_ = seed;
    offset_ = offset;
  }
  /// Reserves n counters (each yields four 32-bit words) and returns the first.
  uint64_t advance(uint64_t n) {
    const uint64_t o = offset_;
    offset_ += n;
    return o;
  }

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};

/// Uniform in [0, 1).
Tensor rand(const Shape& shape, Generator& gen, DType dtype = DType::f32);
/// Standard normal.
Tensor randn(const Shape& shape, Generator& gen, DType dtype = DType::f32);
/// Integers uniform in [low, high), dtype i64.
Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator& gen);
/// Bool tensor, true with probability p (elementwise from a float tensor of probabilities).
Tensor bernoulli(const Tensor& p, Generator& gen);
Tensor bernoulli(const Shape& shape, double p, Generator& gen);
/// A random permutation of 0..n-1, dtype i64.
Tensor randperm(int64_t n, Generator& gen);

/// In-place initializers (torch.nn.init); they bump the version and record no history.
namespace init {
void uniform_(Tensor& t, double low, double high, Generator& gen);
void normal_(Tensor& t, double mean, double std, Generator& gen);
/// Normal(mean, std) truncated to [a, b] by inverse-CDF sampling, as torch.nn.init.trunc_normal_.
void trunc_normal_(Tensor& t, double mean, double std, double a, double b, Generator& gen);
/// fan_in / fan_out as torch: dim 1 / dim 0 times the receptive field (product of dims >= 2).
void xavier_uniform_(Tensor& t, Generator& gen, double gain = 1.0);
void xavier_normal_(Tensor& t, Generator& gen, double gain = 1.0);
enum class FanMode { fan_in, fan_out };
/// gain = sqrt(2 / (1 + a^2)) (leaky_relu nonlinearity with slope a; a = 0 is relu).
void kaiming_uniform_(Tensor& t, Generator& gen, double a = 0.0, FanMode mode = FanMode::fan_in);
void kaiming_normal_(Tensor& t, Generator& gen, double a = 0.0, FanMode mode = FanMode::fan_in);
}  // namespace init

}  // namespace cf
