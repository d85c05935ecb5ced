#include <algorithm>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cformer/data.h"
#include "cformer/io.h"
#include "tokenizers/unicode.h"
#include "util/check.h"

namespace cf::data {
namespace {

using tokenizers::unicode::append_utf8;

// The character at s[i]: its length, or 0 when the bytes there are not valid UTF-8 (the caller
// then falls back to bytes).
int utf8_char(std::string_view s, size_t i, uint32_t* cp) {
  const int n = tokenizers::unicode::decode_utf8(s, i, *cp);
  return *cp == 0xFFFFFFFFu ? 0 : n;
}

}  // namespace

CharTokenizer CharTokenizer::build(std::string_view text) {
  std::vector<bool> seen(0x110000, false);
  for (size_t i = 0; i < text.size();) {
    uint32_t cp;
    const int n = utf8_char(text, i, &cp);
    if (n == 0) {
      ++i;  // invalid bytes are left to the byte fallback
      continue;
    }
    seen[cp] = true;
    i += n;
  }
  CharTokenizer t;
  for (uint32_t cp = 0; cp < seen.size(); ++cp)
    if (seen[cp]) t.chars_.push_back(cp);
  return t;
}

std::string CharTokenizer::to_json() const {
  nlohmann::json j;
  j["type"] = "char";
  j["chars"] = chars_;
  return j.dump();
}

CharTokenizer CharTokenizer::from_json(const std::string& text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    CF_THROW(FormatError, "char tokenizer: invalid JSON: ", e.what());
  }
  CF_CHECK(j.is_object() && j.value("type", "") == "char" && j.contains("chars") &&
               j["chars"].is_array(),
           FormatError, "char tokenizer: expected {\"type\": \"char\", \"chars\": [...]}");
  CharTokenizer t;
  for (const auto& v : j["chars"]) {
    CF_CHECK(v.is_number_unsigned() && v.get<uint64_t>() <= 0x10FFFF, FormatError,
             "char tokenizer: invalid code point ", v.dump());
    const uint32_t cp = v.get<uint32_t>();
    CF_CHECK(t.chars_.empty() || cp > t.chars_.back(), FormatError,
             "char tokenizer: code points must be strictly increasing");
    t.chars_.push_back(cp);
  }
  return t;
}

std::vector<int64_t> CharTokenizer::encode(std::string_view text) const {
  std::vector<int64_t> ids;
  ids.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    uint32_t cp;
    const int n = utf8_char(text, i, &cp);
    if (n > 0) {
      auto it = std::lower_bound(chars_.begin(), chars_.end(), cp);
      if (it != chars_.end() && *it == cp) {
        ids.push_back(it - chars_.begin());
        i += n;
        continue;
      }
    }
    const int len = n > 0 ? n : 1;
    for (int k = 0; k < len; ++k) ids.push_back(num_chars() + static_cast<uint8_t>(text[i + k]));
    i += len;
  }
  return ids;
}

std::string CharTokenizer::decode(const std::vector<int64_t>& ids) const {
  std::string out;
  for (int64_t id : ids) {
    CF_CHECK(id >= 0 && id < vocab_size(), IndexError, "char tokenizer: token id ", id,
             " is outside the vocabulary [0, ", vocab_size(), ")");
    if (id < num_chars()) append_utf8(out, chars_[id]);
    else out += static_cast<char>(id - num_chars());
  }
  return out;
}

TokenDataset::TokenDataset(std::vector<int64_t> tokens, double val_fraction)
    : tokens_(std::move(tokens)) {
  CF_CHECK(val_fraction > 0.0 && val_fraction < 1.0, ValueError,
           "dataset: val_fraction must be in (0, 1), got ", val_fraction);
  split_ = static_cast<int64_t>(static_cast<double>(tokens_.size()) * (1.0 - val_fraction));
}

TokenDataset::Batch TokenDataset::sample(bool train, int64_t B, int64_t T, Generator& gen) const {
  const int64_t begin = train ? 0 : split_;
  const int64_t size = train ? split_ : val_size();
  CF_CHECK(size > T, ValueError, "dataset: the ", train ? "training" : "validation", " split has ",
           size, " tokens, too few for windows of ", T + 1, " tokens");
  Tensor starts = randint(0, size - T, Shape{B}, gen);
  const int64_t* s = starts.data_ptr<int64_t>();
  Batch b{empty(Shape{B, T}, DType::i64), empty(Shape{B, T}, DType::i64)};
  int64_t* x = b.x.data_ptr<int64_t>();
  int64_t* y = b.y.data_ptr<int64_t>();
  for (int64_t i = 0; i < B; ++i) {
    const int64_t* src = tokens_.data() + begin + s[i];
    std::copy(src, src + T, x + i * T);
    std::copy(src + 1, src + T + 1, y + i * T);
  }
  return b;
}

int64_t TokenDataset::num_val_windows(int64_t T) const { return (val_size() - 1) / T; }

TokenDataset::Batch TokenDataset::val_window(int64_t first, int64_t B, int64_t T) const {
  CF_CHECK(first >= 0 && first + B <= num_val_windows(T), IndexError, "dataset: validation windows [",
           first, ", ", first + B, ") exceed the ", num_val_windows(T), " available");
  Batch b{empty(Shape{B, T}, DType::i64), empty(Shape{B, T}, DType::i64)};
  int64_t* x = b.x.data_ptr<int64_t>();
  int64_t* y = b.y.data_ptr<int64_t>();
  for (int64_t i = 0; i < B; ++i) {
    const int64_t* src = tokens_.data() + split_ + (first + i) * T;
    std::copy(src, src + T, x + i * T);
    std::copy(src + 1, src + T + 1, y + i * T);
  }
  return b;
}

std::string read_text_file(const std::string& path) {
  std::vector<uint8_t> bytes = io::read_file(path);
  CF_CHECK(!bytes.empty(), ValueError, path, ": the data file is empty");
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace cf::data
