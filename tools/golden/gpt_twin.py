"""The PyTorch twin of cformer's GPT: GPT-2 architecture with Hugging Face parameter names and
layouts (Conv1D weights are (in, out)), used for parity data, the quality comparison and the
training-step benchmark. Run with Debian's /usr/bin/python3 (torch 1.13).

  gpt_twin.py train  --data data/kjv.txt --minutes 10 ... (prints JSON lines)
  gpt_twin.py bench  --n-layer 6 --n-head 6 --n-embd 384 --block-size 256 --batch 8 --vocab 256
"""
import argparse
import json
import math
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Conv1D(nn.Module):
    """HF GPT-2's linear layer: weight (in, out), y = x @ W + b."""

    def __init__(self, nin, nout, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(nin, nout))
        self.bias = nn.Parameter(torch.zeros(nout)) if bias else None

    def forward(self, x):
        y = x @ self.weight
        return y + self.bias if self.bias is not None else y


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.n_head = c["n_head"]
        e = c["n_embd"]
        self.ln_1 = nn.LayerNorm(e, elementwise_affine=True)
        self.attn = nn.Module()
        self.attn.c_attn = Conv1D(e, 3 * e, c["bias"])
        self.attn.c_proj = Conv1D(e, e, c["bias"])
        self.ln_2 = nn.LayerNorm(e)
        self.mlp = nn.Module()
        self.mlp.c_fc = Conv1D(e, 4 * e, c["bias"])
        self.mlp.c_proj = Conv1D(4 * e, e, c["bias"])
        self.drop = nn.Dropout(c["dropout"])
        self.dropout = c["dropout"]
        if not c["bias"]:
            self.ln_1.bias = None
            self.ln_2.bias = None

    def forward(self, x):
        B, T, C = x.shape
        h = self.ln_1(x)
        q, k, v = self.attn.c_attn(h).split(C, dim=2)
        q = q.view(B, T, self.n_head, -1).transpose(1, 2)
        k = k.view(B, T, self.n_head, -1).transpose(1, 2)
        v = v.view(B, T, self.n_head, -1).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        mask = torch.ones(T, T, dtype=torch.bool).tril()
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        att = F.dropout(att, self.dropout, self.training)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + self.drop(self.attn.c_proj(y))
        x = x + self.drop(self.mlp.c_proj(F.gelu(self.mlp.c_fc(self.ln_2(x)), approximate="tanh")))
        return x


class GPT(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.wte = nn.Embedding(c["vocab_size"], c["n_embd"])
        self.wpe = nn.Embedding(c["block_size"], c["n_embd"])
        self.drop = nn.Dropout(c["dropout"])
        self.h = nn.ModuleList([Block(c) for _ in range(c["n_layer"])])
        self.ln_f = nn.LayerNorm(c["n_embd"])
        if not c["bias"]:
            self.ln_f.bias = None

    def init_weights(self, seed):
        g = torch.Generator().manual_seed(seed)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                p.data.normal_(0.0, 0.02 / math.sqrt(2 * self.c["n_layer"]), generator=g)
            elif p.dim() == 2:
                p.data.normal_(0.0, 0.02, generator=g)
            elif "ln" in name and name.endswith("weight"):
                p.data.fill_(1.0)
            else:
                p.data.zero_()

    def forward(self, idx, targets=None):
        B, T = idx.shape
        x = self.drop(self.wte(idx) + self.wpe(torch.arange(T)))
        for blk in self.h:
            x = blk(x)
        logits = F.linear(self.ln_f(x), self.wte.weight)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
        return logits, loss


def adamw_groups(model, weight_decay):
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def lr_at(step, progress, lr, warmup, min_lr):
    """cformer's schedule: linear warm-up by step, then cosine over the progress in [0, 1]
    (step / steps, or elapsed / budget with a time budget)."""
    if step < warmup:
        return lr * (step + 1) / warmup
    t = min(1.0, max(0.0, progress))
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + math.cos(math.pi * t))


def char_vocab(text):
    """Same vocabulary as cformer's CharTokenizer: sorted distinct characters + 256 bytes."""
    chars = sorted(set(text))
    return {ch: i for i, ch in enumerate(chars)}, len(chars) + 256


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cmd_train(a):
    torch.manual_seed(a.seed)
    text = open(a.data, encoding="utf-8").read()
    stoi, vocab = char_vocab(text)
    data = torch.tensor([stoi[ch] for ch in text], dtype=torch.long)
    split = int(len(data) * (1.0 - a.val_fraction))
    train, val = data[:split], data[split:]
    c = dict(n_layer=a.n_layer, n_head=a.n_head, n_embd=a.n_embd, block_size=a.block_size,
             vocab_size=vocab, dropout=a.dropout, bias=True)
    model = GPT(c)
    model.init_weights(a.seed)
    opt = torch.optim.AdamW(adamw_groups(model, a.weight_decay), lr=a.lr, betas=(0.9, 0.95))

    def evaluate():
        model.eval()
        T = a.block_size
        n = min(a.eval_windows, (len(val) - 1) // T)
        losses = []
        with torch.no_grad():
            for i in range(0, n, a.batch):
                m = min(a.batch, n - i)
                x = torch.stack([val[(i + j) * T:(i + j + 1) * T] for j in range(m)])
                y = torch.stack([val[(i + j) * T + 1:(i + j + 1) * T + 1] for j in range(m)])
                _, loss = model(x, y)
                losses.append(loss.item() * m)
        model.train()
        return sum(losses) / n

    start = time.time()
    budget = a.minutes * 60.0
    step = 0
    while True:
        elapsed = time.time() - start
        if (a.steps and step >= a.steps) or (not a.steps and elapsed >= budget):
            break
        progress = step / a.steps if a.steps else elapsed / budget
        for g in opt.param_groups:
            g["lr"] = lr_at(step, progress, a.lr, a.warmup, a.lr * 0.1)
        ix = torch.randint(len(train) - a.block_size - 1, (a.batch,))
        x = torch.stack([train[i:i + a.block_size] for i in ix])
        y = torch.stack([train[i + 1:i + a.block_size + 1] for i in ix])
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step % a.log_every == 0:
            print(json.dumps({"step": step, "loss": loss.item(), "elapsed": time.time() - start}),
                  flush=True)
    val_loss = evaluate()
    print(json.dumps({"final": True, "steps": step, "val_loss": val_loss,
                      "elapsed": time.time() - start,
                      "tokens_per_s": step * a.batch * a.block_size / (time.time() - start)}),
          flush=True)


def cmd_bench(a):
    torch.manual_seed(0)
    c = dict(n_layer=a.n_layer, n_head=a.n_head, n_embd=a.n_embd, block_size=a.block_size,
             vocab_size=a.vocab, dropout=0.0, bias=True)
    model = GPT(c)
    model.init_weights(0)
    opt = torch.optim.AdamW(adamw_groups(model, 0.1), lr=1e-4)
    x = torch.randint(a.vocab, (a.batch, a.block_size))
    y = torch.randint(a.vocab, (a.batch, a.block_size))
    times = []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        if i >= a.warmup:
            times.append(dt)
    ms = 1000.0 * float(np.median(times))
    print(json.dumps({"impl": "pytorch", "torch": torch.__version__,
                      "threads": torch.get_num_threads(), "ms_per_step": ms,
                      "tokens_per_s": a.batch * a.block_size / (ms / 1000.0),
                      "peak_rss_mib": peak_rss_mib()}), flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=["train", "bench"])
    p.add_argument("--data", default="data/kjv.txt")
    p.add_argument("--n-layer", type=int, default=4)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--n-embd", type=int, default=256)
    p.add_argument("--block-size", type=int, default=128)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--vocab", type=int, default=256)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--steps", type=int, default=0)
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--eval-windows", type=int, default=256)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.cmd == "train":
        cmd_train(a)
    else:
        a.warmup, a.steps = 2, max(a.steps, 5)
        cmd_bench(a)


if __name__ == "__main__":
    main()
