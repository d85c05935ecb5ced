"""Optimizer parity data: torch.optim SGD / Adam / AdamW over several steps.

Optionally the gradients are clipped by torch.nn.utils.clip_grad_norm_ before each step
(the total norms are stored as "norm.<k>").

Each case is one file OUT/optim/<case>.safetensors holding the initial parameters
("init.<name>"), the gradient of every step ("grad.<k>.<name>"), the parameters after every
step ("after.<k>.<name>") and torch's final optimizer state ("state.<name>.<field>"). Its
metadata "config" (JSON) names the optimizer, its options, the parameter groups and an
optional warm-up + cosine schedule (lr factor per step, applied as LambdaLR would).
"""
import json
import math
import os

import numpy as np
import torch

from golden import write_safetensors

STEPS = 6
SHAPES = {"w": (5, 7), "b": (7,), "emb": (33, 3), "scale": (17,)}


def cosine_factor(step, warmup, total, min_ratio):
    if step < warmup:
        return (step + 1) / warmup
    if step >= total:
        return min_ratio
    progress = (step - warmup) / (total - warmup)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def run_case(out_dir, name, optimizer, options, groups, schedule=None, seed=0, clip=None):
    rng = np.random.default_rng(seed)
    init = {n: rng.standard_normal(s).astype(np.float32) for n, s in SHAPES.items()}
    params = {n: torch.nn.Parameter(torch.from_numpy(v.copy())) for n, v in init.items()}
    torch_groups = []
    for g in groups:
        tg = {"params": [params[n] for n in g["params"]]}
        for k in ("lr", "weight_decay"):
            if k in g:
                tg[k] = g[k]
        torch_groups.append(tg)
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[optimizer]
    kwargs = dict(options)
    if "beta1" in kwargs:
        kwargs["betas"] = (kwargs.pop("beta1"), kwargs.pop("beta2"))
    opt = cls(torch_groups, foreach=False, **kwargs)
    initial = [pg["lr"] for pg in opt.param_groups]
    tensors = [(f"init.{n}", v) for n, v in init.items()]
    for k in range(STEPS):
        if schedule:
            f = cosine_factor(k, schedule["warmup"], schedule["total"], schedule["min_ratio"])
            for pg, lr0 in zip(opt.param_groups, initial):
                pg["lr"] = lr0 * f
        for n, p in params.items():
            if n == "scale" and k == 2:  # no gradient this step: the optimizer skips it
                p.grad = None
                continue
            g = (rng.standard_normal(p.shape) * (1.0 + k)).astype(np.float32)
            p.grad = torch.from_numpy(g.copy())  # clip_grad_norm_ scales it in place
            tensors.append((f"grad.{k}.{n}", g))
        if clip is not None:
            norm = torch.nn.utils.clip_grad_norm_(list(params.values()), clip)
            tensors.append((f"norm.{k}", np.array(float(norm), dtype=np.float64)))
        opt.step()
        for n, p in params.items():
            tensors.append((f"after.{k}.{n}", p.detach().numpy().copy()))
    for n, p in params.items():
        for field, t in opt.state[p].items():
            if t is None:
                continue
            if field != "step":
                tensors.append((f"state.{n}.{field}", t.detach().numpy().copy()))
            else:
                tensors.append((f"state.{n}.step", np.array(int(t.item()), dtype=np.int64)))
    config = {"optimizer": optimizer, "options": options, "groups": groups, "steps": STEPS,
              "schedule": schedule, "clip": clip}
    write_safetensors(os.path.join(out_dir, f"{name}.safetensors"), tensors,
                      {"config": json.dumps(config)})


def main(out_dir):
    out = os.path.join(out_dir, "optim")
    os.makedirs(out, exist_ok=True)
    everything = [{"params": ["w", "b", "emb", "scale"]}]
    two_groups = [{"params": ["w", "emb"], "weight_decay": 0.1},
                  {"params": ["b", "scale"], "weight_decay": 0.0, "lr": 0.02}]
    run_case(out, "sgd_nesterov_wd", "sgd",
             {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}, everything, seed=1)
    run_case(out, "sgd_dampening", "sgd",
             {"lr": 0.1, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.0}, two_groups, seed=2)
    run_case(out, "sgd_plain", "sgd", {"lr": 0.1}, everything, seed=3)
    run_case(out, "adam_l2", "adam",
             {"lr": 0.01, "beta1": 0.9, "beta2": 0.99, "eps": 1e-8, "weight_decay": 0.05},
             everything, seed=4)
    run_case(out, "adam_amsgrad", "adam",
             {"lr": 0.01, "beta1": 0.8, "beta2": 0.95, "eps": 1e-6, "weight_decay": 0.0,
              "amsgrad": True}, everything, seed=5)
    run_case(out, "adamw_groups", "adamw",
             {"lr": 0.01, "beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "weight_decay": 0.01},
             two_groups, seed=6)
    run_case(out, "adamw_cosine_schedule", "adamw",
             {"lr": 0.03, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.1},
             two_groups, schedule={"warmup": 2, "total": 5, "min_ratio": 0.1}, seed=7)
    run_case(out, "adamw_amsgrad", "adamw",
             {"lr": 0.02, "beta1": 0.9, "beta2": 0.99, "eps": 1e-8, "weight_decay": 0.05,
              "amsgrad": True}, everything, seed=8)
    run_case(out, "sgd_momentum_clip_maximize", "sgd",
             {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.02, "maximize": True}, everything,
             seed=9, clip=1.5)
    run_case(out, "adamw_clip", "adamw",
             {"lr": 0.01, "beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "weight_decay": 0.1},
             two_groups, seed=10, clip=2.0)
    run_case(out, "adam_maximize", "adam",
             {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01,
              "maximize": True}, everything, seed=11)
