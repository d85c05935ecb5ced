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

nlohmann::json kernel_rng_state(const std::vector<nn::AttentionKernel*>& kernels) {
  nlohmann::json out = nlohmann::json::array();
  for (const nn::AttentionKernel* k : kernels)
    out.push_back({k->feature_gen.seed(), k->feature_gen.offset(), k->calls_since_last_redraw});
  return out;
}

void restore_kernel_rng_state(const std::vector<nn::AttentionKernel*>& kernels,
                              const nlohmann::json& state, const std::string& where) {
  CF_CHECK(state.is_array() && state.size() == kernels.size(), FormatError, where,
           ": rng.kernels must list ", kernels.size(), " attention kernels");
  try {
    for (size_t i = 0; i < kernels.size(); ++i) {
      const nlohmann::json& e = state.at(i);
      kernels[i]->feature_gen.set_state(e.at(0).get<uint64_t>(), e.at(1).get<uint64_t>());
      kernels[i]->calls_since_last_redraw = e.at(2).get<int64_t>();
    }
  } catch (const nlohmann::json::exception& e) {
    CF_THROW(FormatError, where, ": malformed rng.kernels: ", e.what());
  }
}

}  // namespace cf::train
