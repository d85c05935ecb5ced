// chrF as sacreBLEU 2.x computes it (sacrebleu/metrics/chrf.py, defaults nc=6 nw=0 beta=2): the
// text without whitespace (unless asked), character n-grams of orders 1..6 (characters are code
// points; a byte that is not valid UTF-8 counts as one character), clipped matches per order.
// Statistics add up over the corpus; then, per order with hypothesis and reference n-grams,
//   P_n = match_n / hyp_n,  R_n = match_n / ref_n,
// P and R are the means over those orders and chrF = 100 (1 + b^2) P R / (b^2 P + R).
#include <cstdio>
#include <string>
#include <unordered_map>

#include "cformer/metrics/translation.h"
#include "tokenizers/unicode.h"
#include "util/check.h"

namespace cf::metrics {
namespace {

using NgramCounts = std::unordered_map<std::string_view, int64_t>;

// The code-point boundaries of s: starts[i] is where character i begins; starts.back() = size.
std::vector<size_t> char_starts(std::string_view s) {
  std::vector<size_t> starts;
  starts.reserve(s.size() + 1);
  for (size_t i = 0; i < s.size();) {
    starts.push_back(i);
    uint32_t cp;
    i += static_cast<size_t>(tokenizers::unicode::decode_utf8(s, i, cp));
  }
  starts.push_back(s.size());
  return starts;
}

// The text the n-grams are taken from: whitespace removed unless options.whitespace.
std::string chrf_text(std::string_view s, const ChrfOptions& options) {
  if (options.whitespace) return std::string(s);
  std::string out;
  for (std::string_view tok : split_whitespace(s)) out.append(tok);
  return out;
}

// n-gram counts per order 1..char_order; keys view into text.
std::vector<NgramCounts> char_ngrams(std::string_view text, int char_order) {
  const std::vector<size_t> starts = char_starts(text);
  const size_t n_chars = starts.size() - 1;
  std::vector<NgramCounts> counts(static_cast<size_t>(char_order));
  for (int n = 1; n <= char_order; ++n)
    for (size_t i = 0; i + static_cast<size_t>(n) <= n_chars; ++i)
      ++counts[static_cast<size_t>(n - 1)][text.substr(starts[i], starts[i + n] - starts[i])];
  return counts;
}

ChrfStats match_stats(const std::vector<NgramCounts>& hyp, const std::vector<NgramCounts>& ref) {
  ChrfStats st;
  for (size_t n = 0; n < hyp.size(); ++n) {
    int64_t h = 0, r = 0, m = 0;
    for (const auto& [key, count] : hyp[n]) {
      h += count;
      auto it = ref[n].find(key);
      if (it != ref[n].end()) m += std::min(count, it->second);
    }
    for (const auto& [key, count] : ref[n]) r += count;
    st.hyp.push_back(h);
    st.ref.push_back(r);
    st.match.push_back(m);
  }
  return st;
}

void check_options(const ChrfOptions& options) {
  CF_CHECK(options.char_order >= 1 && options.char_order <= 32, ValueError,
           "chrf: char_order must be in [1, 32], got ", options.char_order);
  CF_CHECK(options.beta > 0, ValueError, "chrf: beta must be positive, got ", options.beta);
}

}  // namespace

ChrfStats& ChrfStats::operator+=(const ChrfStats& o) {
  if (hyp.empty()) {
    *this = o;
    return *this;
  }
  CF_CHECK(o.hyp.size() == hyp.size(), ValueError, "chrf: cannot add statistics of order ",
           o.hyp.size(), " to statistics of order ", hyp.size());
  for (size_t n = 0; n < hyp.size(); ++n) {
    hyp[n] += o.hyp[n];
    ref[n] += o.ref[n];
    match[n] += o.match[n];
  }
  return *this;
}

double chrf_from_stats(const ChrfStats& stats, const ChrfOptions& options) {
  check_options(options);
  CF_CHECK(stats.hyp.size() == static_cast<size_t>(options.char_order) &&
               stats.ref.size() == stats.hyp.size() && stats.match.size() == stats.hyp.size(),
           ValueError, "chrf: statistics have ", stats.hyp.size(), " orders, the options ",
           options.char_order);
  constexpr double kEps = 1e-16;
  const double factor = options.beta * options.beta;
  double avg_prec = 0.0, avg_rec = 0.0, eps_score = 0.0;
  int effective_order = 0;
  for (size_t n = 0; n < stats.hyp.size(); ++n) {
    const double h = static_cast<double>(stats.hyp[n]), r = static_cast<double>(stats.ref[n]);
    const double m = static_cast<double>(stats.match[n]);
    const double prec = h > 0 ? m / h : kEps;
    const double rec = r > 0 ? m / r : kEps;
    if (options.eps_smoothing) {
      const double denom = factor * prec + rec;
      eps_score += denom > 0 ? (1 + factor) * prec * rec / denom : kEps;
    } else if (h > 0 && r > 0) {
      avg_prec += prec;
      avg_rec += rec;
      ++effective_order;
    }
  }
  if (options.eps_smoothing) return 100.0 * eps_score / static_cast<double>(options.char_order);
  if (effective_order == 0) return 0.0;
  avg_prec /= effective_order;
  avg_rec /= effective_order;
  if (avg_prec + avg_rec == 0.0) return 0.0;
  return 100.0 * (1 + factor) * avg_prec * avg_rec / (factor * avg_prec + avg_rec);
}

ChrfStats chrf_sentence_stats(std::string_view hyp, const std::vector<std::string_view>& refs,
                              const ChrfOptions& options) {
  check_options(options);
  const std::string hyp_text = chrf_text(hyp, options);
  const std::vector<NgramCounts> hyp_ngrams = char_ngrams(hyp_text, options.char_order);
  ChrfStats best;
  double best_f = -1.0;
  bool any = false;
  for (std::string_view ref : refs) {
    if (ref.empty()) continue;  // sacreBLEU drops empty references of a segment
    any = true;
    const std::string ref_text = chrf_text(ref, options);
    ChrfStats st = match_stats(hyp_ngrams, char_ngrams(ref_text, options.char_order));
    const double f = chrf_from_stats(st, options);
    if (f > best_f) {
      best_f = f;
      best = std::move(st);
    }
  }
  CF_CHECK(any, ValueError, "chrf: a hypothesis has no non-empty reference (got ", refs.size(),
           " empty)");
  return best;
}

ChrfScore corpus_chrf(const std::vector<std::string>& hyps,
                      const std::vector<std::vector<std::string>>& refs,
                      const ChrfOptions& options) {
  check_options(options);
  CF_CHECK(!refs.empty(), ValueError, "chrf: no reference stream given");
  for (size_t k = 0; k < refs.size(); ++k)
    CF_CHECK(refs[k].size() == hyps.size(), ValueError, "chrf: reference stream ", k, " has ",
             refs[k].size(), " lines, the hypotheses have ", hyps.size());
  ChrfScore s;
  const size_t order = static_cast<size_t>(options.char_order);
  s.stats = ChrfStats{std::vector<int64_t>(order), std::vector<int64_t>(order),
                      std::vector<int64_t>(order)};
  std::vector<std::string_view> seg_refs(refs.size());
  for (size_t i = 0; i < hyps.size(); ++i) {
    for (size_t k = 0; k < refs.size(); ++k) seg_refs[k] = refs[k][i];
    try {
      s.stats += chrf_sentence_stats(hyps[i], seg_refs, options);
    } catch (const ValueError&) {
      CF_THROW(ValueError, "chrf: line ", i + 1, " has only empty references");
    }
  }
  s.score = chrf_from_stats(s.stats, options);
  return s;
}

std::string ChrfScore::format(const ChrfOptions& options) const {
  char buf[64];
  std::snprintf(buf, sizeof buf, "chrF%g = %.2f", options.beta, score);
  return buf;
}

std::string chrf_signature(const ChrfOptions& options, int64_t num_refs) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "nrefs:%lld|case:mixed|eff:%s|nc:%d|nw:0|space:%s|version:cformer",
                static_cast<long long>(num_refs), options.eps_smoothing ? "no" : "yes",
                options.char_order, options.whitespace ? "yes" : "no");
  return buf;
}

}  // namespace cf::metrics
