"""block_sparse_attention (issue 7, effb). The PyTorch twin is dense masked attention:
softmax(q k^T * scale masked to the attended blocks of the layout (kron with a bs x bs block of
ones, cropped to L x S), minus padded keys and, when causal, keys j > i) @ v. Every case keeps at
least one key per query (block column 0 attended, key 0 never padded), where the dense form and
the block-sparse op agree (a query with no key is NaN densely and 0 in the op)."""
import math

import numpy as np
import torch

from golden import Family, randn, uniform


def element_mask(layout, bs, L, S):
    lay = layout if layout.dim() == 3 else layout.unsqueeze(0)
    m = torch.kron(lay.to(torch.int64), torch.ones(bs, bs, dtype=torch.int64)).bool()
    return m[:, :L, :S]  # (LH, L, S), broadcasts over (B, H)


def block_sparse(a, q, k, v, layout, *pad):
    bs = a["block_size"]
    L, S = q.size(-2), k.size(-2)
    scale = a["scale"] if a["scale"] is not None else 1.0 / math.sqrt(q.size(-1))
    keep = element_mask(layout, bs, L, S).unsqueeze(0)  # (1, LH, L, S)
    if a["is_causal"]:
        keep = keep & torch.ones(L, S, dtype=torch.bool).tril()
    if pad:
        keep = keep & ~pad[0][:, None, None, :]
    s = (q @ k.transpose(-2, -1) * scale).masked_fill(~keep, float("-inf"))
    return torch.softmax(s, -1) @ v


def linear_attn(a, q, k, v):
    """D^-1 (q (k^T v)); the causal form with explicit (L, M, Ev) prefix sums."""
    if a["is_causal"]:
        kv = torch.einsum("...sm,...se->...sme", k, v).cumsum(-3)
        num = torch.einsum("...lm,...lme->...le", q, kv)
        den = (q * k.cumsum(-2)).sum(-1, keepdim=True)
    else:
        num = q @ (k.transpose(-2, -1) @ v)
        den = q @ k.sum(-2).unsqueeze(-1)
    return num / den


def favor(x, w, is_query, eps):
    """softmax_kernel_transformation of the Performer code (max not detached)."""
    d, m = x.size(-1), w.size(0)
    xs = x * d ** -0.25
    dash = xs @ w.t()
    diag = (xs * xs).sum(-1, keepdim=True) / 2
    c = dash.amax(-1, keepdim=True)
    if not is_query:
        c = c.amax(-2, keepdim=True)
    return (torch.exp(dash - diag - c) + eps) * m ** -0.5


def performer(a, q, k, v, w):
    eps = a["eps"]
    return linear_attn(a, favor(q, w, True, eps), favor(k, w, False, eps), v)


def random_layout(rng, *shape, p=0.5):
    m = rng.random(shape) < p
    m[..., 0] = True
    return m


def pad_mask(rng, B, S, p=0.3):
    m = rng.random((B, S)) < p
    m[:, 0] = False
    return m


def build():
    f = Family("effattn_b")
    r = f.rng

    def case(name, q, k, v, layout, bs, pad=None, is_causal=False, scale=None, **kw):
        ins = [q, k, v, layout] + ([pad] if pad is not None else [])
        f.case(name, "block_sparse_attention", ins,
               {"block_size": bs, "is_causal": is_causal, "scale": scale}, block_sparse, **kw)

    g = r("small")
    case("small_shared_layout", randn(g, 1, 2, 6, 3), randn(g, 1, 2, 6, 3), randn(g, 1, 2, 6, 3),
         random_layout(g, 3, 3), 2)
    g = r("per_head")
    case("per_head_layout_tails", randn(g, 2, 2, 5, 3), randn(g, 2, 2, 7, 3), randn(g, 2, 2, 7, 2),
         random_layout(g, 2, 3, 4), 2)
    g = r("causal")
    case("causal_small", randn(g, 1, 2, 7, 3), randn(g, 1, 2, 7, 3), randn(g, 1, 2, 7, 3),
         random_layout(g, 3, 3, p=0.6), 3, is_causal=True)
    g = r("pad")
    case("padding_small", randn(g, 2, 1, 6, 3), randn(g, 2, 1, 8, 3), randn(g, 2, 1, 8, 3),
         random_layout(g, 2, 3), 3, pad=pad_mask(g, 2, 8))
    g = r("pad_causal")
    case("padding_causal_scale", randn(g, 2, 2, 5, 2), randn(g, 2, 2, 5, 2), randn(g, 2, 2, 5, 3),
         random_layout(g, 2, 3, 3), 2, pad=pad_mask(g, 2, 5), is_causal=True, scale=0.7)
    g = r("odd")
    case("odd_sizes", randn(g, 1, 3, 37, 15), randn(g, 1, 3, 41, 15), randn(g, 1, 3, 41, 17),
         random_layout(g, 3, 3, 3), 16, pad=pad_mask(g, 1, 41), atol=1e-4, grad_atol=1e-4)
    g = r("large")
    case("large_causal_per_head", randn(g, 2, 2, 70, 16), randn(g, 2, 2, 70, 16),
         randn(g, 2, 2, 70, 16), random_layout(g, 2, 5, 5, p=0.6), 16, is_causal=True,
         atol=1e-4, grad_atol=1e-4)
    g = r("one_block")
    case("single_block_dense", randn(g, 1, 1, 4, 3), randn(g, 1, 1, 5, 3), randn(g, 1, 1, 5, 2),
         np.ones((1, 1), dtype=bool), 8)

    def lin(name, q, k, v, is_causal=False, **kw):
        f.case(name, "linear_attention", [q, k, v], {"is_causal": is_causal}, linear_attn, **kw)

    g = r("lin_bi")
    lin("linear_bidirectional_3d", uniform(g, 0.1, 1, 2, 5, 4), uniform(g, 0.1, 1, 2, 7, 4),
        randn(g, 2, 7, 3))
    g = r("lin_causal")
    lin("linear_causal_4d", uniform(g, 0.1, 1, 1, 2, 6, 4), uniform(g, 0.1, 1, 1, 2, 6, 4),
        randn(g, 1, 2, 6, 3), is_causal=True)
    g = r("lin_chunks")
    lin("linear_causal_crosses_chunk", uniform(g, 0.1, 1, 1, 1, 70, 2),
        uniform(g, 0.1, 1, 1, 1, 70, 2), randn(g, 1, 1, 70, 1), is_causal=True)
    g = r("lin_large")
    lin("linear_causal_large", uniform(g, 0.1, 1, 2, 150, 17), uniform(g, 0.1, 1, 2, 150, 17),
        randn(g, 2, 150, 33), is_causal=True, atol=1e-4, grad_atol=1e-4)
    g = r("lin_large_bi")
    lin("linear_bidirectional_large", uniform(g, 0.1, 1, 1, 3, 33, 15),
        uniform(g, 0.1, 1, 1, 3, 47, 15), randn(g, 1, 3, 47, 17), atol=1e-4, grad_atol=1e-4)

    def perf(name, q, k, v, w, is_causal=False, eps=1e-6, **kw):
        f.case(name, "performer_attention", [q, k, v, w], {"is_causal": is_causal, "eps": eps},
               performer, **kw)

    g = r("perf_bi")
    perf("performer_bidirectional", randn(g, 1, 2, 5, 4), randn(g, 1, 2, 6, 4),
         randn(g, 1, 2, 6, 3), randn(g, 6, 4))
    g = r("perf_causal")
    perf("performer_causal", randn(g, 2, 1, 6, 3), randn(g, 2, 1, 6, 3), randn(g, 2, 1, 6, 2),
         randn(g, 5, 3), is_causal=True)
    g = r("perf_large")
    perf("performer_causal_large", randn(g, 1, 2, 80, 16), randn(g, 1, 2, 80, 16),
         randn(g, 1, 2, 80, 16), randn(g, 32, 16), is_causal=True, eps=1e-4, atol=1e-4,
         grad_atol=1e-4)

    def feat(name, x, w, is_query, eps=1e-6, **kw):
        f.case(name, "favor_features", [x, w], {"is_query": is_query, "eps": eps},
               lambda a, x, w: favor(x, w, a["is_query"], a["eps"]), **kw)

    g = r("favor_query")
    feat("favor_query_4d", randn(g, 1, 2, 5, 4), randn(g, 6, 4), True)
    g = r("favor_key")
    feat("favor_key_3d", randn(g, 2, 7, 3), randn(g, 5, 3), False, eps=1e-3)
    g = r("favor_key_2d")
    feat("favor_key_2d", randn(g, 9, 5), randn(g, 17, 5), False)
    g = r("favor_large")
    feat("favor_query_large", randn(g, 1, 3, 37, 15), randn(g, 33, 15), True, atol=1e-4,
         grad_atol=1e-4)
    feat("favor_key_large", randn(g, 2, 1, 41, 17), randn(g, 19, 17), False, atol=1e-4,
         grad_atol=1e-4)
    return f
