"""Module parity data: torch.nn layers with their state_dict, inputs, outputs and gradients.

Each case is one file OUT/nn/<case>.safetensors holding torch's state_dict under its own names
("param.<name>"), the inputs ("input.<name>"), the outputs ("out.<j>"), random upstream
gradients ("gout.<j>"), and the gradients torch computes for every parameter
("grad.param.<name>") and every float input ("grad.input.<name>"). Its metadata "config" (JSON)
gives the module kind, its constructor arguments and how forward is called, in cformer's terms.
Dropout is 0 everywhere, so the results are deterministic.
"""
import json
import os
import zlib

import numpy as np
import torch

from golden import write_safetensors


def rng_for(name):
    return np.random.default_rng(zlib.crc32(f"nn/{name}".encode()))


def randomize(module, rng):
    """Replaces torch's init (zero biases, unit norm weights) by random values."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            v = rng.standard_normal(tuple(p.shape)) * 0.3
            if "norm" in name and name.endswith("weight"):
                v = 1.0 + v
            p.copy_(torch.from_numpy(v.astype(np.float32)))


def bool_mask(rng, shape, p=0.3):
    """True = masked; the first key of every row stays visible (no all-masked rows)."""
    m = rng.random(shape) < p
    m[..., 0] = False
    return m


def causal(L, S):
    return np.triu(np.ones((L, S), dtype=bool), 1)


def write_case(out_dir, name, module, config, inputs, float_inputs, call):
    """call(module, **torch_inputs) -> tensor or tuple of tensors."""
    rng = rng_for(name + "/gout")
    ts = {}
    for k, v in inputs.items():
        t = torch.from_numpy(np.array(v))
        if k in float_inputs:
            t.requires_grad_(True)
        ts[k] = t
    out = call(module, **ts)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    gouts = [torch.from_numpy(rng.standard_normal(tuple(o.shape)).astype(np.float32)) for o in outs]
    params = dict(module.named_parameters())
    diff = list(params.values()) + [ts[k] for k in float_inputs]
    grads = torch.autograd.grad(outs, diff, gouts, allow_unused=True)
    tensors = []
    for k, v in module.state_dict().items():
        tensors.append((f"param.{k}", v.detach().numpy().copy()))
    for k, v in inputs.items():
        tensors.append((f"input.{k}", np.array(v)))
    for j, (o, g) in enumerate(zip(outs, gouts)):
        tensors.append((f"out.{j}", o.detach().numpy().copy()))
        tensors.append((f"gout.{j}", g.numpy()))
    names = [f"param.{k}" for k in params] + [f"input.{k}" for k in float_inputs]
    for n, g, t in zip(names, grads, diff):
        g = torch.zeros_like(t) if g is None else g
        tensors.append((f"grad.{n}", g.detach().numpy().copy()))
    config = dict(config, n_out=len(outs))
    write_safetensors(os.path.join(out_dir, f"{name}.safetensors"), tensors,
                      {"config": json.dumps(config)})


def mha_cases(out):
    E, H, L, S, N = 16, 4, 5, 7, 3

    # Self attention, sequence first, head-averaged weights returned.
    r = rng_for("mha_self")
    torch.manual_seed(0)
    m = torch.nn.MultiheadAttention(E, H)
    randomize(m, r)
    x = r.standard_normal((L, N, E)).astype(np.float32)
    write_case(out, "mha_self", m, {"module": "mha", "embed_dim": E, "num_heads": H,
                                    "call": {"query": "x", "key": "x", "value": "x",
                                             "need_weights": True}},
               {"x": x}, ["x"], lambda mod, x: mod(x, x, x, need_weights=True))

    # Batch first with a key padding mask, no weights (the fused attention path).
    r = rng_for("mha_kpm_batch_first")
    m = torch.nn.MultiheadAttention(E, H, batch_first=True)
    randomize(m, r)
    x = r.standard_normal((N, L, E)).astype(np.float32)
    kpm = bool_mask(r, (N, L))
    write_case(out, "mha_kpm_batch_first", m,
               {"module": "mha", "embed_dim": E, "num_heads": H, "batch_first": True,
                "call": {"query": "x", "key": "x", "value": "x", "key_padding_mask": "kpm",
                         "need_weights": False}},
               {"x": x, "kpm": kpm}, ["x"],
               lambda mod, x, kpm: mod(x, x, x, key_padding_mask=kpm, need_weights=False)[0])

    # Causal self attention: cformer's is_causal against torch's explicit triangular mask.
    for need_weights in (False, True):
        name = "mha_causal" + ("_weights_per_head" if need_weights else "")
        r = rng_for(name)
        m = torch.nn.MultiheadAttention(E, H)
        randomize(m, r)
        x = r.standard_normal((L, N, E)).astype(np.float32)
        cm = torch.from_numpy(causal(L, L))
        call = {"query": "x", "key": "x", "value": "x", "is_causal": True,
                "need_weights": need_weights, "average_attn_weights": False}
        write_case(out, name, m, {"module": "mha", "embed_dim": E, "num_heads": H, "call": call},
                   {"x": x}, ["x"],
                   (lambda mod, x: mod(x, x, x, attn_mask=cm, need_weights=True,
                                       average_attn_weights=False)) if need_weights else
                   (lambda mod, x: mod(x, x, x, attn_mask=cm, need_weights=False)[0]))

    # Cross attention with kdim/vdim, a bool key padding mask and a float additive mask.
    r = rng_for("mha_cross_kdim_vdim")
    m = torch.nn.MultiheadAttention(E, H, kdim=12, vdim=10)
    randomize(m, r)
    q = r.standard_normal((L, N, E)).astype(np.float32)
    k = r.standard_normal((S, N, 12)).astype(np.float32)
    v = r.standard_normal((S, N, 10)).astype(np.float32)
    kpm = bool_mask(r, (N, S))
    am = (r.standard_normal((L, S)) * 0.5).astype(np.float32)
    for need_weights in (True, False):
        name = "mha_cross_kdim_vdim" + ("" if need_weights else "_fused")
        write_case(out, name, m,
                   {"module": "mha", "embed_dim": E, "num_heads": H, "kdim": 12, "vdim": 10,
                    "call": {"query": "q", "key": "k", "value": "v", "key_padding_mask": "kpm",
                             "attn_mask": "am", "need_weights": need_weights}},
                   {"q": q, "k": k, "v": v, "kpm": kpm, "am": am}, ["q", "k", "v"],
                   lambda mod, q, k, v, kpm, am, nw=need_weights:
                   mod(q, k, v, key_padding_mask=kpm, attn_mask=am, need_weights=nw)
                   if nw else mod(q, k, v, key_padding_mask=kpm, attn_mask=am, need_weights=nw)[0])

    # Unbatched input with a per-head (H, L, S) bool mask, no bias.
    r = rng_for("mha_unbatched_mask3d")
    m = torch.nn.MultiheadAttention(E, H, bias=False)
    randomize(m, r)
    q = r.standard_normal((L, E)).astype(np.float32)
    kv = r.standard_normal((S, E)).astype(np.float32)
    am = bool_mask(r, (H, L, S))
    write_case(out, "mha_unbatched_mask3d", m,
               {"module": "mha", "embed_dim": E, "num_heads": H, "bias": False,
                "call": {"query": "q", "key": "kv", "value": "kv", "attn_mask": "am",
                         "need_weights": True}},
               {"q": q, "kv": kv, "am": am}, ["q", "kv"],
               lambda mod, q, kv, am: mod(q, kv, kv, attn_mask=am, need_weights=True))


def transformer_cases(out):
    E, H, F, L, S, N = 16, 4, 24, 5, 6, 2
    for norm_first in (False, True):
        tag = "pre" if norm_first else "post"
        act = "gelu" if norm_first else "relu"
        batch_first = norm_first
        cfg = {"d_model": E, "nhead": H, "dim_feedforward": F, "activation": act,
               "norm_first": norm_first, "batch_first": batch_first, "layer_norm_eps": 1e-5}

        def shape(T):
            return (N, T, E) if batch_first else (T, N, E)

        # Encoder: post-norm gets a float src_mask and a padding mask; pre-norm is causal.
        name = f"encoder_{tag}_norm"
        r = rng_for(name)
        m = torch.nn.TransformerEncoderLayer(E, H, F, dropout=0.0, activation=act,
                                             batch_first=batch_first, norm_first=norm_first)
        randomize(m, r)
        src = r.standard_normal(shape(L)).astype(np.float32)
        if norm_first:
            cm = torch.from_numpy(causal(L, L))
            write_case(out, name, m, dict(cfg, module="encoder", call={"src": "src", "is_causal": True}),
                       {"src": src}, ["src"], lambda mod, src: mod(src, src_mask=cm))
        else:
            sm = (r.standard_normal((L, L)) * 0.5).astype(np.float32)
            kpm = bool_mask(r, (N, L))
            write_case(out, name, m, dict(cfg, module="encoder",
                                          call={"src": "src", "src_mask": "sm",
                                                "src_key_padding_mask": "kpm"}),
                       {"src": src, "sm": sm, "kpm": kpm}, ["src"],
                       lambda mod, src, sm, kpm: mod(src, src_mask=sm, src_key_padding_mask=kpm))

        # Decoder: causal target, padded memory (post-norm) or a bool memory mask (pre-norm).
        name = f"decoder_{tag}_norm"
        r = rng_for(name)
        m = torch.nn.TransformerDecoderLayer(E, H, F, dropout=0.0, activation=act,
                                             batch_first=batch_first, norm_first=norm_first)
        randomize(m, r)
        tgt = r.standard_normal(shape(L)).astype(np.float32)
        mem = r.standard_normal(shape(S)).astype(np.float32)
        cm = torch.from_numpy(causal(L, L))
        if norm_first:
            mm = bool_mask(r, (L, S))
            write_case(out, name, m, dict(cfg, module="decoder",
                                          call={"tgt": "tgt", "memory": "mem", "tgt_is_causal": True,
                                                "memory_mask": "mm"}),
                       {"tgt": tgt, "mem": mem, "mm": mm}, ["tgt", "mem"],
                       lambda mod, tgt, mem, mm: mod(tgt, mem, tgt_mask=cm, memory_mask=mm))
        else:
            mkpm = bool_mask(r, (N, S))
            tkpm = bool_mask(r, (N, L))
            write_case(out, name, m, dict(cfg, module="decoder",
                                          call={"tgt": "tgt", "memory": "mem", "tgt_is_causal": True,
                                                "tgt_key_padding_mask": "tkpm",
                                                "memory_key_padding_mask": "mkpm"}),
                       {"tgt": tgt, "mem": mem, "tkpm": tkpm, "mkpm": mkpm}, ["tgt", "mem"],
                       lambda mod, tgt, mem, tkpm, mkpm: mod(tgt, mem, tgt_mask=cm,
                                                             tgt_key_padding_mask=tkpm,
                                                             memory_key_padding_mask=mkpm))


def layer_cases(out):
    r = rng_for("linear")
    m = torch.nn.Linear(19, 7)
    randomize(m, r)
    x = r.standard_normal((3, 4, 19)).astype(np.float32)
    write_case(out, "linear", m, {"module": "linear", "in": 19, "out": 7, "bias": True,
                                  "call": {"x": "x"}}, {"x": x}, ["x"], lambda mod, x: mod(x))

    r = rng_for("layer_norm")
    m = torch.nn.LayerNorm(33, eps=1e-5)
    randomize(m, r)
    x = r.standard_normal((4, 33)).astype(np.float32)
    write_case(out, "layer_norm", m, {"module": "layer_norm", "normalized_shape": [33], "eps": 1e-5,
                                      "call": {"x": "x"}}, {"x": x}, ["x"], lambda mod, x: mod(x))

    r = rng_for("embedding_padding")
    m = torch.nn.Embedding(11, 6, padding_idx=3)
    randomize(m, r)
    idx = np.array([[3, 1, 10], [0, 3, 3]], dtype=np.int64)
    write_case(out, "embedding_padding", m, {"module": "embedding", "num": 11, "dim": 6,
                                             "padding_idx": 3, "call": {"x": "idx"}},
               {"idx": idx}, [], lambda mod, idx: mod(idx))


class RMSNormTwin(torch.nn.Module):
    """torch.nn.RMSNorm (PyTorch >= 2.4) written out for torch 1.13."""

    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = torch.nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class MLPTwin(torch.nn.Module):
    """cformer's nn::MLP: fc1 -> activation -> dropout -> fc2."""

    def __init__(self, d_in, hidden, d_out, approximate):
        super().__init__()
        self.fc1 = torch.nn.Linear(d_in, hidden)
        self.act = torch.nn.GELU(approximate=approximate)
        self.drop = torch.nn.Dropout(0.0)
        self.fc2 = torch.nn.Linear(hidden, d_out)

    def forward(self, x):
        return self.fc2(self.drop(self.act(self.fc1(x))))


def extra_cases(out):
    r = rng_for("rms_norm")
    m = RMSNormTwin(20, 1e-6)
    randomize(m, r)
    x = r.standard_normal((3, 2, 20)).astype(np.float32)
    write_case(out, "rms_norm", m, {"module": "rms_norm", "normalized_shape": [20], "eps": 1e-6,
                                    "call": {"x": "x"}}, {"x": x}, ["x"], lambda mod, x: mod(x))
    for approximate in ("none", "tanh"):
        name = f"mlp_gelu_{approximate}"
        r = rng_for(name)
        m = MLPTwin(9, 31, 5, approximate)
        randomize(m, r)
        x = r.standard_normal((4, 9)).astype(np.float32)
        write_case(out, name, m, {"module": "mlp", "in": 9, "hidden": 31, "out": 5,
                                  "activation": "gelu" if approximate == "none" else "gelu_tanh",
                                  "call": {"x": "x"}}, {"x": x}, ["x"], lambda mod, x: mod(x))


def main(out_dir):
    out = os.path.join(out_dir, "nn")
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    mha_cases(out)
    transformer_cases(out)
    layer_cases(out)
    extra_cases(out)
