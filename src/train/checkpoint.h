// Training checkpoints: one safetensors file holding the model ("model.<name>"), the optimizer
// state ("optim.<...>") and, in the metadata, the model type and config, the tokenizer, the step,
// the random generators' states (data sampling, dropout) and the training options. Written
// atomically (io::write_file_atomic): a crash at any moment leaves the previous checkpoint.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cformer/io.h"
#include "cformer/tensor.h"

namespace cf::train {

inline constexpr const char* kCheckpointFormat = "cformer-checkpoint-v1";

struct Checkpoint {
  std::vector<std::pair<std::string, Tensor>> model;  // names without the "model." prefix
  std::vector<std::pair<std::string, Tensor>> optim;  // names without the "optim." prefix
  nlohmann::json meta;                                 // model_type, config, step, rng, ...
};

void save_checkpoint(const std::string& path, const Checkpoint& ck);
/// Throws IoError / FormatError (not a cformer checkpoint, missing metadata) with the path.
Checkpoint load_checkpoint(const std::string& path);

}  // namespace cf::train
