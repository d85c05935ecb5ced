// Element types and devices.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace cf {

/// f32 is the main type; f64 serves gradient checks (reference kernels); i64 holds indices;
/// b8 (bool) and u8 hold masks and bytes; bf16 is a storage type (conversion only, for now).
enum class DType : uint8_t { f32, f64, i64, b8, u8, bf16 };

inline constexpr size_t element_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i64: return 8;
    case DType::b8: return 1;
    case DType::u8: return 1;
    case DType::bf16: return 2;
  }
  return 0;
}
inline constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::i64: return "i64";
    case DType::b8: return "bool";
    case DType::u8: return "u8";
    case DType::bf16: return "bf16";
  }
  return "?";
}
inline constexpr bool is_floating(DType t) {
  return t == DType::f32 || t == DType::f64 || t == DType::bf16;
}

/// The C++ type of a dtype, for typed access: data_ptr<float>() checks dtype() == f32.
template <class T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::f32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::f64; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::i64; };
template <> struct DTypeOf<bool> { static constexpr DType value = DType::b8; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::u8; };

/// bfloat16 storage: the upper 16 bits of an IEEE float.
struct BFloat16 {
  uint16_t bits;
};
template <> struct DTypeOf<BFloat16> { static constexpr DType value = DType::bf16; };

enum class Device : uint8_t { cpu, cuda };
inline constexpr std::string_view device_name(Device d) { return d == Device::cpu ? "cpu" : "cuda"; }

}  // namespace cf
