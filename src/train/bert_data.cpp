#include "train/bert_data.h"

#include <algorithm>

#include "cformer/ops.h"
#include "util/check.h"

namespace cf::train {
namespace {

// n uniforms in [0, 1) from gen.
std::vector<double> uniforms(int64_t n, Generator& gen) {
  return rand(Shape{n}, gen, DType::f64).to_vector<double>();
}

// floor(u * n) clamped to [0, n).
int64_t pick(double u, int64_t n) {
  return std::min(n - 1, static_cast<int64_t>(u * static_cast<double>(n)));
}

}  // namespace

int64_t BertPretrainData::count(const std::vector<Document>& docs) {
  int64_t n = 0;
  for (const Document& d : docs)
    for (const Sentence& s : d) n += static_cast<int64_t>(s.size());
  return n;
}

BertPretrainData::BertPretrainData(const std::vector<Document>& docs, BertVocab vocab,
                                   BertDataOptions opt, double val_fraction)
    : vocab_(std::move(vocab)), opt_(opt) {
  CF_CHECK(opt_.max_len >= (opt_.nsp ? 5 : 3), ValueError, "bert data: max_len must be >= ",
           opt_.nsp ? 5 : 3, " to hold the special tokens, got ", opt_.max_len);
  CF_CHECK(val_fraction >= 0.0 && val_fraction < 1.0, ValueError,
           "bert data: the validation fraction must be in [0, 1), got ", val_fraction);
  CF_CHECK(static_cast<int64_t>(vocab_.continuation.size()) == vocab_.vocab_size, ValueError,
           "bert data: continuation flags for ", vocab_.continuation.size(), " ids, vocabulary of ",
           vocab_.vocab_size);
  std::vector<Document> clean;
  for (const Document& d : docs) {
    Document c;
    for (const Sentence& s : d)
      if (!s.empty()) c.push_back(s);
    if (!c.empty()) clean.push_back(std::move(c));
  }
  const int64_t total = count(clean);
  CF_CHECK(total > 0, ValueError, "bert data: no tokens in the data");
  const int64_t n_train = total - static_cast<int64_t>(static_cast<double>(total) * val_fraction);
  int64_t seen = 0;
  for (const Document& d : clean) {
    Document tr, va;
    for (const Sentence& s : d) {
      (seen < n_train ? tr : va).push_back(s);
      seen += static_cast<int64_t>(s.size());
    }
    if (!tr.empty()) train_.push_back(std::move(tr));
    if (!va.empty()) val_.push_back(std::move(va));
  }
  if (!opt_.nsp) {
    for (const Document& d : train_)
      for (const Sentence& s : d) train_stream_.insert(train_stream_.end(), s.begin(), s.end());
    for (const Document& d : val_)
      for (const Sentence& s : d) val_stream_.insert(val_stream_.end(), s.begin(), s.end());
    CF_CHECK(static_cast<int64_t>(train_stream_.size()) >= opt_.max_len - 2, ValueError,
             "bert data: the training part has ", train_stream_.size(),
             " tokens, fewer than one sequence of max_len - 2 = ", opt_.max_len - 2);
  } else {
    int64_t sentences = 0;
    for (const Document& d : train_) sentences += static_cast<int64_t>(d.size());
    CF_CHECK(sentences >= 2, ValueError,
             "bert data: next-sentence prediction needs at least two training sentences (lines)");
  }
}

BertPretrainData::Example BertPretrainData::window(const std::vector<int64_t>& stream,
                                                   int64_t start) const {
  const int64_t L = std::min<int64_t>(opt_.max_len - 2, static_cast<int64_t>(stream.size()) - start);
  Example e;
  e.ids.reserve(static_cast<size_t>(L + 2));
  e.ids.push_back(vocab_.cls_id);
  e.ids.insert(e.ids.end(), stream.begin() + start, stream.begin() + start + L);
  e.ids.push_back(vocab_.sep_id);
  e.types.assign(e.ids.size(), 0);
  return e;
}

BertPretrainData::Example BertPretrainData::pair(const std::vector<Document>& docs,
                                                 Generator& gen) const {
  const int64_t target = opt_.max_len - 3;
  const std::vector<double> u = uniforms(6, gen);
  const int64_t D = static_cast<int64_t>(docs.size());
  const int64_t d = pick(u[0], D);
  const Document& doc = docs[static_cast<size_t>(d)];
  const int64_t S = static_cast<int64_t>(doc.size());
  // A run of sentences from a random start until the target length is reached.
  int64_t s = pick(u[1], S), end = s, len = 0;
  while (end < S && len < target) len += static_cast<int64_t>(doc[static_cast<size_t>(end++)].size());
  // A single-sentence run at a document's end borrows the previous sentence, so that the
  // "next" case stays possible.
  if (end - s == 1 && s > 0 && end == S) --s;
  const int64_t n = end - s;
  const int64_t a_end = n >= 2 ? s + 1 + pick(u[2], n - 1) : end;
  std::vector<int64_t> a, b;
  for (int64_t i = s; i < a_end; ++i) a.insert(a.end(), doc[i].begin(), doc[i].end());
  Example e;
  const bool random_next = a_end == end || u[3] < 0.5;
  if (random_next) {
    int64_t r = pick(u[4], D);
    if (D > 1 && r == d) r = (r + 1) % D;
    const Document& other = docs[static_cast<size_t>(r)];
    const int64_t os = static_cast<int64_t>(other.size());
    const int64_t want = std::max<int64_t>(1, target - static_cast<int64_t>(a.size()));
    for (int64_t i = pick(u[5], os); i < os && static_cast<int64_t>(b.size()) < want; ++i)
      b.insert(b.end(), other[i].begin(), other[i].end());
    e.nsp_label = 1;
  } else {
    for (int64_t i = a_end; i < end; ++i) b.insert(b.end(), doc[i].begin(), doc[i].end());
    e.nsp_label = 0;
  }
  while (static_cast<int64_t>(a.size() + b.size()) > target) (a.size() > b.size() ? a : b).pop_back();
  e.ids.push_back(vocab_.cls_id);
  e.ids.insert(e.ids.end(), a.begin(), a.end());
  e.ids.push_back(vocab_.sep_id);
  e.types.assign(e.ids.size(), 0);
  e.ids.insert(e.ids.end(), b.begin(), b.end());
  e.ids.push_back(vocab_.sep_id);
  e.types.resize(e.ids.size(), 1);
  return e;
}

models::BertBatch BertPretrainData::collate(const std::vector<Example>& ex, Generator& gen) const {
  const int64_t B = static_cast<int64_t>(ex.size());
  int64_t T = 0;
  for (const Example& e : ex) T = std::max<int64_t>(T, static_cast<int64_t>(e.ids.size()));
  std::vector<int64_t> ids(static_cast<size_t>(B * T), vocab_.pad_id), types(ids.size(), 0),
      mask(ids.size(), 0), labels(ids.size(), -100), nsp;
  const models::MaskingVocab mv{vocab_.vocab_size, vocab_.mask_id, vocab_.special_ids};
  for (int64_t b = 0; b < B; ++b) {
    const Example& e = ex[static_cast<size_t>(b)];
    const size_t n = e.ids.size();
    std::vector<uint8_t> special(n, 0), cont(n, 0);
    for (size_t i = 0; i < n; ++i) {
      const int64_t id = e.ids[i];
      CF_CHECK(id >= 0 && id < vocab_.vocab_size, IndexError, "bert data: token id ", id,
               " is outside the vocabulary [0, ", vocab_.vocab_size, ")");
      special[i] = std::find(vocab_.special_ids.begin(), vocab_.special_ids.end(), id) !=
                   vocab_.special_ids.end();
      cont[i] = vocab_.continuation[static_cast<size_t>(id)];
    }
    std::vector<int64_t> words;
    if (opt_.masking.whole_word) words = models::word_ids_from_continuation(cont, special);
    const models::MaskedTokens m = models::mask_tokens(e.ids, special, words, mv, opt_.masking, gen);
    const size_t row = static_cast<size_t>(b * T);
    std::copy(m.ids.begin(), m.ids.end(), ids.begin() + row);
    std::copy(m.labels.begin(), m.labels.end(), labels.begin() + row);
    std::copy(e.types.begin(), e.types.end(), types.begin() + row);
    std::fill(mask.begin() + row, mask.begin() + row + n, 1);
    if (opt_.nsp) nsp.push_back(e.nsp_label);
  }
  models::BertBatch out;
  out.input_ids = from_vector(ids, Shape{B, T});
  out.token_type_ids = from_vector(types, Shape{B, T});
  out.attention_mask = from_vector(mask, Shape{B, T});
  out.mlm_labels = from_vector(labels, Shape{B, T});
  if (opt_.nsp) out.nsp_labels = from_vector(nsp);
  return out;
}

models::BertBatch BertPretrainData::sample(int64_t B, Generator& gen) const {
  CF_CHECK(B >= 1, ValueError, "bert data: batch size must be >= 1, got ", B);
  std::vector<Example> ex;
  ex.reserve(static_cast<size_t>(B));
  if (opt_.nsp) {
    for (int64_t b = 0; b < B; ++b) ex.push_back(pair(train_, gen));
  } else {
    const int64_t L = opt_.max_len - 2, N = static_cast<int64_t>(train_stream_.size());
    const std::vector<double> u = uniforms(B, gen);
    for (int64_t b = 0; b < B; ++b) ex.push_back(window(train_stream_, pick(u[b], N - L + 1)));
  }
  return collate(ex, gen);
}

std::vector<models::BertBatch> BertPretrainData::validation(int64_t n, int64_t B, uint64_t seed) const {
  CF_CHECK(n >= 0 && B >= 1, ValueError, "bert data: bad validation size ", n, " / batch ", B);
  Generator gen(seed);
  std::vector<Example> ex;
  if (opt_.nsp) {
    int64_t sentences = 0;
    for (const Document& d : val_) sentences += static_cast<int64_t>(d.size());
    if (sentences >= 2)
      for (int64_t i = 0; i < n; ++i) ex.push_back(pair(val_, gen));
  } else {
    const int64_t L = opt_.max_len - 2, N = static_cast<int64_t>(val_stream_.size());
    for (int64_t start = 0; start < N && static_cast<int64_t>(ex.size()) < n; start += L)
      ex.push_back(window(val_stream_, start));
  }
  std::vector<models::BertBatch> out;
  for (size_t i = 0; i < ex.size(); i += static_cast<size_t>(B)) {
    const std::vector<Example> part(ex.begin() + static_cast<int64_t>(i),
                                    ex.begin() + static_cast<int64_t>(std::min(ex.size(), i + static_cast<size_t>(B))));
    out.push_back(collate(part, gen));
  }
  return out;
}

}  // namespace cf::train
