// Typed errors thrown by cformer. Every user error is one of these; messages name the op, the
// argument, what was expected and what was found, e.g.
//   layer_norm: weight must have shape (768), got (767)
#pragma once
#include <stdexcept>
#include <string>

namespace cf {

/// Base of every error cformer throws on bad input or misuse.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
class ShapeError : public Error { using Error::Error; };
class DTypeError : public Error { using Error::Error; };
class DeviceError : public Error { using Error::Error; };
class ValueError : public Error { using Error::Error; };
class IndexError : public Error { using Error::Error; };
class IoError : public Error { using Error::Error; };
class FormatError : public Error { using Error::Error; };
class NotImplementedError : public Error { using Error::Error; };
class OutOfMemoryError : public Error { using Error::Error; };
/// Misuse of autograd: backward through a freed graph, a saved tensor modified in place, ...
class AutogradError : public Error { using Error::Error; };
/// An internal invariant failed: a bug in cformer, never the user's input.
class InternalError : public Error { using Error::Error; };

}  // namespace cf
