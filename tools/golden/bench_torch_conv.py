"""PyTorch side of bench/conv: times the same convolution cases and prints one JSON line per case.
Wall-clock and CPU-time medians (CPU time of the whole process, all threads).
Called by the bench executable: bench_torch_conv.py THREADS REPEATS CASE_JSON...
A case: {"name", "op": "conv2d" | "conv_transpose2d", "mode": "fwd" | "fwd+bwd", "N", "C", "O",
"H", "W", "k", "stride", "padding", "dilation", "groups", "output_padding"}."""
import json
import sys
import time

import torch
import torch.nn.functional as F


def timeit(fn, repeats):
    for _ in range(5):  # PyTorch reaches its steady state only after a few calls
        fn()
    ts, cs = [], []
    for _ in range(repeats):
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
        cs.append(time.process_time() - c0)
    ts.sort()
    cs.sort()
    return ts[len(ts) // 2], cs[len(cs) // 2]


def make(c):
    g = torch.Generator().manual_seed(0)
    bwd = c["mode"] == "fwd+bwd"
    rnd = lambda *sh: torch.randn(*sh, generator=g).requires_grad_(bwd)
    k, groups = c["k"], c["groups"]
    x = rnd(c["N"], c["C"], c["H"], c["W"])
    b = rnd(c["O"])
    if c["op"] == "conv2d":
        w = rnd(c["O"], c["C"] // groups, k, k)
        f = lambda: F.conv2d(x, w, b, c["stride"], c["padding"], c["dilation"], groups)
    elif c["op"] == "conv_transpose2d":
        w = rnd(c["C"], c["O"] // groups, k, k)
        f = lambda: F.conv_transpose2d(x, w, b, c["stride"], c["padding"], c["output_padding"],
                                       groups, c["dilation"])
    else:
        raise ValueError(c["op"])
    if not bwd:
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
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                      "mkldnn": torch.backends.mkldnn.is_available()}), flush=True)
    for arg in sys.argv[3:]:
        case = json.loads(arg)
        sec, cpu = timeit(make(case), repeats)
        print(json.dumps({"name": case["name"], "seconds": sec, "cpu_seconds": cpu}), flush=True)


if __name__ == "__main__":
    main()
