#include <algorithm>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cformer/data.h"
#include "cformer/io.h"
#include "util/check.h"

namespace cf::data {
namespace {

// Decodes one UTF-8 character at s[i]; returns its length, or 0 when the bytes there are not a
// valid, shortest-form encoding of a code point (the caller then falls back to bytes).
int utf8_char(std::string_view s, size_t i, uint32_t* cp) {
  const auto b = [&s](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t c = b(i);
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  int n;
  uint32_t v;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    v = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    v = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    v = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (int k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    v = (v << 6) | (b(i + k) & 0x3F);
  }
  const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
  if (v < min[n] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return n;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
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
