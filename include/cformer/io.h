// File formats: safetensors (read and write, strictly validated) and atomic file writing.
// safetensors: 8-byte little-endian header length N, N bytes of JSON
//   {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"key": "value"}}
// then the data buffer; offsets are relative to the buffer and must tile it exactly.
#pragma once
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "cformer/tensor.h"

namespace cf::io {

struct TensorInfo {
  std::string name;
  std::string dtype;  // as written in the file: "F32", "BF16", ...
  Shape shape;
  uint64_t begin = 0, end = 0;  // data_offsets
};

struct SafetensorsHeader {
  std::vector<TensorInfo> tensors;  // sorted by begin offset
  std::map<std::string, std::string> metadata;
  uint64_t header_size = 0;  // N
  uint64_t data_size = 0;    // bytes after the header
};

struct NamedTensors {
  std::vector<std::pair<std::string, Tensor>> tensors;  // in data order
  std::map<std::string, std::string> metadata;
  /// The tensor called name; throws ValueError listing nothing else when absent.
  const Tensor& at(const std::string& name) const;
  bool contains(const std::string& name) const;
};

/// Largest header accepted (the reference implementation's limit).
inline constexpr uint64_t kMaxSafetensorsHeader = 100'000'000;

/// Parses and validates a header from the file's first bytes (at least 8 + N of them when the
/// length N is within limits); total_size is the whole file's size. Checks everything but the
/// data bytes: the offsets must tile the data buffer exactly. Throws FormatError with the
/// reason (and the offset where it helps).
SafetensorsHeader parse_safetensors_header(std::span<const uint8_t> bytes, uint64_t total_size,
                                           const std::string& source);
/// Parses a whole file image. F16 is widened to f32 and I32/I16/I8/U16/U32 to i64; other dtypes
/// the format knows but cformer lacks (F8, U64) throw NotImplementedError. A BOOL byte other
/// than 0 or 1 throws FormatError.
NamedTensors parse_safetensors(std::span<const uint8_t> bytes, const std::string& source);
/// Reads the header only: at most 8 + N bytes, never the data. Throws IoError (missing or not a
/// regular file) or FormatError.
SafetensorsHeader read_safetensors_header(const std::string& path);
NamedTensors load_safetensors(const std::string& path);

/// The file image for these tensors (written in the given order, header padded to 8 bytes).
/// Names must be unique, non-empty, valid UTF-8 and not "__metadata__"; tensors of dtype f32,
/// f64, i64, bool, u8, bf16 on the cpu. Throws ValueError.
std::vector<uint8_t> serialize_safetensors(
    const std::vector<std::pair<std::string, Tensor>>& tensors,
    const std::map<std::string, std::string>& metadata = {});
/// Writes atomically (see write_file_atomic).
void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

/// Writes bytes to path.tmp.<pid>.<n> (created exclusively), fsyncs it, renames it over path and
/// fsyncs the directory: a crash at any moment leaves either the old file or the new one, and
/// no temporary survives a failure. Throws IoError naming path.
void write_file_atomic(const std::string& path, std::span<const uint8_t> bytes);
/// Reads a whole file. Throws IoError naming the path and the reason.
std::vector<uint8_t> read_file(const std::string& path);

}  // namespace cf::io
