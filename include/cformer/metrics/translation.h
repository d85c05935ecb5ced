// Machine-translation metrics, exactly as sacreBLEU 2.x defines them (Post 2018, "A Call for
// Clarity in Reporting BLEU Scores"): corpus BLEU with the '13a' tokenizer (Papineni et al. 2002)
// and chrF (Popovic 2015). Statistics are summed over the corpus and the score is computed once,
// so a corpus score is not the mean of sentence scores. Strings are UTF-8; "whitespace" is
// Python's str.isspace() (so U+00A0 and U+202F, common in French, separate tokens).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cf::metrics {

/// sacreBLEU's '13a' tokenizer (mteval-v13a.pl): removes "<skipped>", unescapes &quot; &amp;
/// &lt; &gt;, puts spaces around ASCII punctuation and symbols (not ' or -), splits '.' and ','
/// except between digits, splits '-' after a digit, then joins the tokens with single spaces.
std::string tokenize_13a(std::string_view line);

/// Python's str.split(): the non-empty runs between whitespace characters.
std::vector<std::string_view> split_whitespace(std::string_view s);

enum class BleuTokenizer { k13a, kNone };
/// Smoothing of zero n-gram precisions (sacreBLEU's --smooth-method). kNone: a zero precision
/// makes BLEU 0. kExp: the k-th zero precision becomes 1 / (2^k * total). kFloor: a zero
/// precision becomes smooth_value / total. kAddK: orders 2..4 get smooth_value added to their
/// matches and totals. sacreBLEU's command line defaults to exp; the scores agree whenever every
/// order has a match, which is the case for any real test set.
enum class BleuSmooth { kNone, kExp, kFloor, kAddK };

struct BleuOptions {
  BleuTokenizer tokenizer = BleuTokenizer::k13a;
  BleuSmooth smooth = BleuSmooth::kNone;
  double smooth_value = -1.0;  // < 0: sacreBLEU's default (floor 0.1, add-k 1)
};

/// Sufficient statistics of BLEU (order 4); they add up over sentences.
struct BleuStats {
  int64_t hyp_len = 0;                // hypothesis tokens
  int64_t ref_len = 0;                // closest reference lengths (ties: the shorter)
  int64_t correct[4] = {0, 0, 0, 0};  // clipped n-gram matches, n = 1..4
  int64_t total[4] = {0, 0, 0, 0};    // hypothesis n-grams, n = 1..4
  BleuStats& operator+=(const BleuStats& o);
};

struct BleuScore {
  double score = 0.0;         // 0..100
  double precisions[4] = {};  // percent, after smoothing
  double bp = 0.0;            // brevity penalty
  BleuStats stats;
  /// sacreBLEU's line: "BLEU = 26.79 58.3/32.4/20.1/12.9 (BP = 1.000 ratio = 1.012 hyp_len = ...
  /// ref_len = ...)".
  std::string format() const;
};

/// Statistics of one hypothesis against its references, given as raw text (trailing whitespace
/// is stripped and the tokenizer applied here). Empty references are ignored; throws ValueError
/// when none is left.
BleuStats bleu_sentence_stats(std::string_view hyp, const std::vector<std::string_view>& refs,
                              BleuTokenizer tokenizer = BleuTokenizer::k13a);
/// BLEU from summed statistics: 100 * BP * exp(mean_n log p_n), BP = exp(1 - r/c) when c < r
/// (0 when c = 0), p_n = correct_n / total_n (smoothed as options say).
BleuScore bleu_from_stats(const BleuStats& stats, const BleuOptions& options = {});
/// Corpus BLEU. refs[k][i] is the k-th reference of hypothesis i (one or more reference
/// streams, each as long as hyps). Throws ValueError on mismatched lengths or a hypothesis
/// without any non-empty reference.
BleuScore corpus_bleu(const std::vector<std::string>& hyps,
                      const std::vector<std::vector<std::string>>& refs,
                      const BleuOptions& options = {});
/// The sacreBLEU-style signature of the options, e.g. "nrefs:1|case:mixed|eff:no|tok:13a|
/// smooth:none".
std::string bleu_signature(const BleuOptions& options, int64_t num_refs);

struct ChrfOptions {
  int char_order = 6;       // character n-grams 1..char_order
  double beta = 2.0;        // recall is beta times as important as precision
  bool whitespace = false;  // keep whitespace in the character n-grams
  /// false (sacreBLEU's default): precision and recall are averaged over the orders where both
  /// the hypothesis and the reference have n-grams, then combined into F-beta. true: the
  /// original chrF++ definition, F-beta per order (eps when undefined) averaged over orders.
  bool eps_smoothing = false;
};

/// Per order n: hypothesis n-grams, reference n-grams, matches (clipped); they add up.
struct ChrfStats {
  std::vector<int64_t> hyp, ref, match;  // (char_order)
  ChrfStats& operator+=(const ChrfStats& o);
};

struct ChrfScore {
  double score = 0.0;  // 0..100
  ChrfStats stats;
  std::string format(const ChrfOptions& options) const;  // "chrF2 = 57.12"
};

/// Statistics of one hypothesis: with several references, those of the reference with the best
/// sentence-level score (the first on ties). Empty references are ignored; throws ValueError
/// when none is left.
ChrfStats chrf_sentence_stats(std::string_view hyp, const std::vector<std::string_view>& refs,
                              const ChrfOptions& options = {});
double chrf_from_stats(const ChrfStats& stats, const ChrfOptions& options = {});
/// Corpus chrF: the summed statistics of every sentence scored once. Same refs layout and
/// errors as corpus_bleu.
ChrfScore corpus_chrf(const std::vector<std::string>& hyps,
                      const std::vector<std::vector<std::string>>& refs,
                      const ChrfOptions& options = {});
std::string chrf_signature(const ChrfOptions& options, int64_t num_refs);

}  // namespace cf::metrics
