"""Reductions: sum, mean, var, std, max, min, argmax, argmin, logsumexp, norm."""
import numpy as np
import torch

from golden import Family, away_from, distinct, ints, randn


def _dims(a):
    return a["dims"] if a["dims"] else None


def _sum(a, x):
    return x.sum(dim=a["dims"], keepdim=a["keepdim"]) if a["dims"] else x.sum()


def _mean(a, x):
    return x.mean(dim=a["dims"], keepdim=a["keepdim"]) if a["dims"] else x.mean()


def _var(a, x):
    return torch.var(x, dim=_dims(a), correction=a["correction"], keepdim=a["keepdim"])


def _std(a, x):
    return torch.std(x, dim=_dims(a), correction=a["correction"], keepdim=a["keepdim"])


def _extremum(fn):
    def run(a, x):
        if a.get("dim") is None:
            return fn(x)
        v, i = fn(x, a["dim"], keepdim=a["keepdim"])
        return v, i
    return run


def _arg(fn):
    return lambda a, x: fn(x, dim=a.get("dim"), keepdim=a["keepdim"])


def _p(a):
    p = a["p"]
    return float(p) if isinstance(p, str) else p


def _norm(a, x):
    return torch.linalg.vector_norm(x, ord=_p(a), dim=_dims(a), keepdim=a["keepdim"])


def build():
    f = Family("reduce")
    r = f.rng
    for op, fn in [("sum", _sum), ("mean", _mean)]:
        f.case(f"{op}_all", op, [randn(r(op + "1"), 3, 4, 5)], {"dims": [], "keepdim": False}, fn)
        f.case(f"{op}_last", op, [randn(r(op + "2"), 3, 7)], {"dims": [-1], "keepdim": False}, fn)
        f.case(f"{op}_first_keep", op, [randn(r(op + "3"), 6, 5)], {"dims": [0], "keepdim": True}, fn)
        f.case(f"{op}_outer_inner", op, [randn(r(op + "4"), 2, 3, 4, 5)], {"dims": [0, 2],
                                                                          "keepdim": False}, fn)
        f.case(f"{op}_middle", op, [randn(r(op + "5"), 2, 3, 4)], {"dims": [1], "keepdim": True}, fn)
        f.case(f"{op}_large_rows", op, [randn(r(op + "6"), 3, 10000)], {"dims": [1],
                                                                       "keepdim": False}, fn,
               atol=1e-3, rtol=1e-4)
        f.case(f"{op}_one_elem_dim", op, [randn(r(op + "7"), 4, 1, 3)], {"dims": [1, -1],
                                                                        "keepdim": True}, fn)
    f.case("sum_i64", "sum", [ints(r("si"), -50, 50, 5, 17)], {"dims": [0], "keepdim": False}, _sum)

    # var / std: edge shapes, corrections 0, 1, 2, negative and multiple dims.
    for op, fn in [("var", _var), ("std", _std)]:
        f.case(f"{op}_all", op, [randn(r(op + "1"), 3, 4, 5)],
               {"dims": [], "correction": 1, "keepdim": False}, fn)
        f.case(f"{op}_last_keep", op, [randn(r(op + "2"), 5, 17)],
               {"dims": [-1], "correction": 1, "keepdim": True}, fn)
        f.case(f"{op}_dim0_pop", op, [randn(r(op + "3"), 33, 6)],
               {"dims": [0], "correction": 0, "keepdim": False}, fn)
        f.case(f"{op}_two_dims", op, [randn(r(op + "4"), 2, 3, 4, 5)],
               {"dims": [0, -2], "correction": 2, "keepdim": False}, fn)
        f.case(f"{op}_middle", op, [randn(r(op + "5"), 3, 19, 5)],
               {"dims": [1], "correction": 1, "keepdim": False}, fn)
        f.case(f"{op}_long_rows", op, [randn(r(op + "6"), 3, 5000, scale=3.0) + 10.0],
               {"dims": [1], "correction": 1, "keepdim": False}, fn, atol=1e-4)

    # max / min over a dim (values and first index) and over everything (ties share the grad).
    for op, fn in [("max", torch.max), ("min", torch.min)]:
        ext = _extremum(fn)
        f.case(f"{op}_dim_last", op, [distinct(r(op + "1"), 4, 17)], {"dim": -1, "keepdim": False}, ext)
        f.case(f"{op}_dim0_keep", op, [distinct(r(op + "2"), 5, 3, 2)], {"dim": 0, "keepdim": True}, ext)
        f.case(f"{op}_dim_middle", op, [distinct(r(op + "3"), 2, 33, 3)], {"dim": 1, "keepdim": False}, ext)
        f.case(f"{op}_dim_size1", op, [distinct(r(op + "4"), 3, 1, 4)], {"dim": 1, "keepdim": False}, ext)
        f.case(f"{op}_all", op, [distinct(r(op + "5"), 3, 5, 7)], {"dim": None, "keepdim": False}, ext)
        ties = np.array([[1.0, 3.0, -2.0], [3.0, -2.0, 0.5]], dtype=np.float32)
        f.case(f"{op}_all_ties", op, [ties], {"dim": None, "keepdim": False}, ext, gradcheck=False)
        tied_rows = np.array([[1.0, 4.0, 4.0, -1.0], [-1.0, -1.0, 2.0, 2.0]], dtype=np.float32)
        f.case(f"{op}_dim_first_of_ties", op, [tied_rows], {"dim": 1, "keepdim": True}, ext,
               gradcheck=False)
        f.case(f"{op}_i64", op, [ints(r(op + "6"), -9, 9, 4, 6)], {"dim": 0, "keepdim": False}, ext)

    for op, fn in [("argmax", torch.argmax), ("argmin", torch.argmin)]:
        arg = _arg(fn)
        f.case(f"{op}_flat", op, [distinct(r(op + "1"), 3, 5, 7)], {"dim": None, "keepdim": False}, arg)
        f.case(f"{op}_flat_keep", op, [distinct(r(op + "2"), 3, 5)], {"dim": None, "keepdim": True}, arg)
        f.case(f"{op}_dim_neg", op, [distinct(r(op + "3"), 4, 19)], {"dim": -1, "keepdim": False}, arg)
        f.case(f"{op}_dim0_keep", op, [distinct(r(op + "4"), 6, 2, 3)], {"dim": 0, "keepdim": True}, arg)
        f.case(f"{op}_ties", op, [np.array([[2.0, 7.0, 7.0], [7.0, 2.0, 2.0]], dtype=np.float32)],
               {"dim": 1, "keepdim": False}, arg)
        f.case(f"{op}_i64", op, [ints(r(op + "5"), -3, 3, 5, 4)], {"dim": 1, "keepdim": False}, arg)

    def lse(a, x):
        return torch.logsumexp(x, dim=a["dims"], keepdim=a["keepdim"])

    f.case("logsumexp_last", "logsumexp", [randn(r("l1"), 5, 17)], {"dims": [-1], "keepdim": False}, lse)
    f.case("logsumexp_dim0_keep", "logsumexp", [randn(r("l2"), 7, 3, 2)], {"dims": [0], "keepdim": True}, lse)
    f.case("logsumexp_two_dims", "logsumexp", [randn(r("l3"), 2, 3, 4, 5)],
           {"dims": [1, 3], "keepdim": False}, lse)
    f.case("logsumexp_large_values", "logsumexp", [randn(r("l4"), 4, 33, scale=40.0) + 100.0],
           {"dims": [1], "keepdim": False}, lse, atol=1e-4)
    f.case("logsumexp_middle", "logsumexp", [randn(r("l5"), 3, 40, 18)], {"dims": [1], "keepdim": False},
           lse)
    f.case("logsumexp_long_rows", "logsumexp", [randn(r("l6"), 3, 3000)], {"dims": [-1], "keepdim": True},
           lse)

    for p, tag in [(2.0, "2"), (1.0, "1"), (3.0, "3"), (1.5, "1p5"), (0.5, "0p5"), ("inf", "inf"),
                   ("-inf", "neginf")]:
        x = distinct(r("n" + tag), 4, 9) if isinstance(p, str) else away_from(r("n" + tag), [0.0], 4, 9,
                                                                               margin=0.1)
        f.case(f"norm_p{tag}_last", "norm", [x], {"p": p, "dims": [-1], "keepdim": False}, _norm)
        f.case(f"norm_p{tag}_dim0_keep", "norm", [x.copy()], {"p": p, "dims": [0], "keepdim": True}, _norm)
    f.case("norm_all", "norm", [randn(r("na"), 3, 4, 5)], {"p": 2.0, "dims": [], "keepdim": False}, _norm)
    f.case("norm_two_dims", "norm", [randn(r("nb"), 2, 3, 4, 5)], {"p": 2.0, "dims": [0, 2], "keepdim": True},
           _norm)
    f.case("norm_p0", "norm", [away_from(r("nc"), [0.0], 3, 6)], {"p": 0.0, "dims": [1], "keepdim": False},
           _norm)
    zero_rows = randn(r("nd"), 3, 16)
    zero_rows[1] = 0.0
    f.case("norm_zero_row", "norm", [zero_rows], {"p": 2.0, "dims": [1], "keepdim": False}, _norm,
           gradcheck=False)
    f.case("norm_long_rows", "norm", [randn(r("ne"), 3, 4000)], {"p": 2.0, "dims": [1], "keepdim": False},
           _norm, atol=1e-4)
    f.case("norm_middle_p1", "norm", [randn(r("nf"), 3, 21, 18)], {"p": 1.0, "dims": [1], "keepdim": False},
           _norm, atol=1e-4)
    return f
