// Helpers shared by the image classifiers' sources (src/models/vision/*.cpp).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cformer/models/vision.h"

namespace cf::models {

/// timm's Linear init: weight trunc_normal(0, 0.02) on [-2, 2], bias 0.
void trunc_normal_linear(nn::Linear& l, Generator& gen);

/// A parameter-free container that only names its children (timm's PatchEmbed, T2T's
/// Token_transformer hold their layers under these names).
class NamedGroup : public nn::Module {
 public:
  explicit NamedGroup(const std::string& type) : nn::Module(type) {}
};

/// Reads field `key` of a JSON object into `out`, throwing FormatError naming `what`.
template <class T>
void json_field(const nlohmann::json& j, const char* key, T& out, const char* what) {
  if (!j.contains(key))
    throw FormatError(std::string(what) + ": the configuration lacks '" + key + "'");
  try {
    out = j.at(key).get<T>();
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(std::string(what) + ": bad '" + key + "': " + e.what());
  }
}

}  // namespace cf::models
