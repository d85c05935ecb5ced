// conv2d's three f32 kernels through oneDNN's convolution primitives (ops/cpu/conv_dnnl.cpp).
// Each runs its pass and returns true, or returns false with the outputs untouched when oneDNN
// is not compiled in, has only a reference implementation for the geometry, or the call comes
// from inside a parallel region; the caller then runs cformer's own kernel. Preconditions: no
// empty dimension (the callers handle those first). See Note [conv] in docs/notes/conv.md.
#pragma once
#include "ops/conv.h"

namespace cf::ops::cpu {

/// Whether cformer was built with oneDNN (CFORMER_WITH_ONEDNN).
bool dnnl_conv_available();
bool dnnl_conv2d_forward(const Conv2dArgs<float>& a);
bool dnnl_conv2d_backward_input(const Conv2dBackwardInputArgs<float>& a);
/// a.dw must be set; a.db may be null.
bool dnnl_conv2d_backward_weight(const Conv2dBackwardWeightArgs<float>& a);

}  // namespace cf::ops::cpu
