// Corpus BLEU as sacreBLEU 2.x computes it (sacrebleu/metrics/bleu.py): per sentence, n-grams of
// orders 1..4 of the tokenized hypothesis, matches clipped by the largest count of that n-gram in
// any one reference, the closest reference length (the shorter on ties); sums over the corpus;
//   BLEU = 100 * BP * exp(1/4 * sum_n log p_n),  p_n = correct_n / total_n,
//   BP = 1 if c >= r else exp(1 - r/c)   (c: hypothesis length, r: reference length).
// A corpus without any match scores 0; a zero precision without smoothing gives log(0), which
// sacreBLEU replaces by -9999999999 (so the score underflows to 0).
#include <cmath>
#include <cstdio>
#include <string>
#include <unordered_map>

#include "cformer/metrics/translation.h"
#include "util/check.h"

namespace cf::metrics {
namespace {

constexpr int kOrder = 4;

// N-grams of orders 1..4 keyed by their tokens joined with ' ' (tokens hold no whitespace, so
// the key is unambiguous and also encodes the order).
using NgramCounts = std::unordered_map<std::string, int64_t>;

NgramCounts count_ngrams(const std::vector<std::string_view>& tokens) {
  NgramCounts counts;
  const size_t n_tok = tokens.size();
  for (int n = 1; n <= kOrder; ++n) {
    for (size_t i = 0; i + static_cast<size_t>(n) <= n_tok; ++i) {
      std::string key(tokens[i]);
      for (int k = 1; k < n; ++k) {
        key += ' ';
        key.append(tokens[i + static_cast<size_t>(k)]);
      }
      ++counts[key];
    }
  }
  return counts;
}

int order_of(const std::string& key) {
  int n = 1;
  for (char c : key) n += c == ' ';
  return n;
}

// sacreBLEU: rstrip(), then the tokenizer ('none' leaves the text to the whitespace split).
std::string preprocess(std::string_view s, BleuTokenizer tokenizer) {
  const std::vector<std::string_view> toks = split_whitespace(s);
  if (toks.empty()) return std::string();
  const std::string_view stripped =
      s.substr(0, static_cast<size_t>(toks.back().data() - s.data()) + toks.back().size());
  return tokenizer == BleuTokenizer::k13a ? tokenize_13a(stripped) : std::string(stripped);
}

double log_or_floor(double x) {
  return x == 0.0 ? -9999999999.0 : std::log(x);
}

}  // namespace

BleuStats& BleuStats::operator+=(const BleuStats& o) {
  hyp_len += o.hyp_len;
  ref_len += o.ref_len;
  for (int n = 0; n < kOrder; ++n) {
    correct[n] += o.correct[n];
    total[n] += o.total[n];
  }
  return *this;
}

BleuStats bleu_sentence_stats(std::string_view hyp, const std::vector<std::string_view>& refs,
                              BleuTokenizer tokenizer) {
  NgramCounts ref_max;
  std::vector<int64_t> ref_lens;
  for (std::string_view ref : refs) {
    if (ref.empty()) continue;  // sacreBLEU drops empty references of a segment
    const std::string r = preprocess(ref, tokenizer);
    const std::vector<std::string_view> toks = split_whitespace(r);
    ref_lens.push_back(static_cast<int64_t>(toks.size()));
    for (const auto& [key, count] : count_ngrams(toks)) {
      int64_t& m = ref_max[key];
      m = std::max(m, count);
    }
  }
  CF_CHECK(!ref_lens.empty(), ValueError, "bleu: a hypothesis has no non-empty reference (got ",
           refs.size(), " empty)");
  const std::string h = preprocess(hyp, tokenizer);
  const std::vector<std::string_view> toks = split_whitespace(h);
  BleuStats st;
  st.hyp_len = static_cast<int64_t>(toks.size());
  int64_t best_diff = -1;
  for (int64_t len : ref_lens) {
    const int64_t diff = std::abs(st.hyp_len - len);
    if (best_diff < 0 || diff < best_diff || (diff == best_diff && len < st.ref_len)) {
      best_diff = diff;
      st.ref_len = len;
    }
  }
  for (const auto& [key, count] : count_ngrams(toks)) {
    const int n = order_of(key) - 1;
    st.total[n] += count;
    auto it = ref_max.find(key);
    if (it != ref_max.end()) st.correct[n] += std::min(count, it->second);
  }
  return st;
}

BleuScore bleu_from_stats(const BleuStats& stats, const BleuOptions& options) {
  BleuScore s;
  s.stats = stats;
  const double c = static_cast<double>(stats.hyp_len), r = static_cast<double>(stats.ref_len);
  s.bp = c < r ? (c > 0 ? std::exp(1.0 - r / c) : 0.0) : 1.0;
  bool any = false;
  for (int n = 0; n < kOrder; ++n) any = any || stats.correct[n] != 0;
  if (!any) return s;
  double value = options.smooth_value;
  if (value < 0) value = options.smooth == BleuSmooth::kFloor ? 0.1 : 1.0;
  double smooth_mteval = 1.0;
  for (int n = 0; n < kOrder; ++n) {
    double correct = static_cast<double>(stats.correct[n]);
    double total = static_cast<double>(stats.total[n]);
    if (options.smooth == BleuSmooth::kAddK && n > 0) {
      correct += value;
      total += value;
    }
    if (total == 0.0) break;
    if (correct == 0.0) {
      if (options.smooth == BleuSmooth::kExp) {
        smooth_mteval *= 2.0;
        s.precisions[n] = 100.0 / (smooth_mteval * total);
      } else if (options.smooth == BleuSmooth::kFloor) {
        s.precisions[n] = 100.0 * value / total;
      }
    } else {
      s.precisions[n] = 100.0 * correct / total;
    }
  }
  double log_sum = 0.0;
  for (int n = 0; n < kOrder; ++n) log_sum += log_or_floor(s.precisions[n]);
  s.score = s.bp * std::exp(log_sum / kOrder);
  return s;
}

BleuScore corpus_bleu(const std::vector<std::string>& hyps,
                      const std::vector<std::vector<std::string>>& refs,
                      const BleuOptions& options) {
  CF_CHECK(!refs.empty(), ValueError, "bleu: no reference stream given");
  for (size_t k = 0; k < refs.size(); ++k)
    CF_CHECK(refs[k].size() == hyps.size(), ValueError, "bleu: reference stream ", k, " has ",
             refs[k].size(), " lines, the hypotheses have ", hyps.size());
  BleuStats total;
  std::vector<std::string_view> seg_refs(refs.size());
  for (size_t i = 0; i < hyps.size(); ++i) {
    for (size_t k = 0; k < refs.size(); ++k) seg_refs[k] = refs[k][i];
    try {
      total += bleu_sentence_stats(hyps[i], seg_refs, options.tokenizer);
    } catch (const ValueError&) {
      CF_THROW(ValueError, "bleu: line ", i + 1, " has only empty references");
    }
  }
  return bleu_from_stats(total, options);
}

std::string BleuScore::format() const {
  char buf[256];
  const double ratio = stats.ref_len > 0
                           ? static_cast<double>(stats.hyp_len) / static_cast<double>(stats.ref_len)
                           : 0.0;
  std::snprintf(buf, sizeof buf,
                "BLEU = %.2f %.1f/%.1f/%.1f/%.1f (BP = %.3f ratio = %.3f hyp_len = %lld ref_len = "
                "%lld)",
                score, precisions[0], precisions[1], precisions[2], precisions[3], bp, ratio,
                static_cast<long long>(stats.hyp_len), static_cast<long long>(stats.ref_len));
  return buf;
}

std::string bleu_signature(const BleuOptions& options, int64_t num_refs) {
  const char* smooth = options.smooth == BleuSmooth::kNone    ? "none"
                       : options.smooth == BleuSmooth::kExp   ? "exp"
                       : options.smooth == BleuSmooth::kFloor ? "floor"
                                                              : "add-k";
  std::string sig = "nrefs:" + std::to_string(num_refs) + "|case:mixed|eff:no|tok:" +
                    (options.tokenizer == BleuTokenizer::k13a ? "13a" : "none") +
                    "|smooth:" + smooth;
  if (options.smooth == BleuSmooth::kFloor || options.smooth == BleuSmooth::kAddK) {
    // sacreBLEU shows the value of the methods that take one, the default included
    const double value = options.smooth_value >= 0              ? options.smooth_value
                         : options.smooth == BleuSmooth::kFloor ? 0.1
                                                                : 1.0;
    char buf[32];
    std::snprintf(buf, sizeof buf, "[%.2f]", value);
    sig += buf;
  }
  return sig + "|version:cformer";
}

}  // namespace cf::metrics
