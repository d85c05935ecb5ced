"""GPT parity data: the PyTorch twin (gpt_twin.GPT) with fixed weights on fixed tokens gives
logits, loss, every parameter gradient, and the losses and parameters of 5 AdamW steps.
Written to OUT/gpt/gpt_parity.safetensors."""
import json
import os

import numpy as np
import torch

from golden import write_safetensors
from gpt_twin import GPT, adamw_groups


def main(out_dir):
    os.makedirs(os.path.join(out_dir, "gpt"), exist_ok=True)
    torch.manual_seed(0)
    c = dict(n_layer=2, n_head=2, n_embd=32, block_size=16, vocab_size=61, dropout=0.0, bias=True)
    model = GPT(c)
    model.init_weights(3)
    with torch.no_grad():  # non-trivial norms and biases so every parameter matters
        for n, p in model.named_parameters():
            if p.dim() == 1:
                p.add_(torch.randn(p.shape) * 0.1)
    rng = np.random.default_rng(5)
    idx = torch.from_numpy(rng.integers(0, c["vocab_size"], (3, 16)).astype(np.int64))
    tgt = torch.from_numpy(rng.integers(0, c["vocab_size"], (3, 16)).astype(np.int64))
    tensors = [("idx", idx.numpy()), ("targets", tgt.numpy())]
    tensors += [("init." + n, p.detach().numpy().copy()) for n, p in model.named_parameters()]
    logits, loss = model(idx, tgt)
    loss.backward()
    tensors += [("logits", logits.detach().numpy()), ("loss", loss.detach().numpy())]
    tensors += [("grad." + n, p.grad.numpy().copy()) for n, p in model.named_parameters()]
    opt = torch.optim.AdamW(adamw_groups(model, 0.1), lr=1e-2, betas=(0.9, 0.95), eps=1e-8)
    losses = []
    for _ in range(5):
        opt.zero_grad(set_to_none=True)
        _, l = model(idx, tgt)
        l.backward()
        opt.step()
        losses.append(l.item())
    tensors.append(("adamw_losses", np.array(losses, dtype=np.float64)))
    tensors += [("after." + n, p.detach().numpy().copy()) for n, p in model.named_parameters()]
    # The same initial weights as a Hugging Face GPT2LMHeadModel file: "transformer." prefix,
    # the causal-mask buffers, a tied lm_head, and config.json beside it.
    hf_dir = os.path.join(out_dir, "gpt", "hf")
    os.makedirs(hf_dir, exist_ok=True)
    hf = []
    for n, arr in tensors:
        if n.startswith("init."):
            hf.append(("transformer." + n[5:], arr))
    bs = c["block_size"]
    for i in range(c["n_layer"]):
        hf.append((f"transformer.h.{i}.attn.bias", np.tril(np.ones((bs, bs), np.float32))[None, None]))
        hf.append((f"transformer.h.{i}.attn.masked_bias", np.array(-1e4, dtype=np.float32)))
    hf.append(("lm_head.weight", dict(tensors)["init.wte.weight"]))
    write_safetensors(os.path.join(hf_dir, "model.safetensors"), hf, {"format": "pt"})
    with open(os.path.join(hf_dir, "config.json"), "w") as f:
        json.dump({"model_type": "gpt2", "n_head": c["n_head"], "n_layer": c["n_layer"],
                   "n_embd": c["n_embd"], "n_positions": bs, "vocab_size": c["vocab_size"],
                   "layer_norm_epsilon": 1e-5}, f)
    write_safetensors(os.path.join(out_dir, "gpt", "gpt_parity.safetensors"), tensors,
                      {"config": json.dumps(c), "lr": "0.01", "betas": "0.9,0.95",
                       "weight_decay": "0.1"})
