// train::kernel_rng_state / restore_kernel_rng_state: the performer redraw state round-trips, and
// malformed checkpoint metadata is a FormatError naming the file.
#include <gtest/gtest.h>

#include "cformer/cformer.h"
#include "support/expect_close.h"
#include "support/expect_throw.h"
#include "train/checkpoint.h"

namespace cf::train {
namespace {

TEST(KernelRngState, RoundTripsAndRejectsMalformedMetadata) {
  Generator gen(5);
  nn::AttentionKernelOptions o;
  o.kind = "performer";
  o.nb_features = 4;
  o.redraw_interval = 3;
  nn::AttentionKernel a(o, 1, 4, 0, false, gen), b(o, 1, 4, 0, false, gen);
  const Tensor x = randn(Shape{1, 1, 5, 4}, gen);
  for (int i = 0; i < 4; ++i) a.forward(x, x, x);  // one redraw, one forward into the next interval
  const nlohmann::json state = kernel_rng_state({&a});
  restore_kernel_rng_state({&b}, state, "ck.safetensors");
  EXPECT_EQ(b.feature_gen.seed(), a.feature_gen.seed());
  EXPECT_EQ(b.feature_gen.offset(), a.feature_gen.offset());
  EXPECT_EQ(b.calls_since_last_redraw, 1);
  b.projection_matrix->copy_(*a.projection_matrix);
  for (int i = 0; i < 3; ++i) a.forward(x, x, x), b.forward(x, x, x);  // both redraw at the same call
  EXPECT_TRUE(cf::testing::all_close(*a.projection_matrix, *b.projection_matrix, 0.0, 0.0));
  EXPECT_THROW_MSG(restore_kernel_rng_state({&a, &b}, state, "ck.safetensors"), FormatError,
                   "ck.safetensors: rng.kernels must list 2 attention kernels");
  EXPECT_THROW_MSG(restore_kernel_rng_state({&a}, nlohmann::json::array({{1, "x", 0}}), "ck"),
                   FormatError, "ck: malformed rng.kernels");
}

}  // namespace
}  // namespace cf::train
