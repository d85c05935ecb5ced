// Text data for language models: a character tokenizer with byte fallback and a token dataset
// with a deterministic train/validation split and reproducible random windows.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cformer/random.h"
#include "cformer/tensor.h"

namespace cf::data {

/// Characters (Unicode code points, UTF-8) seen when the tokenizer was built get one id each,
/// in code-point order; every other character is encoded as its UTF-8 bytes, which have ids
/// num_chars() + byte. Decoding is exact for any input, invalid UTF-8 included.
class CharTokenizer {
 public:
  CharTokenizer() = default;
  /// Builds the vocabulary from text (the training corpus).
  static CharTokenizer build(std::string_view text);
  /// Restores a tokenizer from to_json(); throws FormatError on malformed input.
  static CharTokenizer from_json(const std::string& json);
  std::string to_json() const;

  std::vector<int64_t> encode(std::string_view text) const;
  std::string decode(const std::vector<int64_t>& ids) const;
  int64_t vocab_size() const { return static_cast<int64_t>(chars_.size()) + 256; }
  int64_t num_chars() const { return static_cast<int64_t>(chars_.size()); }

 private:
  std::vector<uint32_t> chars_;  // sorted code points
};

/// A token stream split into train (the first 1 - val_fraction) and validation (the rest).
class TokenDataset {
 public:
  TokenDataset(std::vector<int64_t> tokens, double val_fraction);
  int64_t train_size() const { return split_; }
  int64_t val_size() const { return static_cast<int64_t>(tokens_.size()) - split_; }

  struct Batch {
    Tensor x;  // (B, T) i64
    Tensor y;  // (B, T) i64, x shifted by one
  };
  /// B windows of T + 1 tokens at uniform random offsets of the chosen split, drawn from gen
  /// (so the sequence of batches is reproduced by the generator's state).
  Batch sample(bool train, int64_t B, int64_t T, Generator& gen) const;
  /// The i-th of the consecutive non-overlapping validation windows (for a fixed evaluation).
  Batch val_window(int64_t first, int64_t B, int64_t T) const;
  int64_t num_val_windows(int64_t T) const;

 private:
  std::vector<int64_t> tokens_;
  int64_t split_;
};

/// Reads a whole text file; throws IoError if it cannot be read and ValueError when empty.
std::string read_text_file(const std::string& path);

}  // namespace cf::data
