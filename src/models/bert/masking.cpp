// BERT's masked-LM corruption (Devlin et al. 2019, 3.1; Google's create_pretraining_data.py):
// a fixed budget k = max(1, round(mask_prob * candidates)) of tokens is chosen by shuffling the
// candidate units (tokens, or whole words), then each chosen token is replaced by [MASK] (80%),
// a random non-special token (10%) or kept (10%). All randomness comes from one rand() draw per
// sequence of the given Generator, so results depend only on its seed and offset.
#include <algorithm>
#include <cmath>

#include "cformer/models/bert.h"
#include "cformer/ops.h"
#include "util/check.h"

namespace cf::models {

MaskedTokens mask_tokens(const std::vector<int64_t>& ids, const std::vector<uint8_t>& special,
                         const std::vector<int64_t>& word_ids, const MaskingVocab& vocab,
                         const MaskingOptions& opt, Generator& gen) {
  const size_t n = ids.size();
  CF_CHECK(special.size() == n, ValueError, "mask_tokens: special has ", special.size(),
           " entries for ", n, " ids");
  CF_CHECK(!opt.whole_word || word_ids.size() == n, ValueError, "mask_tokens: whole-word masking needs ",
           n, " word ids, got ", word_ids.size());
  CF_CHECK(opt.mask_prob > 0.0 && opt.mask_prob <= 1.0, ValueError,
           "mask_tokens: mask_prob must be in (0, 1], got ", opt.mask_prob);
  CF_CHECK(opt.mask_replace >= 0.0 && opt.random_replace >= 0.0 &&
               opt.mask_replace + opt.random_replace <= 1.0 + 1e-12,
           ValueError, "mask_tokens: mask_replace (", opt.mask_replace, ") and random_replace (",
           opt.random_replace, ") must be >= 0 with a sum <= 1");
  CF_CHECK(vocab.mask_id >= 0 && vocab.mask_id < vocab.vocab_size, ValueError, "mask_tokens: mask_id ",
           vocab.mask_id, " is outside the vocabulary [0, ", vocab.vocab_size, ")");
  std::vector<int64_t> specials;
  for (int64_t s : vocab.special_ids)
    if (s >= 0 && s < vocab.vocab_size) specials.push_back(s);
  std::sort(specials.begin(), specials.end());
  specials.erase(std::unique(specials.begin(), specials.end()), specials.end());
  const int64_t normal_tokens = vocab.vocab_size - static_cast<int64_t>(specials.size());
  CF_CHECK(normal_tokens > 0, ValueError, "mask_tokens: the vocabulary has only special tokens");

  MaskedTokens out{ids, std::vector<int64_t>(n, -100)};
  // Candidate units: [begin, end) position ranges.
  std::vector<std::pair<size_t, size_t>> units;
  size_t candidates = 0;
  for (size_t i = 0; i < n; ++i) {
    if (special[i]) continue;
    ++candidates;
    if (opt.whole_word && !units.empty() && units.back().second == i && word_ids[i] == word_ids[i - 1])
      units.back().second = i + 1;
    else
      units.emplace_back(i, i + 1);
  }
  if (candidates == 0) return out;
  const size_t budget = std::max<size_t>(
      1, static_cast<size_t>(std::llround(static_cast<double>(candidates) * opt.mask_prob)));
  const size_t G = units.size();
  const std::vector<double> u = rand(Shape{static_cast<int64_t>(G + 2 * candidates)}, gen, DType::f64)
                                    .to_vector<double>();
  for (size_t i = G; i > 1; --i) {  // Fisher-Yates
    const size_t j = std::min(i - 1, static_cast<size_t>(u[i - 1] * static_cast<double>(i)));
    std::swap(units[i - 1], units[j]);
  }
  size_t covered = 0, draw = G;
  std::vector<uint8_t> chosen(n, 0);
  for (const auto& [b, e] : units) {
    if (covered >= budget) break;
    if (covered > 0 && covered + (e - b) > budget) continue;
    for (size_t i = b; i < e; ++i) chosen[i] = 1;
    covered += e - b;
  }
  for (size_t i = 0; i < n; ++i) {
    if (!chosen[i]) continue;
    out.labels[i] = ids[i];
    const double r = u[draw++], r2 = u[draw++];
    if (r < opt.mask_replace) {
      out.ids[i] = vocab.mask_id;
    } else if (r < opt.mask_replace + opt.random_replace) {
      // The r-th non-special id: skip every special id at or below it.
      int64_t id = std::min(normal_tokens - 1, static_cast<int64_t>(r2 * static_cast<double>(normal_tokens)));
      for (int64_t s : specials)
        if (s <= id) ++id;
      out.ids[i] = id;
    }
  }
  return out;
}

std::vector<int64_t> word_ids_from_continuation(const std::vector<uint8_t>& is_continuation,
                                                const std::vector<uint8_t>& special) {
  CF_CHECK(is_continuation.size() == special.size(), ValueError, "word_ids_from_continuation: ",
           is_continuation.size(), " continuation flags for ", special.size(), " special flags");
  std::vector<int64_t> w(special.size(), -1);
  int64_t word = -1;
  for (size_t i = 0; i < special.size(); ++i) {
    if (special[i]) continue;
    const bool continues = is_continuation[i] && i > 0 && !special[i - 1] && word >= 0;
    if (!continues) ++word;
    w[i] = word;
  }
  return w;
}

}  // namespace cf::models
