#include "support/op_dispatch.h"

namespace cf::testing {

// Window arguments are JSON lists of 1 or 2 ints; missing keys take the ops' defaults.
Dispatch dispatch_pool(const std::string& op, const Json& a, const TensorList& in) {
  auto shape_or = [&a](const char* key, Shape fallback) {
    return a.contains(key) && !a[key].is_null() ? to_shape(a[key]) : fallback;
  };
  auto scales = [&a]() {
    std::vector<double> s;
    if (a.contains("scale_factor") && !a["scale_factor"].is_null())
      for (const auto& v : a["scale_factor"]) s.push_back(v.get<double>());
    return s;
  };
  if (op == "max_pool2d")
    return TensorList{max_pool2d(in[0], to_shape(a["kernel_size"]), shape_or("stride", {}),
                                 shape_or("padding", {0}), shape_or("dilation", {1}),
                                 a.value("ceil_mode", false))};
  if (op == "avg_pool2d") {
    std::optional<int64_t> divisor;
    if (a.contains("divisor_override") && !a["divisor_override"].is_null())
      divisor = a["divisor_override"].get<int64_t>();
    return TensorList{avg_pool2d(in[0], to_shape(a["kernel_size"]), shape_or("stride", {}),
                                 shape_or("padding", {0}), a.value("ceil_mode", false),
                                 a.value("count_include_pad", true), divisor)};
  }
  if (op == "adaptive_avg_pool2d")
    return TensorList{adaptive_avg_pool2d(in[0], to_shape(a["output_size"]))};
  if (op == "upsample_nearest2d")
    return TensorList{upsample_nearest2d(in[0], shape_or("size", {}), scales())};
  if (op == "upsample_bilinear2d")
    return TensorList{
        upsample_bilinear2d(in[0], shape_or("size", {}), a["align_corners"].get<bool>(), scales())};
  if (op == "unfold")
    return TensorList{unfold(in[0], to_shape(a["kernel_size"]), shape_or("dilation", {1}),
                             shape_or("padding", {0}), shape_or("stride", {1}))};
  if (op == "fold")
    return TensorList{fold(in[0], to_shape(a["output_size"]), to_shape(a["kernel_size"]),
                           shape_or("dilation", {1}), shape_or("padding", {0}),
                           shape_or("stride", {1}))};
  return std::nullopt;
}

}  // namespace cf::testing
