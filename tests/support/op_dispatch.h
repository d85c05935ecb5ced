// Maps a golden case (op name + JSON args) onto the C++ op call. One dispatcher per op family,
// each in tests/support/dispatch_<family>.cpp, returning nullopt for ops it does not know.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cformer/ops.h"

namespace cf::testing {

using TensorList = std::vector<Tensor>;
using Json = nlohmann::json;
using Dispatch = std::optional<TensorList>;

Dispatch dispatch_views(const std::string& op, const Json& args, const TensorList& in);
Dispatch dispatch_elementwise(const std::string& op, const Json& args, const TensorList& in);
Dispatch dispatch_reduce(const std::string& op, const Json& args, const TensorList& in);
Dispatch dispatch_linalg(const std::string& op, const Json& args, const TensorList& in);
Dispatch dispatch_nn(const std::string& op, const Json& args, const TensorList& in);
Dispatch dispatch_loss(const std::string& op, const Json& args, const TensorList& in);
Dispatch dispatch_shape(const std::string& op, const Json& args, const TensorList& in);
Dispatch dispatch_attention(const std::string& op, const Json& args, const TensorList& in);
Dispatch dispatch_conv(const std::string& op, const Json& args, const TensorList& in);
Dispatch dispatch_pool(const std::string& op, const Json& args, const TensorList& in);
Dispatch dispatch_effattn_b(const std::string& op, const Json& args, const TensorList& in);
Dispatch dispatch_effattn_a(const std::string& op, const Json& args, const TensorList& in);

/// Runs the op; throws std::runtime_error for an op no dispatcher knows.
TensorList run_op(const std::string& op, const Json& args, const TensorList& in);

// Argument helpers.
Shape to_shape(const Json& j);
std::optional<double> opt_double(const Json& args, const char* key);
Reduction to_reduction(const std::string& s);

}  // namespace cf::testing
