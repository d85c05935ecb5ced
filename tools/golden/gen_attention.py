"""scaled_dot_product_attention. PyTorch 1.13 has no F.scaled_dot_product_attention: the twin is
the explicit formula of PyTorch 2's math path, softmax(q k^T * scale + mask) v, with
masked_fill(-inf) for bool masks and the triu-based causal mask."""
import math

import torch

from golden import Family, mask, randn


def sdpa(a, q, k, v, *m):
    scale = a["scale"] if a["scale"] is not None else 1.0 / math.sqrt(q.size(-1))
    s = q @ k.transpose(-2, -1) * scale
    L, S = s.shape[-2:]
    if a["is_causal"]:
        s = s.masked_fill(torch.ones(L, S, dtype=torch.bool).triu(1), float("-inf"))
    if m:
        s = s.masked_fill(~m[0], float("-inf")) if m[0].dtype == torch.bool else s + m[0]
    return torch.softmax(s, -1) @ v


def attend_mask(rng, *shape):
    """A bool mask (true = attend) with at least one key per query row."""
    m = mask(rng, 0.6, *shape)
    m[..., 0] = True
    return m


def build():
    f = Family("attention")
    r = f.rng

    def case(name, q, k, v, m=None, is_causal=False, scale=None, **kw):
        ins = [q, k, v] + ([m] if m is not None else [])
        f.case(name, "scaled_dot_product_attention", ins, {"is_causal": is_causal, "scale": scale},
               sdpa, **kw)

    g = r("basic")
    case("basic_4d", randn(g, 2, 2, 3, 4), randn(g, 2, 2, 5, 4), randn(g, 2, 2, 5, 3))
    g = r("2d")
    case("plain_2d", randn(g, 4, 3), randn(g, 5, 3), randn(g, 5, 2))
    g = r("bcast")
    case("broadcast_batch", randn(g, 2, 1, 3, 4), randn(g, 3, 5, 4), randn(g, 1, 3, 5, 2))
    g = r("bool_ls")
    case("bool_mask_broadcast", randn(g, 2, 3, 4, 5), randn(g, 2, 3, 6, 5), randn(g, 2, 3, 6, 3),
         attend_mask(g, 4, 6))
    g = r("bool_full")
    case("bool_mask_full", randn(g, 2, 2, 3, 4), randn(g, 2, 2, 5, 4), randn(g, 2, 2, 5, 3),
         attend_mask(g, 2, 2, 3, 5))
    g = r("float")
    case("float_mask", randn(g, 2, 3, 4), randn(g, 2, 5, 4), randn(g, 2, 5, 3), randn(g, 1, 3, 5))
    g = r("causal_sq")
    case("causal_square", randn(g, 2, 5, 4), randn(g, 2, 5, 4), randn(g, 2, 5, 3), is_causal=True)
    g = r("causal_wide")
    case("causal_l_lt_s", randn(g, 3, 4), randn(g, 6, 4), randn(g, 6, 5), is_causal=True)
    g = r("causal_tall")
    case("causal_l_gt_s", randn(g, 2, 6, 3), randn(g, 2, 4, 3), randn(g, 2, 4, 2), is_causal=True)
    g = r("scale")
    case("custom_scale", randn(g, 2, 3, 4), randn(g, 2, 5, 4), randn(g, 2, 5, 3), scale=0.3)
    g = r("odd")
    case("odd_sizes", randn(g, 1, 3, 17, 15), randn(g, 1, 3, 19, 15), randn(g, 1, 3, 19, 17),
         attend_mask(g, 1, 1, 17, 19), atol=1e-4, grad_atol=1e-4)
    g = r("large")
    case("large_causal", randn(g, 2, 4, 33, 16), randn(g, 2, 4, 33, 16), randn(g, 2, 4, 33, 16),
         is_causal=True, atol=1e-4, grad_atol=1e-4)
    return f
