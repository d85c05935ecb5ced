// The CNN baseline: stages of (Conv2d 3x3 - BatchNorm2d - ReLU) x k followed by a 2x2 max pool,
// then flatten and a linear head. And the factory of the image classifiers.
// Dims: B batch, C channels, H W image; after S stages the map is (B, C_S, H / 2^S, W / 2^S).
#include "cformer/models/vision.h"
#include "models/vision/common.h"
#include "util/check.h"

namespace cf::models {

void CnnConfig::validate() const {
  CF_CHECK(image_size > 0 && in_chans > 0 && num_classes > 0 && convs_per_stage > 0, ValueError,
           "cnn config: image_size, in_chans, num_classes and convs_per_stage must be positive");
  CF_CHECK(!channels.empty(), ValueError, "cnn config: channels is empty");
  for (int64_t c : channels)
    CF_CHECK(c > 0, ValueError, "cnn config: channels must be positive, got ", c);
  const int64_t f = int64_t{1} << channels.size();
  CF_CHECK(channels.size() < 20 && image_size % f == 0, ValueError, "cnn config: image_size (",
           image_size, ") is not divisible by 2^", channels.size(), " = ", f,
           " (one 2x2 pool per stage)");
  CF_CHECK(dropout >= 0.0 && dropout < 1.0, ValueError, "cnn config: dropout must be in [0, 1), got ",
           dropout);
}

std::string CnnConfig::to_json() const {
  nlohmann::json j{{"image_size", image_size},           {"in_chans", in_chans},
                   {"num_classes", num_classes},         {"channels", channels},
                   {"convs_per_stage", convs_per_stage}, {"dropout", dropout}};
  return j.dump();
}

CnnConfig CnnConfig::from_json(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  CF_CHECK(j.is_object(), FormatError, "cnn config: not a JSON object: ", text);
  CnnConfig c;
  const char* w = "cnn config";
  json_field(j, "image_size", c.image_size, w);
  json_field(j, "in_chans", c.in_chans, w);
  json_field(j, "num_classes", c.num_classes, w);
  json_field(j, "channels", c.channels, w);
  json_field(j, "convs_per_stage", c.convs_per_stage, w);
  json_field(j, "dropout", c.dropout, w);
  try {
    c.validate();
  } catch (const ValueError& e) {
    CF_THROW(FormatError, e.what());
  }
  return c;
}

CnnConfig CnnConfig::preset(const std::string& name) {
  CnnConfig c;
  if (name == "tiny") c.channels = {8, 16}, c.convs_per_stage = 1;
  else if (name == "small") c.channels = {16, 32}, c.convs_per_stage = 1;
  else if (name == "default") c.channels = {32, 64}, c.convs_per_stage = 2, c.dropout = 0.2;
  else CF_THROW(ValueError, "cnn: unknown preset '", name, "' (tiny, small, default)");
  return c;
}

namespace {

const CnnConfig& validated(const CnnConfig& c) {
  c.validate();
  return c;
}

}  // namespace

Cnn::Cnn(const CnnConfig& config, uint64_t seed)
    : ImageClassifier("CNN", seed + 1), config_(validated(config)) {
  Generator gen(seed);
  features = register_module("features", std::make_shared<nn::Sequential>());
  int64_t c_in = config_.in_chans;
  for (int64_t c : config_.channels) {
    for (int64_t k = 0; k < config_.convs_per_stage; ++k) {
      features->push_back(std::make_shared<Conv2d>(c_in, c, 3, gen, 1, 1, 1, 1, false));
      features->push_back(std::make_shared<BatchNorm2d>(c));
      features->push_back(std::make_shared<nn::ReLU>());
      c_in = c;
    }
    features->push_back(std::make_shared<MaxPool2d>(2));
  }
  const int64_t side = config_.image_size >> config_.channels.size();
  head = register_module("head", std::make_shared<nn::Linear>(c_in * side * side,
                                                              config_.num_classes, true, gen));
}

Tensor Cnn::forward(const Tensor& x) {
  check_input("cnn", x, config_.in_chans, config_.image_size);
  Tensor f = features->forward(x).flatten(1);
  if (is_training() && config_.dropout > 0.0) f = dropout(f, config_.dropout, true, dropout_gen_);
  return head->forward(f);
}

std::unique_ptr<ImageClassifier> make_image_classifier(const std::string& type,
                                                       const std::string& config_json,
                                                       uint64_t seed) {
  if (type == "vit") return std::make_unique<Vit>(VitConfig::from_json(config_json), seed);
  if (type == "vitae") return std::make_unique<Vitae>(VitaeConfig::from_json(config_json), seed);
  if (type == "cnn") return std::make_unique<Cnn>(CnnConfig::from_json(config_json), seed);
  CF_THROW(ValueError, "unknown image model type '", type, "' (vit, vitae, cnn)");
}

std::string image_classifier_preset(const std::string& type, const std::string& preset) {
  if (type == "vit") return VitConfig::preset(preset).to_json();
  if (type == "vitae") return VitaeConfig::preset(preset).to_json();
  if (type == "cnn") return CnnConfig::preset(preset).to_json();
  CF_THROW(ValueError, "unknown image model type '", type, "' (vit, vitae, cnn)");
}

}  // namespace cf::models
