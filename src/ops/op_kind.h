// OpKind and the name table, generated from op_list.def.
#pragma once

namespace cf::ops {

enum class OpKind {
#define CF_OP(kind, name, differentiable, golden) kind,
#include "ops/op_list.def"
#undef CF_OP
};

inline constexpr const char* kOpNames[] = {
#define CF_OP(kind, name, differentiable, golden) name,
#include "ops/op_list.def"
#undef CF_OP
};

inline constexpr const char* op_name(OpKind k) { return kOpNames[static_cast<int>(k)]; }

}  // namespace cf::ops
