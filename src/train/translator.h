// A trained translation model ready to use: the model and vocabulary of a `train translate`
// checkpoint, and batched decoding of text lines (greedy or beam search) with the documented
// handling of odd input: an empty line gives an empty translation, a source longer than the
// model's max_positions is truncated (EOS kept) with a warning.
#pragma once
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cformer/models/translation.h"
#include "train/translate_data.h"

namespace cf::train {

inline constexpr const char* kTranslationModelType = "translation";

struct Translator {
  std::unique_ptr<models::TranslationModel> model;
  TranslationVocab vocab;
  nlohmann::json meta;  // the checkpoint's metadata
  std::string path;     // the checkpoint file
};

/// The checkpoint file of `path`: the file itself, path + ".safetensors", or
/// path/checkpoint.safetensors for a directory. Throws IoError when none exists.
std::string resolve_checkpoint(const std::string& path);
/// Loads a checkpoint of `cformer train translate`. Throws IoError (missing file), FormatError
/// naming the model type for another model's checkpoint, or on incomplete metadata.
Translator load_translator(const std::string& path);

/// Decodes sources (ids + EOS each) in batches of `batch` sentences of similar length: greedy
/// when beam_size and nbest are 1, else beam search. Returns per sentence min(nbest, beam_size)
/// hypotheses (one for greedy), in input order. Empty sources give no hypotheses.
std::vector<std::vector<models::Hypothesis>> decode_batched(
    models::TranslationModel& model, const std::vector<std::vector<int64_t>>& src,
    const models::BeamOptions& options, int64_t batch);

struct LineTranslation {
  std::vector<std::string> texts;  // best first; empty for an empty input line
  std::vector<double> scores;
};
/// Translates lines; warnings about truncated sources go to `warn` (may be null), naming the
/// 1-based line number.
std::vector<LineTranslation> translate_lines(Translator& t, const std::vector<std::string>& lines,
                                             const models::BeamOptions& options, int64_t batch,
                                             std::ostream* warn);

}  // namespace cf::train
