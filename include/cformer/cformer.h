// Umbrella header.
#pragma once
#include "cformer/autograd.h"
#include "cformer/dtype.h"
#include "cformer/error.h"
#include "cformer/memory.h"
#include "cformer/ops.h"
#include "cformer/random.h"
#include "cformer/runtime.h"
#include "cformer/shape.h"
#include "cformer/tensor.h"
