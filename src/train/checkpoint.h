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

#include "cformer/efficient_attention.h"
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

/// The redraw state of attention kernels, for an exact resume of performer runs: per kernel
/// [generator seed, generator offset, forwards since the last redraw] (the "kernels" entry of
/// the checkpoint's "rng" metadata).
nlohmann::json kernel_rng_state(const std::vector<nn::AttentionKernel*>& kernels);
/// Restores kernel_rng_state's array; throws FormatError naming `where` when it is malformed or
/// does not list one entry per kernel.
void restore_kernel_rng_state(const std::vector<nn::AttentionKernel*>& kernels,
                              const nlohmann::json& state, const std::string& where);

}  // namespace cf::train
