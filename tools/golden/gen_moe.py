"""Module parity data for nn::MoEFeedForward, written as gen_nn_modules.py does to
OUT/moe/<case>.safetensors: the twin's state_dict, the input, the outputs (output, aux_loss,
z_loss), upstream gradients and the gradients of every parameter and of x; metadata "config" holds
the module's arguments and the expected per-expert counts and dropped assignments. The twin loops
over the experts (no batching tricks), with the routing rules spelled out plainly."""
import math
import os

import numpy as np
import torch

from gen_nn_modules import randomize, rng_for, write_case


class Expert(torch.nn.Module):
    def __init__(self, dim, ffn, act):
        super().__init__()
        self.fc1 = torch.nn.Linear(dim, ffn)
        self.act = torch.nn.GELU() if act == "gelu" else torch.nn.ReLU()
        self.fc2 = torch.nn.Linear(ffn, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class MoETwin(torch.nn.Module):
    def __init__(self, dim, ffn, experts, top_k, capacity_factor, normalize, act):
        super().__init__()
        self.dim, self.E, self.k = dim, experts, top_k
        self.capacity_factor, self.normalize = capacity_factor, normalize
        self.router = torch.nn.Linear(dim, experts, bias=False)
        self.experts = torch.nn.ModuleList([Expert(dim, ffn, act) for _ in range(experts)])
        self.counts, self.dropped = [], 0

    def forward(self, x):
        x2 = x.reshape(-1, self.dim)
        T = x2.shape[0]
        logits = self.router(x2.float())
        probs = torch.softmax(logits, -1)
        gates, idx = probs.topk(self.k, -1)
        if self.normalize:
            gates = gates / gates.sum(-1, keepdim=True)
        keep = torch.ones(T, self.k, dtype=torch.bool)
        self.dropped = 0
        if self.capacity_factor > 0:
            cap = math.ceil(self.capacity_factor * T * self.k / self.E)
            used = [0] * self.E
            for j in range(self.k):  # every first choice before any second choice (GShard)
                for t in range(T):
                    e = int(idx[t, j])
                    if used[e] < cap:
                        used[e] += 1
                    else:
                        keep[t, j] = False
                        self.dropped += 1
        out = torch.zeros_like(x2)
        self.counts = []
        for e in range(self.E):
            t_idx, j_idx = ((idx == e) & keep).nonzero(as_tuple=True)
            self.counts.append(len(t_idx))
            if len(t_idx) == 0:
                continue
            y = self.experts[e](x2[t_idx]) * gates[t_idx, j_idx].unsqueeze(1).to(x.dtype)
            out = out.index_add(0, t_idx, y)
        f = torch.nn.functional.one_hot(idx[:, 0], self.E).float().mean(0)
        aux = self.E * (f * probs.mean(0)).sum()
        z = (torch.logsumexp(logits, -1) ** 2).mean()
        return out.reshape(x.shape), aux, z


CASES = {
    # name: (x shape, D, F, E, top_k, capacity_factor, normalize, activation)
    "top1": ((2, 7, 12), 12, 20, 4, 1, 0.0, False, "gelu"),
    "top1_capacity": ((2, 7, 12), 12, 20, 4, 1, 1.0, False, "gelu"),
    "top2_normalized": ((3, 5, 10), 10, 17, 5, 2, 0.0, True, "relu"),
    "top2_capacity": ((16, 8), 8, 12, 4, 2, 0.75, False, "gelu"),
}


def main(out_dir):
    out = os.path.join(out_dir, "moe")
    os.makedirs(out, exist_ok=True)
    for name, (shape, D, F, E, k, cf, norm, act) in CASES.items():
        r = rng_for("moe/" + name)
        m = MoETwin(D, F, E, k, cf, norm, act)
        randomize(m, r)
        x = r.standard_normal(shape).astype(np.float32)
        with torch.no_grad():  # routing must not sit on a near tie (f32 vs f64 runs)
            p = torch.softmax(m.router(torch.from_numpy(x).reshape(-1, D)), -1)
            s = p.sort(-1, descending=True).values
            margin = float((s[:, k - 1] - s[:, k]).min())
            assert margin > 1e-4, f"moe/{name}: top-{k} margin {margin}"
            m(torch.from_numpy(x))
            assert (m.dropped > 0) == (cf > 0), f"moe/{name}: dropped {m.dropped}"
            counts, dropped = list(m.counts), m.dropped
        write_case(out, name, m, {"module": "moe", "embed_dim": D, "ffn_dim": F, "num_experts": E,
                                  "top_k": k, "capacity_factor": cf, "normalize_gates": norm,
                                  "activation": act, "expert_counts": counts,
                                  "dropped": dropped},
                   {"x": x}, ["x"], lambda mod, x: mod(x))
