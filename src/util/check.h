// Validation macros. CF_CHECK for user errors (typed, message built from the arguments),
// CF_THROW to throw unconditionally, CF_ASSERT for internal invariants (a bug in cformer).
#pragma once
#include <sstream>
#include <string>
#include <utility>

#include "cformer/error.h"
#include "cformer/shape.h"

namespace cf::detail {

template <class... Args> std::string str_cat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}

}  // namespace cf::detail

#define CF_THROW(ErrType, ...) throw ErrType(::cf::detail::str_cat(__VA_ARGS__))
#define CF_CHECK(cond, ErrType, ...)         \
  do {                                       \
    if (!(cond)) CF_THROW(ErrType, __VA_ARGS__); \
  } while (0)
#define CF_ASSERT(cond, ...)                                                                    \
  do {                                                                                          \
    if (!(cond))                                                                                \
      CF_THROW(::cf::InternalError, "internal error (a bug in cformer) at ", __FILE__, ":",      \
               __LINE__, ": ", #cond, " ", ##__VA_ARGS__);                                      \
  } while (0)
