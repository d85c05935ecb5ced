"""Issue 7 (effa): memory_efficient_attention and longformer_attention. The twins are dense
attention written with torch ops: softmax(q k^T * scale + mask) v, the mask built with the same
rule as the op (causal j > i, key padding true = ignore; Longformer: window, dilation, globals)."""
import math

import numpy as np
import torch

from golden import Family, mask, randn


def dense(q, k, v, scale, keep):
    """softmax over the kept keys; keep: bool, broadcast to (..., L, S)."""
    s = (q @ k.transpose(-2, -1)) * scale
    return torch.softmax(s.masked_fill(~keep, float("-inf")), -1) @ v


def mea(a, q, k, v, *kpm):
    scale = a["scale"] if a["scale"] is not None else 1.0 / math.sqrt(q.size(-1))
    L, S = q.size(-2), k.size(-2)
    keep = torch.ones(L, S, dtype=torch.bool)
    if a["is_causal"]:
        keep = ~torch.ones(L, S, dtype=torch.bool).triu(1)
    keep = keep.expand(q.size(0), 1, L, S)
    if kpm:
        keep = keep & ~kpm[0][:, None, None, :]
    return dense(q, k, v, scale, keep)


def padding(rng, B, S, first_kept=True):
    """key_padding_mask (B, S), true = ignore, p = 0.3; key 0 is always kept (no empty rows)."""
    m = mask(rng, 0.3, B, S)
    if first_kept:
        m[:, 0] = False
    return m


def longformer(a, q, k, v, qg, kg, vg, glob, *kpm):
    """Dense twin: local rows over window + global keys (q, k, v), global rows over every key
    (qg, kg, vg), mixed per row with torch.where."""
    scale = a["scale"] if a["scale"] is not None else 1.0 / math.sqrt(q.size(-1))
    w, d = a["window"], a["dilation"]
    N = q.size(2)
    off = torch.arange(N)[None, :] - torch.arange(N)[:, None]
    band = (torch.remainder(off, d) == 0) & (off.abs() <= d * w)
    gk = glob[:, None, :]
    keep_local = (band[None] & ~gk) | gk
    keep_global = torch.ones(glob.size(0), N, N, dtype=torch.bool)
    if kpm:
        keep_local = keep_local & ~kpm[0][:, None, :]
        keep_global = keep_global & ~kpm[0][:, None, :]
    local = dense(q, k, v, scale, keep_local[:, None])
    global_rows = dense(qg, kg, vg, scale, keep_global[:, None])
    return torch.where(glob[:, None, :, None], global_rows, local)


def build():
    f = Family("effattn_a")
    r = f.rng

    def case(name, q, k, v, kpm=None, is_causal=False, scale=None, **kw):
        ins = [q, k, v] + ([kpm] if kpm is not None else [])
        f.case(name, "memory_efficient_attention", ins, {"is_causal": is_causal, "scale": scale},
               mea, **kw)

    g = r("mea_basic")
    case("mea_basic", randn(g, 1, 2, 5, 8), randn(g, 1, 2, 7, 8), randn(g, 1, 2, 7, 6))
    g = r("mea_causal_sq")
    case("mea_causal_square", randn(g, 2, 1, 6, 4), randn(g, 2, 1, 6, 4), randn(g, 2, 1, 6, 4),
         is_causal=True)
    g = r("mea_causal_tall")
    case("mea_causal_l_gt_s", randn(g, 1, 2, 7, 3), randn(g, 1, 2, 4, 3), randn(g, 1, 2, 4, 5),
         is_causal=True)
    g = r("mea_causal_wide")
    case("mea_causal_l_lt_s", randn(g, 1, 1, 3, 5), randn(g, 1, 1, 8, 5), randn(g, 1, 1, 8, 2),
         is_causal=True)
    g = r("mea_pad")
    case("mea_padding", randn(g, 2, 2, 4, 3), randn(g, 2, 2, 6, 3), randn(g, 2, 2, 6, 3),
         padding(g, 2, 6))
    g = r("mea_pad_causal")
    case("mea_padding_causal", randn(g, 2, 1, 5, 4), randn(g, 2, 1, 5, 4), randn(g, 2, 1, 5, 3),
         padding(g, 2, 5), is_causal=True, scale=0.7)
    g = r("mea_scale")
    case("mea_custom_scale", randn(g, 1, 2, 4, 6), randn(g, 1, 2, 5, 6), randn(g, 1, 2, 5, 4),
         scale=0.3)
    # Larger than one (64 x 128) tile in both directions; head dims not multiples of 16.
    g = r("mea_odd")
    case("mea_odd_tiles_padding", randn(g, 2, 3, 70, 20), randn(g, 2, 3, 150, 20),
         randn(g, 2, 3, 150, 17), padding(g, 2, 150), atol=1e-4, grad_atol=1e-4)
    g = r("mea_causal_big")
    case("mea_causal_tiles", randn(g, 1, 2, 131, 17), randn(g, 1, 2, 131, 17),
         randn(g, 1, 2, 131, 33), is_causal=True, atol=1e-4, grad_atol=1e-4)
    g = r("mea_causal_pad_big")
    case("mea_causal_padding_tiles", randn(g, 2, 1, 200, 9), randn(g, 2, 1, 140, 9),
         randn(g, 2, 1, 140, 7), padding(g, 2, 140), is_causal=True, atol=1e-4, grad_atol=1e-4)

    def lcase(name, B, H, N, E, Ev, w, d, globals_, pads=None, scale=None, **kw):
        g = r(name)
        ins = [randn(g, B, H, N, E), randn(g, B, H, N, E), randn(g, B, H, N, Ev),
               randn(g, B, H, N, E), randn(g, B, H, N, E), randn(g, B, H, N, Ev)]
        glob = np.zeros((B, N), dtype=bool)
        for b, idx in enumerate(globals_):
            glob[b, idx] = True
        ins.append(glob)
        if pads is not None:
            kpm = np.zeros((B, N), dtype=bool)
            for b, idx in enumerate(pads):
                kpm[b, idx] = True
            ins.append(kpm)
        f.case(name, "longformer_attention", ins,
               {"window": w, "dilation": d, "scale": scale}, longformer, **kw)

    # Padded cases keep an unpadded global token, so no row is empty (PyTorch would give NaN).
    lcase("lf_window", 1, 2, 9, 3, 3, 2, 1, [[]])
    lcase("lf_dilation", 1, 1, 10, 4, 4, 2, 2, [[]], scale=0.6)
    lcase("lf_global", 1, 2, 9, 3, 3, 1, 1, [[0, 5]])
    lcase("lf_global_padding", 2, 1, 10, 3, 3, 1, 1, [[0], [3, 7]], [[2, 6], [8, 9]])
    lcase("lf_dilation_global_padding", 1, 1, 12, 3, 3, 2, 3, [[4]], [[10, 11, 1]])
    lcase("lf_window_covers_all", 1, 1, 6, 4, 2, 10, 1, [[2]])
    lcase("lf_large", 2, 2, 40, 20, 17, 5, 2, [[0, 17, 39], [6]], [[3, 30, 31], [38, 39]],
          atol=1e-4, grad_atol=1e-4)
    return f
