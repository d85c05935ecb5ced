"""Translation parity data: the PyTorch twin (translation_twin.TranslationTwin, i.e.
torch.nn.Transformer) with fixed weights on a batch padded on both sides gives logits, the
label-smoothed loss and every parameter gradient, in float32 and (same weights) float64.
One file per configuration: OUT/translation/<case>.safetensors with the config as metadata."""
import json
import os

import numpy as np
import torch

from golden import write_safetensors
from translation_twin import TranslationTwin

BASE = dict(src_vocab_size=23, tgt_vocab_size=29, d_model=16, nhead=2, num_encoder_layers=2,
            num_decoder_layers=2, dim_feedforward=24, dropout=0.0, norm_first=False,
            positions="sinusoidal", max_positions=16, share_embeddings=False, tie_output=True,
            pad_id=0, bos_id=1, eos_id=2)

CASES = {
    "post_sinusoidal_separate_tied": dict(),
    "pre_learned_shared_tied": dict(norm_first=True, positions="learned", share_embeddings=True,
                                    tgt_vocab_size=23),
    "post_learned_separate_untied": dict(positions="learned", tie_output=False),
    "pre_sinusoidal_shared_untied": dict(norm_first=True, share_embeddings=True,
                                         tgt_vocab_size=23, tie_output=False),
}
LABEL_SMOOTHING = 0.1


def batch(c, rng):
    """Sources of lengths 7, 5, 3 (EOS last) and targets of 5, 6, 2 tokens (+ BOS / EOS)."""
    pad, bos, eos = c["pad_id"], c["bos_id"], c["eos_id"]
    src_lens, tgt_lens = [7, 5, 3], [4, 5, 1]
    S, T = max(src_lens), max(tgt_lens) + 1
    src = np.full((3, S), pad, np.int64)
    tgt_in = np.full((3, T), pad, np.int64)
    tgt_out = np.full((3, T), pad, np.int64)
    for i in range(3):
        src[i, :src_lens[i] - 1] = rng.integers(3, c["src_vocab_size"], src_lens[i] - 1)
        src[i, src_lens[i] - 1] = eos
        words = rng.integers(3, c["tgt_vocab_size"], tgt_lens[i])
        tgt_in[i, 0] = bos
        tgt_in[i, 1:tgt_lens[i] + 1] = words
        tgt_out[i, :tgt_lens[i]] = words
        tgt_out[i, tgt_lens[i]] = eos
    return src, tgt_in, tgt_out


def run(model, src, tgt_in, tgt_out):
    model.zero_grad(set_to_none=True)
    logits, loss = model.loss(torch.from_numpy(src), torch.from_numpy(tgt_in),
                              torch.from_numpy(tgt_out), LABEL_SMOOTHING)
    loss.backward()
    grads = [(n, p.grad.detach().numpy().copy()) for n, p in model.named_parameters()]
    return logits.detach().numpy(), loss.detach().numpy(), grads


def main(out_dir):
    os.makedirs(os.path.join(out_dir, "translation"), exist_ok=True)
    for k, (name, over) in enumerate(CASES.items()):
        c = dict(BASE, **over)
        torch.manual_seed(100 + k)
        model = TranslationTwin(c)
        with torch.no_grad():  # non-trivial norms and biases so every parameter matters
            for n, p in model.named_parameters():
                if p.dim() == 1:
                    p.add_(torch.randn(p.shape) * 0.1)
        model.train()  # dropout is 0; train mode keeps torch off its inference fast path
        src, tgt_in, tgt_out = batch(c, np.random.default_rng(7 + k))
        tensors = [("src", src), ("tgt_in", tgt_in), ("tgt_out", tgt_out)]
        tensors += [("init." + n, p.detach().numpy().copy()) for n, p in model.named_parameters()]
        logits, loss, grads = run(model, src, tgt_in, tgt_out)
        tensors += [("logits", logits), ("loss", loss)]
        tensors += [("grad." + n, g) for n, g in grads]
        model.double()
        logits, loss, grads = run(model, src, tgt_in, tgt_out)
        tensors += [("logits64", logits), ("loss64", loss)]
        tensors += [("grad64." + n, g) for n, g in grads]
        write_safetensors(os.path.join(out_dir, "translation", name + ".safetensors"), tensors,
                          {"config": json.dumps(c), "label_smoothing": str(LABEL_SMOOTHING)})
