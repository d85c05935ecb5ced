#include "support/op_dispatch.h"

namespace cf::testing {

Dispatch dispatch_loss(const std::string&, const Json&, const TensorList&) {
  return std::nullopt;
}

}  // namespace cf::testing
