#include "train/checkpoint.h"

#include "util/check.h"

namespace cf::train {

void save_checkpoint(const std::string& path, const Checkpoint& ck) {
  std::vector<std::pair<std::string, Tensor>> all;
  all.reserve(ck.model.size() + ck.optim.size());
  for (const auto& [n, t] : ck.model) all.emplace_back("model." + n, t);
  for (const auto& [n, t] : ck.optim) all.emplace_back("optim." + n, t);
  nlohmann::json meta = ck.meta;
  meta["format"] = kCheckpointFormat;
  io::save_safetensors(path, all, {{"cformer", meta.dump()}});
}

Checkpoint load_checkpoint(const std::string& path) {
  io::NamedTensors nt = io::load_safetensors(path);
  auto it = nt.metadata.find("cformer");
  CF_CHECK(it != nt.metadata.end(), FormatError, path,
           ": not a cformer checkpoint (no 'cformer' metadata; a plain safetensors file?)");
  Checkpoint ck;
  try {
    ck.meta = nlohmann::json::parse(it->second);
  } catch (const nlohmann::json::exception& e) {
    CF_THROW(FormatError, path, ": checkpoint metadata is not valid JSON: ", e.what());
  }
  CF_CHECK(ck.meta.is_object() && ck.meta.value("format", "") == kCheckpointFormat, FormatError,
           path, ": unsupported checkpoint format (expected ", kCheckpointFormat, ")");
  for (auto& [n, t] : nt.tensors) {
    if (n.rfind("model.", 0) == 0) ck.model.emplace_back(n.substr(6), t);
    else if (n.rfind("optim.", 0) == 0) ck.optim.emplace_back(n.substr(6), t);
    else CF_THROW(FormatError, path, ": unexpected tensor '", n, "' in checkpoint");
  }
  return ck;
}

}  // namespace cf::train
