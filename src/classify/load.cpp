// load_classifier(): opens any classifier checkpoint of the library by its model_type, read from
// the safetensors header alone (the tensors are loaded once, by the model's own loader).
#include <nlohmann/json.hpp>

#include "cformer/classify.h"
#include "cformer/io.h"
#include "cformer/models/bert.h"
#include "cformer/models/bow.h"
#include "cformer/models/gpt_prompt.h"
#include "train/checkpoint.h"
#include "util/check.h"

namespace cf::classify {

std::unique_ptr<TextClassifier> load_classifier(const std::string& path, const LoadOptions& opt) {
  const io::SafetensorsHeader header = io::read_safetensors_header(path);
  const auto it = header.metadata.find("cformer");
  CF_CHECK(it != header.metadata.end(), FormatError, path,
           ": not a cformer checkpoint (no 'cformer' metadata; a plain safetensors file?)");
  const nlohmann::json meta = nlohmann::json::parse(it->second, nullptr, false);
  CF_CHECK(meta.is_object() && meta.value("format", nlohmann::json()) == train::kCheckpointFormat,
           FormatError, path, ": unsupported checkpoint format (expected ",
           train::kCheckpointFormat, ")");
  const nlohmann::json type = meta.value("model_type", nlohmann::json());
  const std::string name = type.is_string() ? type.get<std::string>() : type.dump();
  if (name == "bow-classifier") {
    CF_CHECK(opt.prompt_template.empty() && opt.labels.empty(), ValueError, path,
             ": a prompt template and labels apply to GPT checkpoints only, this is a ", name);
    return models::load_bow_classifier(path);
  }
  if (name == "bert-classifier") {
    CF_CHECK(opt.prompt_template.empty() && opt.labels.empty(), ValueError, path,
             ": a prompt template and labels apply to GPT checkpoints only, this is a ", name);
    return models::load_bert_classifier(path);
  }
  if (name == "gpt") {
    CF_CHECK(!opt.prompt_template.empty() && !opt.labels.empty(), ValueError, path,
             ": a GPT classifies by prompting: give --prompt-template (with {text}) and --labels");
    models::GptPromptOptions po;
    po.max_length = opt.max_length;
    po.calibrate = opt.calibrate;
    po.length_normalize = opt.length_normalize;
    return models::load_gpt_prompt_classifier(path, opt.prompt_template, opt.labels, po);
  }
  CF_THROW(FormatError, path, ": model type '", name, "' is not a text classifier");
}

}  // namespace cf::classify
