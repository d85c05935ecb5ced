"""Long-document classifier parity data (cformer/models/longdoc.h): a PyTorch twin with the same
parameter names for each attention kernel (dense, memory_efficient, longformer, block_sparse with
a random block layout, performer), on padded token batches that start with [CLS]. Per variant:
the state_dict (buffers included: the block layout, the Performer projection), the ids and the
padding mask, the logits, the cross-entropy loss and every parameter gradient. Dropout is 0, so
training and eval mode agree. Written to OUT/longdoc/<variant>.safetensors, read by
tests/golden/test_longdoc.cpp. The attention twins are dense masked softmax (or, for Performer,
the FAVOR+ formulas) written with torch ops.
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from gen_effattn_b import favor  # the Performer code's softmax_kernel_transformation
from golden import write_safetensors

BASE = {"vocab_size": 11, "pad_id": 0, "cls_id": 1, "max_len": 40, "num_classes": 3,
        "d_model": 16, "num_heads": 2, "num_layers": 2, "ffn_dim": 24, "dropout": 0.0,
        "attention": "dense", "attention_window": 4, "sparse_layout": "fixed", "block_size": 4,
        "local_blocks": 2, "global_blocks": 1, "window_blocks": 3, "random_blocks": 1,
        "nb_features": 12, "redraw_interval": 0}


def masked_softmax_attention(q, k, v, keep):
    """A query with no key left gets a zero output, as cformer's sparse kernels define it."""
    s = (q @ k.transpose(-2, -1)) / math.sqrt(q.size(-1))
    keep = keep.expand(s.shape)
    some = keep.any(-1, keepdim=True)
    s = s.masked_fill(~keep, float("-inf")).masked_fill(~some, 0.0)
    return (torch.softmax(s, -1) * some) @ v


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, self.h, self.kind, self.c = c["d_model"], c["num_heads"], c["attention"], c
        if self.kind == "longformer":
            for n in ("query", "key", "value", "query_global", "key_global", "value_global"):
                setattr(self, n, nn.Linear(d, d))
        else:
            self.in_proj_weight = nn.Parameter(torch.empty(3 * d, d))
            nn.init.xavier_uniform_(self.in_proj_weight)
            self.in_proj_bias = nn.Parameter(torch.randn(3 * d) * 0.1)
        self.out_proj = nn.Linear(d, d)
        nb = (c["max_len"] + c["block_size"] - 1) // c["block_size"]
        self.kernel = nn.Module()  # cformer's nn::AttentionKernel holds the kernels' buffers
        if self.kind == "block_sparse":
            lay = torch.rand(self.h, nb, nb) < 0.4
            lay |= torch.eye(nb, dtype=torch.bool)[None]
            self.kernel.register_buffer("layout", lay)
        if self.kind == "performer":
            self.kernel.register_buffer("projection_matrix", torch.randn(c["nb_features"], d // self.h))

    def heads(self, t):
        B, N, D = t.shape
        return t.view(B, N, self.h, D // self.h).transpose(1, 2)

    def forward(self, x, pad):
        B, N, D = x.shape
        keep_key = ~pad[:, None, None, :]  # (B, 1, 1, N)
        if self.kind == "longformer":
            w = self.c["attention_window"] // 2
            off = torch.arange(N)[None, :] - torch.arange(N)[:, None]
            glob = torch.zeros(N, dtype=torch.bool)
            glob[0] = True
            keep_local = ((off.abs() <= w) & ~glob[None, :]) | glob[None, :]
            local = masked_softmax_attention(self.heads(self.query(x)), self.heads(self.key(x)),
                                             self.heads(self.value(x)), keep_local[None, None] & keep_key)
            glob_rows = masked_softmax_attention(
                self.heads(self.query_global(x)), self.heads(self.key_global(x)),
                self.heads(self.value_global(x)), keep_key.expand(B, 1, N, N))
            o = torch.where(glob[None, None, :, None], glob_rows, local)
        else:
            q, k, v = (self.heads(t) for t in F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, -1))
            if self.kind in ("dense", "memory_efficient"):
                o = masked_softmax_attention(q, k, v, keep_key)
            elif self.kind == "block_sparse":
                bs = self.c["block_size"]
                idx = torch.arange(N) // bs
                lay = self.kernel.layout[:, idx][:, :, idx]  # (H, N, N)
                o = masked_softmax_attention(q, k, v, lay[None] & keep_key)
            else:
                qf = favor(q, self.kernel.projection_matrix, True, 1e-6)
                kf = favor(k, self.kernel.projection_matrix, False, 1e-6) * (~pad)[:, None, :, None].to(q.dtype)
                o = (qf @ (kf.transpose(-2, -1) @ v)) / (qf @ kf.sum(-2).unsqueeze(-1))
        return self.out_proj(o.transpose(1, 2).reshape(B, N, D))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["d_model"]
        self.self_attn = Attention(c)
        self.linear1 = nn.Linear(d, c["ffn_dim"])
        self.linear2 = nn.Linear(c["ffn_dim"], d)
        self.norm1 = nn.LayerNorm(d)
        self.norm2 = nn.LayerNorm(d)
        with torch.no_grad():  # non-trivial norms
            for n in (self.norm1, self.norm2):
                n.weight.add_(torch.randn(d) * 0.1)
                n.bias.add_(torch.randn(d) * 0.1)

    def forward(self, x, pad):
        x = x + self.self_attn(self.norm1(x), pad)
        return x + self.linear2(F.gelu(self.linear1(self.norm2(x))))


class Model(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["d_model"])
        self.embed_positions = nn.Embedding(c["max_len"], c["d_model"])
        self.layers = nn.ModuleList([Layer(c) for _ in range(c["num_layers"])])
        self.norm = nn.LayerNorm(c["d_model"])
        self.head = nn.Linear(c["d_model"], c["num_classes"])

    def forward(self, ids, pad):
        N = ids.size(1)
        x = self.embed_tokens(ids) + self.embed_positions(torch.arange(N))[None]
        for layer in self.layers:
            x = layer(x, pad)
        return self.head(self.norm(x)[:, 0])


VARIANTS = {
    "dense": {"attention": "dense"},
    "memory_efficient": {"attention": "memory_efficient"},
    "longformer": {"attention": "longformer"},
    "block_sparse": {"attention": "block_sparse"},
    "performer": {"attention": "performer"},
}


def main(out_dir):
    out = os.path.join(out_dir, "longdoc")
    os.makedirs(out, exist_ok=True)
    for i, (name, extra) in enumerate(VARIANTS.items()):
        torch.manual_seed(100 + i)
        c = dict(BASE, **extra)
        model = Model(c).double()
        B, N = 3, 29
        lengths = [29, 17, 23]
        ids = torch.randint(2, c["vocab_size"], (B, N))
        ids[:, 0] = c["cls_id"]
        pad = torch.arange(N)[None, :] >= torch.tensor(lengths)[:, None]
        ids = ids.masked_fill(pad, c["pad_id"])
        labels = torch.tensor([0, 2, 1])
        logits = model(ids, pad)
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        tensors = [("init." + k, v.detach().numpy()) for k, v in model.state_dict().items()]
        tensors += [("grad." + k, p.grad.numpy()) for k, p in model.named_parameters()]
        tensors += [("ids", ids.numpy()), ("pad", pad.numpy()), ("labels", labels.numpy()),
                    ("logits", logits.detach().numpy()), ("loss", loss.detach().numpy())]
        write_safetensors(os.path.join(out, name + ".safetensors"), tensors,
                          {"config": json.dumps(c)})
