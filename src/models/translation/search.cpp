// Greedy and beam search over the incremental decoder (decode.cpp). Sentences are decoded
// together; a finished sentence's rows are dropped from the caches (index_select on the batch
// dim), and beam search reorders the self-attention caches by beam origin every step.
// Beam search follows fairseq's SequenceGenerator: top 2K candidates over K x V, EOS accepted
// from the top K only, a sentence done after K ended hypotheses, score = log p / len^lp with
// len counting the EOS. See the header for the exact rules.
#include <algorithm>
#include <cmath>
#include <limits>

#include "cformer/autograd.h"
#include "cformer/models/translation.h"
#include "cformer/ops.h"
#include "util/check.h"

namespace cf::models {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

double normalized(double log_prob, size_t tokens, double length_penalty) {
  return log_prob / std::pow(static_cast<double>(tokens + 1), length_penalty);
}

// Puts the model in eval mode for a scope and restores the previous mode.
class EvalScope {
 public:
  explicit EvalScope(nn::Module& m) : m_(m), was_training_(m.is_training()) { m_.eval(); }
  ~EvalScope() { m_.train(was_training_); }
  EvalScope(const EvalScope&) = delete;
  EvalScope& operator=(const EvalScope&) = delete;

 private:
  nn::Module& m_;
  bool was_training_;
};

// Sets the log-probabilities of pad and bos to -inf in every row of lp (R, V), and of every
// token but eos in the rows listed in forced.
void mask_log_probs(Tensor& lp, const TranslationConfig& c, const std::vector<int64_t>& forced) {
  lp.select(1, c.pad_id).fill_(kNegInf);
  lp.select(1, c.bos_id).fill_(kNegInf);
  for (int64_t r : forced) {
    Tensor row = lp.select(0, r);
    const double eos = row.select(0, c.eos_id).item();
    row.fill_(kNegInf);
    row.select(0, c.eos_id).fill_(eos);
  }
}

}  // namespace

Tensor TranslationModel::source_batch(const char* op,
                                      const std::vector<std::vector<int64_t>>& src) const {
  const int64_t N = static_cast<int64_t>(src.size());
  int64_t S = 0;
  for (int64_t i = 0; i < N; ++i) {
    const auto& s = src[static_cast<size_t>(i)];
    const int64_t n = static_cast<int64_t>(s.size());
    CF_CHECK(n >= 1, ValueError, "TranslationModel::", op, ": source sentence ", i,
             " is empty (an empty sentence is [EOS] by the tokenizer convention)");
    CF_CHECK(n <= config_.max_positions, ValueError, "TranslationModel::", op,
             ": source sentence ", i, " has ", n, " ids, more than max_positions (",
             config_.max_positions, ")");
    for (int64_t id : s) {
      CF_CHECK(id >= 0 && id < config_.src_vocab_size, IndexError, "TranslationModel::", op,
               ": source sentence ", i, ": id ", id, " is outside the source vocabulary [0, ",
               config_.src_vocab_size, ")");
      CF_CHECK(id != config_.pad_id, ValueError, "TranslationModel::", op, ": source sentence ",
               i, " contains pad_id ", id, " (it would be masked)");
    }
    S = std::max(S, n);
  }
  std::vector<int64_t> ids(static_cast<size_t>(N * S), config_.pad_id);
  for (int64_t i = 0; i < N; ++i)
    std::copy(src[static_cast<size_t>(i)].begin(), src[static_cast<size_t>(i)].end(),
              ids.begin() + i * S);
  return from_vector(ids, Shape{N, S});
}

int64_t TranslationModel::max_len(int64_t src_len, const BeamOptions& o) const {
  CF_CHECK(std::isfinite(o.max_len_a), ValueError, "TranslationModel: max_len_a must be finite, got ",
           o.max_len_a);
  const double n = std::floor(o.max_len_a * static_cast<double>(src_len) +
                              static_cast<double>(o.max_len_b));
  return static_cast<int64_t>(std::clamp(n, 0.0, static_cast<double>(config_.max_positions - 1)));
}

std::vector<Hypothesis> TranslationModel::greedy(const std::vector<std::vector<int64_t>>& src,
                                                 const BeamOptions& limits) {
  Tensor batch = source_batch("greedy", src);
  const int64_t N = static_cast<int64_t>(src.size());
  std::vector<Hypothesis> out(static_cast<size_t>(N));
  if (N == 0) return out;
  std::vector<int64_t> limit(static_cast<size_t>(N));
  int64_t steps = 0;
  for (int64_t i = 0; i < N; ++i) {
    limit[static_cast<size_t>(i)] = max_len(static_cast<int64_t>(src[static_cast<size_t>(i)].size()), limits);
    steps = std::max(steps, limit[static_cast<size_t>(i)] + 1);
  }
  NoGradGuard no_grad;
  EvalScope eval_scope(*this);
  DecoderState st = begin_decoding(batch, steps);
  std::vector<int64_t> active(static_cast<size_t>(N));  // the sentence of every row
  for (int64_t i = 0; i < N; ++i) active[static_cast<size_t>(i)] = i;
  std::vector<int64_t> input(static_cast<size_t>(N), config_.bos_id);
  for (int64_t t = 0; !active.empty(); ++t) {
    const int64_t R = static_cast<int64_t>(active.size());
    Tensor lp = decode_step(st, from_vector(input, Shape{R}));
    std::vector<int64_t> forced;
    for (int64_t r = 0; r < R; ++r)
      if (t == limit[static_cast<size_t>(active[static_cast<size_t>(r)])]) forced.push_back(r);
    mask_log_probs(lp, config_, forced);
    const std::vector<int64_t> best = argmax(lp, 1).to_vector<int64_t>();
    std::vector<int64_t> keep, next_active, next_input;
    for (int64_t r = 0; r < R; ++r) {
      Hypothesis& h = out[static_cast<size_t>(active[static_cast<size_t>(r)])];
      const int64_t tok = best[static_cast<size_t>(r)];
      h.log_prob += lp.select(0, r).select(0, tok).item();
      if (tok == config_.eos_id) {
        h.score = normalized(h.log_prob, h.tokens.size(), limits.length_penalty);
        continue;
      }
      h.tokens.push_back(tok);
      keep.push_back(r);
      next_active.push_back(active[static_cast<size_t>(r)]);
      next_input.push_back(tok);
    }
    if (static_cast<int64_t>(keep.size()) < R && !keep.empty())
      reorder(st, from_vector(keep, Shape{static_cast<int64_t>(keep.size())}), true);
    active = std::move(next_active);
    input = std::move(next_input);
  }
  return out;
}

std::vector<std::vector<Hypothesis>> TranslationModel::beam_search(
    const std::vector<std::vector<int64_t>>& src, const BeamOptions& options) {
  const int64_t K = options.beam_size;
  CF_CHECK(K >= 1, ValueError, "TranslationModel::beam_search: beam_size must be >= 1, got ", K);
  CF_CHECK(options.nbest >= 1 && options.nbest <= K, ValueError,
           "TranslationModel::beam_search: nbest must be in [1, beam_size = ", K, "], got ",
           options.nbest);
  Tensor batch = source_batch("beam_search", src);
  const int64_t N = static_cast<int64_t>(src.size()), V = config_.tgt_vocab_size;
  std::vector<std::vector<Hypothesis>> finished(static_cast<size_t>(N));
  if (N == 0) return finished;
  std::vector<int64_t> limit(static_cast<size_t>(N));
  int64_t steps = 0;
  for (int64_t i = 0; i < N; ++i) {
    limit[static_cast<size_t>(i)] = max_len(static_cast<int64_t>(src[static_cast<size_t>(i)].size()), options);
    steps = std::max(steps, limit[static_cast<size_t>(i)] + 1);
  }
  NoGradGuard no_grad;
  EvalScope eval_scope(*this);
  DecoderState st = begin_decoding(batch, steps, K);
  // Row a * K + k holds beam k of the a-th active sentence.
  std::vector<int64_t> active(static_cast<size_t>(N));
  for (int64_t i = 0; i < N; ++i) active[static_cast<size_t>(i)] = i;
  std::vector<double> score(static_cast<size_t>(N * K), kNegInf);  // cumulative log-probs
  for (int64_t i = 0; i < N; ++i) score[static_cast<size_t>(i * K)] = 0.0;
  std::vector<std::vector<int64_t>> tokens(static_cast<size_t>(N * K));
  std::vector<int64_t> input(static_cast<size_t>(N * K), config_.bos_id);
  for (int64_t t = 0; !active.empty(); ++t) {
    const int64_t A = static_cast<int64_t>(active.size()), R = A * K;
    Tensor lp = decode_step(st, from_vector(input, Shape{R}));  // (R, V)
    std::vector<int64_t> forced;
    for (int64_t r = 0; r < R; ++r)
      if (t == limit[static_cast<size_t>(active[static_cast<size_t>(r / K)])]) forced.push_back(r);
    mask_log_probs(lp, config_, forced);
    Tensor cand = add(lp, from_vector(score, Shape{R, 1}).to(lp.dtype())).view(Shape{A, K * V});
    ValuesIndices top = topk(cand, 2 * K, 1);
    const std::vector<double> val = top.values.to(DType::f64).to_vector<double>();
    const std::vector<int64_t> idx = top.indices.to_vector<int64_t>();

    std::vector<int64_t> origin, next_active, next_input;
    std::vector<double> next_score;
    std::vector<std::vector<int64_t>> next_tokens;
    for (int64_t a = 0; a < A; ++a) {
      auto& done = finished[static_cast<size_t>(active[static_cast<size_t>(a)])];
      std::vector<int64_t> beam_origin, beam_token;
      std::vector<double> beam_score;
      for (int64_t j = 0; j < 2 * K; ++j) {
        const size_t c = static_cast<size_t>(a * 2 * K + j);
        if (val[c] == kNegInf) break;  // sorted: the rest are impossible too
        const int64_t r = a * K + idx[c] / V, tok = idx[c] % V;
        const double s = score[static_cast<size_t>(r)] + lp.select(0, r).select(0, tok).item();
        if (tok == config_.eos_id) {
          if (j < K && static_cast<int64_t>(done.size()) < K) {
            const auto& prefix = tokens[static_cast<size_t>(r)];
            done.push_back({prefix, normalized(s, prefix.size(), options.length_penalty), s});
          }
        } else if (static_cast<int64_t>(beam_token.size()) < K) {
          beam_origin.push_back(r);
          beam_token.push_back(tok);
          beam_score.push_back(s);
        }
      }
      if (static_cast<int64_t>(done.size()) >= K || beam_token.empty()) continue;
      next_active.push_back(active[static_cast<size_t>(a)]);
      for (int64_t k = 0; k < K; ++k) {
        const bool live = k < static_cast<int64_t>(beam_token.size());
        // A dead slot (fewer than K possible continuations) copies beam 0 with score -inf.
        const int64_t r = live ? beam_origin[static_cast<size_t>(k)] : beam_origin[0];
        origin.push_back(r);
        next_input.push_back(live ? beam_token[static_cast<size_t>(k)] : config_.eos_id);
        next_score.push_back(live ? beam_score[static_cast<size_t>(k)] : kNegInf);
        next_tokens.push_back(tokens[static_cast<size_t>(r)]);
        if (live) next_tokens.back().push_back(beam_token[static_cast<size_t>(k)]);
      }
    }
    if (!origin.empty())
      reorder(st, from_vector(origin, Shape{static_cast<int64_t>(origin.size())}),
              static_cast<int64_t>(next_active.size()) < A);
    active = std::move(next_active);
    input = std::move(next_input);
    score = std::move(next_score);
    tokens = std::move(next_tokens);
  }
  for (auto& done : finished) {
    std::stable_sort(done.begin(), done.end(),
                     [](const Hypothesis& x, const Hypothesis& y) { return x.score > y.score; });
    if (static_cast<int64_t>(done.size()) > options.nbest) done.resize(static_cast<size_t>(options.nbest));
  }
  return finished;
}

}  // namespace cf::models
