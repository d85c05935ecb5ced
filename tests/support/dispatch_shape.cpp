#include "support/op_dispatch.h"

namespace cf::testing {

Dispatch dispatch_shape(const std::string&, const Json&, const TensorList&) {
  return std::nullopt;
}

}  // namespace cf::testing
