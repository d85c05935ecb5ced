#include "train/translator.h"

#include <algorithm>
#include <filesystem>
#include <numeric>

#include "cformer/autograd.h"
#include "train/checkpoint.h"
#include "util/check.h"

namespace cf::train {

std::string resolve_checkpoint(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    const std::string inside = (fs::path(path) / "checkpoint.safetensors").string();
    CF_CHECK(fs::is_regular_file(inside, ec), IoError, path,
             " is a directory without checkpoint.safetensors (give the output directory of "
             "'cformer train translate' or a checkpoint file)");
    return inside;
  }
  if (fs::is_regular_file(path, ec)) return path;
  if (fs::is_regular_file(path + ".safetensors", ec)) return path + ".safetensors";
  CF_THROW(IoError, path, ": no such checkpoint (neither a file, ", path,
           ".safetensors, nor a directory with checkpoint.safetensors)");
}

Translator load_translator(const std::string& path) {
  Translator t;
  t.path = resolve_checkpoint(path);
  Checkpoint ck = load_checkpoint(t.path);
  const std::string type = ck.meta.value("model_type", "");
  CF_CHECK(type == kTranslationModelType, FormatError, t.path, ": the checkpoint holds a '",
           type.empty() ? "?" : type, "' model, not a translation model (train one with "
           "'cformer train translate')");
  models::TranslationConfig cfg;
  try {
    cfg = models::TranslationConfig::from_json(ck.meta.at("config").dump());
    t.vocab = TranslationVocab::from_json(ck.meta.at("vocab"), t.path);
  } catch (const nlohmann::json::exception& e) {
    CF_THROW(FormatError, t.path, ": incomplete checkpoint metadata: ", e.what());
  }
  CF_CHECK(cfg.src_vocab_size == t.vocab.src->vocab_size() &&
               cfg.tgt_vocab_size == t.vocab.tgt->vocab_size() && cfg.pad_id == t.vocab.pad_id &&
               cfg.bos_id == t.vocab.bos_id && cfg.eos_id == t.vocab.eos_id,
           FormatError, t.path, ": the model config (vocab ", cfg.src_vocab_size, "/",
           cfg.tgt_vocab_size, ", pad/bos/eos ", cfg.pad_id, "/", cfg.bos_id, "/", cfg.eos_id,
           ") does not match the stored tokenizers (", t.vocab.src->vocab_size(), "/",
           t.vocab.tgt->vocab_size(), ", ", t.vocab.pad_id, "/", t.vocab.bos_id, "/",
           t.vocab.eos_id, ")");
  t.model = std::make_unique<models::TranslationModel>(cfg, 0);
  t.model->load_state_dict(ck.model, true);
  t.model->eval();
  t.meta = std::move(ck.meta);
  return t;
}

std::vector<std::vector<models::Hypothesis>> decode_batched(
    models::TranslationModel& model, const std::vector<std::vector<int64_t>>& src,
    const models::BeamOptions& options, int64_t batch) {
  CF_CHECK(batch >= 1, ValueError, "translate: the batch size must be >= 1, got ", batch);
  std::vector<std::vector<models::Hypothesis>> out(src.size());
  std::vector<size_t> order;
  for (size_t i = 0; i < src.size(); ++i)
    if (!src[i].empty()) order.push_back(i);
  // Similar lengths share a batch: less padding, and each batch stops when its longest is done.
  std::stable_sort(order.begin(), order.end(), [&src](size_t a, size_t b) {
    return src[a].size() > src[b].size();
  });
  const bool greedy = options.beam_size == 1 && options.nbest == 1;
  NoGradGuard ng;
  model.eval();
  for (size_t lo = 0; lo < order.size(); lo += static_cast<size_t>(batch)) {
    const size_t hi = std::min(order.size(), lo + static_cast<size_t>(batch));
    std::vector<std::vector<int64_t>> chunk;
    for (size_t k = lo; k < hi; ++k) chunk.push_back(src[order[k]]);
    if (greedy) {
      std::vector<models::Hypothesis> h = model.greedy(chunk, options);
      CF_ASSERT(h.size() == chunk.size(), "greedy returned ", h.size(), " hypotheses for ",
                chunk.size(), " sentences");
      for (size_t k = lo; k < hi; ++k) out[order[k]] = {std::move(h[k - lo])};
    } else {
      std::vector<std::vector<models::Hypothesis>> h = model.beam_search(chunk, options);
      CF_ASSERT(h.size() == chunk.size(), "beam_search returned ", h.size(), " lists for ",
                chunk.size(), " sentences");
      for (size_t k = lo; k < hi; ++k) out[order[k]] = std::move(h[k - lo]);
    }
  }
  return out;
}

std::vector<LineTranslation> translate_lines(Translator& t, const std::vector<std::string>& lines,
                                             const models::BeamOptions& options, int64_t batch,
                                             std::ostream* warn) {
  const int64_t max_src = t.model->config().max_positions;
  std::vector<std::vector<int64_t>> src(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].find_first_not_of(" \t\r") == std::string::npos) continue;  // empty translation
    std::vector<int64_t> ids = t.vocab.encode_src(lines[i]);
    if (static_cast<int64_t>(ids.size()) > max_src) {
      if (warn != nullptr)
        *warn << "warning: line " << i + 1 << " has " << ids.size()
              << " source tokens (EOS included); truncated to the model's maximum of " << max_src
              << "\n";
      ids.resize(static_cast<size_t>(max_src));
      ids.back() = t.vocab.eos_id;
    }
    src[i] = std::move(ids);
  }
  const auto hyps = decode_batched(*t.model, src, options, batch);
  std::vector<LineTranslation> out(lines.size());
  for (size_t i = 0; i < lines.size(); ++i)
    for (const models::Hypothesis& h : hyps[i]) {
      out[i].texts.push_back(t.vocab.decode_tgt(h.tokens));
      out[i].scores.push_back(h.score);
    }
  return out;
}

}  // namespace cf::train
