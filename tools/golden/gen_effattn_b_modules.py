"""Module parity data for nn::AxialAttention and nn::PerformerAttention (issue 7, effb), written
as gen_nn_modules.py does to OUT/effattn_b/<case>.safetensors: the twin's state_dict
("param.<name>", buffers included), inputs, outputs, upstream gradients and the gradients of every
parameter and float input; metadata "config" names the module and its arguments."""
import os

import numpy as np
import torch

from gen_effattn_b import favor, linear_attn
from gen_nn_modules import randomize, rng_for, write_case


class AxialTwin(torch.nn.Module):
    """Self-attention along W (rows) then along H (columns) of x (B, H, W, D)."""

    def __init__(self, dim, heads):
        super().__init__()
        self.row_attn = torch.nn.MultiheadAttention(dim, heads, batch_first=True)
        self.col_attn = torch.nn.MultiheadAttention(dim, heads, batch_first=True)

    def forward(self, x):
        B, H, W, D = x.shape
        r = x.reshape(B * H, W, D)
        y = self.row_attn(r, r, r, need_weights=False)[0].reshape(B, H, W, D)
        c = y.transpose(1, 2).reshape(B * W, H, D)
        z = self.col_attn(c, c, c, need_weights=False)[0]
        return z.reshape(B, W, H, D).transpose(1, 2)


class PerformerTwin(torch.nn.Module):
    """performer-pytorch's SelfAttention layout with a fixed projection (eval: no redraw)."""

    def __init__(self, dim, heads, nb_features, causal, projection):
        super().__init__()
        self.heads, self.causal = heads, causal
        self.to_q = torch.nn.Linear(dim, dim)
        self.to_k = torch.nn.Linear(dim, dim)
        self.to_v = torch.nn.Linear(dim, dim)
        self.to_out = torch.nn.Linear(dim, dim)
        self.register_buffer("projection_matrix", projection)

    def forward(self, x):
        N, L, E = x.shape
        h = self.heads

        def split(t):
            return t.reshape(N, L, h, E // h).transpose(1, 2)

        q, k, v = split(self.to_q(x)), split(self.to_k(x)), split(self.to_v(x))
        w = self.projection_matrix
        o = linear_attn({"is_causal": self.causal}, favor(q, w, True, 1e-6),
                        favor(k, w, False, 1e-6), v)
        return self.to_out(o.transpose(1, 2).reshape(N, L, E))


def main(out_dir):
    out = os.path.join(out_dir, "effattn_b")
    os.makedirs(out, exist_ok=True)
    for name, (B, H, W, D, heads) in {"axial_small": (2, 3, 4, 8, 2),
                                      "axial_odd": (1, 5, 7, 12, 3)}.items():
        r = rng_for(name)
        m = AxialTwin(D, heads)
        randomize(m, r)
        x = r.standard_normal((B, H, W, D)).astype(np.float32)
        write_case(out, name, m, {"module": "axial", "embed_dim": D, "num_heads": heads},
                   {"x": x}, ["x"], lambda mod, x: mod(x))
    for name, causal in (("performer_bidirectional", False), ("performer_causal", True)):
        r = rng_for(name)
        E, heads, m_feat, N, L = 16, 2, 12, 2, 9
        proj = torch.from_numpy(r.standard_normal((m_feat, E // heads)).astype(np.float32))
        m = PerformerTwin(E, heads, m_feat, causal, proj)
        randomize(m, r)
        x = r.standard_normal((N, L, E)).astype(np.float32)
        write_case(out, name, m, {"module": "performer", "embed_dim": E, "num_heads": heads,
                                  "nb_features": m_feat, "causal": causal},
                   {"x": x}, ["x"], lambda mod, x: mod(x))
