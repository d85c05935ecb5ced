"""PyTorch side of bench/ops: times the same op cases and prints one JSON line per case.
Called by the bench executable: bench_torch_ops.py THREADS REPEATS [--clock=cpu] CASE_JSON..."""
import json
import sys
import time

import torch
import torch.nn.functional as F


def timeit(fn, repeats, clock=time.perf_counter):
    for _ in range(5):  # PyTorch reaches its steady state only after a few calls
        fn()
    ts = []
    for _ in range(repeats):
        t0 = clock()
        fn()
        ts.append(clock() - t0)
    ts.sort()
    return ts[len(ts) // 2]


def sdpa(q, k, v):
    T = q.shape[-2]
    att = (q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)
    att = att.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
    return att.softmax(-1) @ v


def make(case):
    op, s, mode = case["op"], case["shape"], case["mode"]
    g = torch.Generator().manual_seed(0)
    rnd = lambda *sh: torch.randn(*sh, generator=g).requires_grad_(mode == "fwd+bwd")
    if op == "matmul":
        a, b = rnd(s[0], s[1]), rnd(s[1], s[2])
        f = lambda: a @ b
    elif op == "softmax":
        x = rnd(*s)
        f = lambda: x.softmax(-1)
    elif op == "layer_norm":
        x, w, b = rnd(*s), rnd(s[-1]), rnd(s[-1])
        f = lambda: F.layer_norm(x, (s[-1],), w, b)
    elif op == "gelu":
        x = rnd(*s)
        f = lambda: F.gelu(x, approximate="tanh")
    elif op == "cross_entropy":
        x = rnd(*s)
        t = torch.randint(s[1], (s[0],), generator=g)
        f = lambda: F.cross_entropy(x, t)
    elif op == "scaled_dot_product_attention":
        q, k, v = rnd(*s), rnd(*s), rnd(*s)
        f = lambda: sdpa(q, k, v)
    # vision: pooling/resampling (s = the input (N, C, H, W); windows as in bench/ops.cpp)
    elif op == "max_pool2d":
        x = rnd(*s)
        f = lambda: F.max_pool2d(x, 2)
    elif op == "avg_pool2d":
        x = rnd(*s)
        f = lambda: F.avg_pool2d(x, 3, 2, 1)
    elif op == "adaptive_avg_pool2d":
        x = rnd(*s)
        f = lambda: F.adaptive_avg_pool2d(x, 1)
    elif op == "upsample_nearest2d":
        x = rnd(*s)
        f = lambda: F.interpolate(x, scale_factor=2.0, mode="nearest")
    elif op == "upsample_bilinear2d":
        x = rnd(*s)
        f = lambda: F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
    elif op == "unfold":
        x = rnd(*s)
        f = lambda: F.unfold(x, 3, 1, 1)
    elif op == "fold":
        x = rnd(s[0], s[1] * 9, s[2] * s[3])
        f = lambda: F.fold(x, (s[2], s[3]), 3, 1, 1)
    else:
        raise ValueError(op)
    if mode == "fwd":
        def run():
            with torch.no_grad():
                f()
        return run
    def run_bwd():
        y = f()
        y.backward(torch.ones_like(y))
    return run_bwd


def main():
    torch.set_num_threads(int(sys.argv[1]))
    repeats = int(sys.argv[2])
    # --clock=cpu: process CPU time (all threads), as bench/ops --clock cpu
    clock = time.process_time if "--clock=cpu" in sys.argv[3:] else time.perf_counter
    for arg in sys.argv[3:]:
        if arg.startswith("--"):
            continue
        case = json.loads(arg)
        sec = timeit(make(case), repeats, clock)
        print(json.dumps({"name": case["name"], "seconds": sec}), flush=True)


if __name__ == "__main__":
    main()
