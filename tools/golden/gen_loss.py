"""Losses: cross_entropy, nll_loss, mse_loss, binary_cross_entropy(_with_logits), kl_div."""
import numpy as np
import torch
import torch.nn.functional as F

from golden import Family, ints, randn, uniform

REDUCTIONS = ["none", "mean", "sum"]


def ce(a, x, t, *w):
    return F.cross_entropy(x, t, weight=w[0] if w else None, ignore_index=a["ignore_index"],
                           reduction=a["reduction"], label_smoothing=a["label_smoothing"])


def nll(a, x, t, *w):
    return F.nll_loss(x, t, weight=w[0] if w else None, ignore_index=a["ignore_index"],
                      reduction=a["reduction"])


def targets(rng, C, shape, ignore_index=None, p_ignore=0.0):
    t = ints(rng, 0, C, *shape)
    if ignore_index is not None and t.size:
        drop = rng.random(shape) < p_ignore
        t[drop] = ignore_index
        t.flat[0] = 0 if C > 0 else t.flat[0]  # keep one real target (a nonzero total weight)
    return t


def build():
    f = Family("loss")
    r = f.rng

    # ---------------------------------------------------------------- cross_entropy
    def ce_case(name, x, t, w=None, ignore_index=-100, reduction="mean", ls=0.0, **kw):
        ins = [x, t] + ([w] if w is not None else [])
        f.case(name, "cross_entropy", ins, {"ignore_index": ignore_index, "reduction": reduction,
                                            "label_smoothing": ls}, ce, grad=[0], **kw)

    for red in REDUCTIONS:
        g = r("ce_basic_" + red)
        ce_case(f"ce_basic_{red}", randn(g, 6, 7), ints(g, 0, 7, 6), reduction=red)
        g = r("ce_weight_" + red)
        ce_case(f"ce_weight_{red}", randn(g, 5, 9), ints(g, 0, 9, 5), w=uniform(g, 0.2, 2.0, 9),
                reduction=red)
        g = r("ce_ignore_" + red)
        ce_case(f"ce_ignore_{red}", randn(g, 8, 5), targets(g, 5, (8,), 3, 0.4), w=uniform(g, 0.2, 2.0, 5),
                ignore_index=3, reduction=red)
        g = r("ce_ls_" + red)
        ce_case(f"ce_ls_{red}", randn(g, 6, 11), targets(g, 11, (6,), -100, 0.3), reduction=red, ls=0.15)
        g = r("ce_ls_weight_" + red)
        ce_case(f"ce_ls_weight_ignore_{red}", randn(g, 7, 6), targets(g, 6, (7,), -1, 0.3),
                w=uniform(g, 0.2, 2.0, 6), ignore_index=-1, reduction=red, ls=0.3)
        g = r("ce_kdim_" + red)
        ce_case(f"ce_kdim_{red}", randn(g, 2, 5, 3, 4), targets(g, 5, (2, 3, 4), -100, 0.2),
                w=uniform(g, 0.5, 1.5, 5), reduction=red, ls=0.1)
    g = r("ce_1d")
    ce_case("ce_1d", randn(g, 13), np.array(4, dtype=np.int64))
    g = r("ce_1d_ls_none")
    ce_case("ce_1d_ls_none", randn(g, 9), np.array(8, dtype=np.int64), reduction="none", ls=0.4)
    g = r("ce_one_class")
    ce_case("ce_one_class", randn(g, 4, 1), np.zeros(4, dtype=np.int64), ls=0.2)
    g = r("ce_ls_full")
    ce_case("ce_ls_full", randn(g, 5, 4), ints(g, 0, 4, 5), reduction="sum", ls=1.0)
    g = r("ce_large")
    ce_case("ce_large", randn(g, 37, 1000, scale=3.0), targets(g, 1000, (37,), -100, 0.1),
            atol=1e-4, grad_atol=1e-5)
    g = r("ce_large_ls_weight")
    ce_case("ce_large_ls_weight", randn(g, 19, 1037, scale=2.0), targets(g, 1037, (19,), 5, 0.1),
            w=uniform(g, 0.1, 3.0, 1037), ignore_index=5, ls=0.1, atol=1e-4, grad_atol=1e-5)
    g = r("ce_kdim_large")
    ce_case("ce_kdim_large", randn(g, 3, 33, 37), targets(g, 33, (3, 37), -100, 0.1), reduction="sum",
            ls=0.05, atol=1e-3, rtol=1e-4)
    g = r("ce_all_ignored")
    ce_case("ce_all_ignored_mean", randn(g, 3, 4), np.full(3, -100, dtype=np.int64), gradcheck=False)
    ce_case("ce_empty_mean", np.zeros((0, 5), np.float32), np.zeros(0, np.int64), gradcheck=False)
    ce_case("ce_empty_sum", np.zeros((0, 5), np.float32), np.zeros(0, np.int64), reduction="sum",
            gradcheck=False)

    # ---------------------------------------------------------------- nll_loss
    def nll_case(name, x, t, w=None, ignore_index=-100, reduction="mean", **kw):
        ins = [x, t] + ([w] if w is not None else [])
        f.case(name, "nll_loss", ins, {"ignore_index": ignore_index, "reduction": reduction}, nll,
               grad=[0], **kw)

    def logp(g, *shape, dim=1):
        return torch.from_numpy(randn(g, *shape)).log_softmax(dim).numpy()

    for red in REDUCTIONS:
        g = r("nll_" + red)
        nll_case(f"nll_basic_{red}", logp(g, 6, 7), ints(g, 0, 7, 6), reduction=red)
        g = r("nll_w_" + red)
        nll_case(f"nll_weight_ignore_{red}", logp(g, 8, 5), targets(g, 5, (8,), 2, 0.3),
                 w=uniform(g, 0.2, 2.0, 5), ignore_index=2, reduction=red)
        g = r("nll_kdim_" + red)
        nll_case(f"nll_kdim_{red}", logp(g, 2, 4, 3, 5), targets(g, 4, (2, 3, 5), -100, 0.2),
                 w=uniform(g, 0.5, 1.5, 4), reduction=red)
    g = r("nll_1d")
    nll_case("nll_1d", logp(g, 6, dim=0), np.array(2, dtype=np.int64))
    g = r("nll_large")
    nll_case("nll_large", logp(g, 40, 1000), ints(g, 0, 1000, 40), reduction="sum")
    nll_case("nll_all_ignored_mean", logp(r("nll_ai"), 3, 4), np.full(3, -100, dtype=np.int64),
             gradcheck=False)

    # ---------------------------------------------------------------- mse_loss
    for red in REDUCTIONS:
        g = r("mse_" + red)
        f.case(f"mse_{red}", "mse_loss", [randn(g, 4, 7), randn(g, 4, 7)], {"reduction": red},
               lambda a, x, t: F.mse_loss(x, t, reduction=a["reduction"]))
    g = r("mse_large")
    f.case("mse_large", "mse_loss", [randn(g, 33, 1000), randn(g, 33, 1000)], {"reduction": "mean"},
           lambda a, x, t: F.mse_loss(x, t, reduction=a["reduction"]))
    f.case("mse_scalar", "mse_loss", [randn(r("mse_s")), randn(r("mse_s2"))], {"reduction": "sum"},
           lambda a, x, t: F.mse_loss(x, t, reduction=a["reduction"]))
    f.case("mse_empty_mean", "mse_loss", [np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32)],
           {"reduction": "mean"}, lambda a, x, t: F.mse_loss(x, t, reduction=a["reduction"]))

    # ---------------------------------------------------------------- binary_cross_entropy
    def bce(a, x, t, *w):
        return F.binary_cross_entropy(x, t, weight=w[0] if w else None, reduction=a["reduction"])

    for red in REDUCTIONS:
        g = r("bce_" + red)
        f.case(f"bce_{red}", "binary_cross_entropy", [uniform(g, 0.05, 0.95, 5, 6), uniform(g, 0, 1, 5, 6)],
               {"reduction": red}, bce)
        g = r("bce_w_" + red)
        f.case(f"bce_weight_{red}", "binary_cross_entropy",
               [uniform(g, 0.05, 0.95, 3, 4, 5), uniform(g, 0, 1, 3, 4, 5), uniform(g, 0.5, 2, 4, 5)],
               {"reduction": red}, bce, grad=[0, 1])
    g = r("bce_edges")
    f.case("bce_edges_no_grad", "binary_cross_entropy",
           [np.array([0.0, 1.0, 0.0, 1.0, 0.5], np.float32), np.array([1.0, 0.0, 0.0, 1.0, 0.5], np.float32)],
           {"reduction": "none"}, bce, grad=[])
    g = r("bce_large")
    f.case("bce_large", "binary_cross_entropy", [uniform(g, 0.02, 0.98, 40, 1000), uniform(g, 0, 1, 40, 1000)],
           {"reduction": "mean"}, bce, grad=[0])

    # ---------------------------------------------------------------- binary_cross_entropy_with_logits
    def bcel(a, x, t, *rest):
        rest = list(rest)
        w = rest.pop(0) if a["has_weight"] else None
        pw = rest.pop(0) if a["has_pos_weight"] else None
        return F.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw, reduction=a["reduction"])

    for red in REDUCTIONS:
        g = r("bcel_" + red)
        f.case(f"bcel_{red}", "binary_cross_entropy_with_logits", [randn(g, 5, 6, scale=3), uniform(g, 0, 1, 5, 6)],
               {"reduction": red, "has_weight": False, "has_pos_weight": False}, bcel)
        g = r("bcel_wpw_" + red)
        f.case(f"bcel_weight_pos_weight_{red}", "binary_cross_entropy_with_logits",
               [randn(g, 4, 3, 6, scale=3), uniform(g, 0, 1, 4, 3, 6), uniform(g, 0.5, 2, 3, 1),
                uniform(g, 0.5, 3, 6)],
               {"reduction": red, "has_weight": True, "has_pos_weight": True}, bcel, grad=[0, 1])
    g = r("bcel_pw_only")
    f.case("bcel_pos_weight_only", "binary_cross_entropy_with_logits",
           [randn(g, 7, 5, scale=2), uniform(g, 0, 1, 7, 5), uniform(g, 0.5, 3, 5)],
           {"reduction": "mean", "has_weight": False, "has_pos_weight": True}, bcel, grad=[0, 1])
    g = r("bcel_extreme")
    f.case("bcel_extreme_logits", "binary_cross_entropy_with_logits",
           [np.array([-120.0, -30.0, 0.0, 30.0, 120.0], np.float32), uniform(g, 0, 1, 5)],
           {"reduction": "none", "has_weight": False, "has_pos_weight": False}, bcel, gradcheck=False)
    g = r("bcel_large")
    f.case("bcel_large", "binary_cross_entropy_with_logits", [randn(g, 33, 1000), uniform(g, 0, 1, 33, 1000)],
           {"reduction": "sum", "has_weight": False, "has_pos_weight": False}, bcel, atol=1e-3)

    # ---------------------------------------------------------------- kl_div
    def kl(a, x, t):
        return F.kl_div(x, t, reduction=a["reduction"], log_target=a["log_target"])

    for red in REDUCTIONS + ["batchmean"]:
        g = r("kl_" + red)
        x = torch.from_numpy(randn(g, 4, 6)).log_softmax(1).numpy()
        t = torch.from_numpy(randn(g, 4, 6)).softmax(1).numpy()
        f.case(f"kl_{red}", "kl_div", [x, t], {"reduction": red, "log_target": False}, kl)
        lt = torch.from_numpy(randn(g, 4, 6)).log_softmax(1).numpy()
        f.case(f"kl_log_target_{red}", "kl_div", [x, lt], {"reduction": red, "log_target": True}, kl)
    g = r("kl_zero_target")
    x = randn(g, 3, 5)
    t = uniform(g, 0.1, 1.0, 3, 5)
    t[0, 1] = t[2, 3] = t[1, 0] = 0.0
    f.case("kl_zero_target_input_grad", "kl_div", [x, t], {"reduction": "sum", "log_target": False}, kl, grad=[0])
    f.case("kl_zero_target_both_grads", "kl_div", [x, t], {"reduction": "none", "log_target": False}, kl,
           gradcheck=False)
    f.case("kl_batchmean_3d", "kl_div", [randn(r("kl3"), 2, 3, 4), uniform(r("kl3t"), 0.1, 1, 2, 3, 4)],
           {"reduction": "batchmean", "log_target": False}, kl)
    f.case("kl_large", "kl_div", [randn(r("kl_l"), 30, 1000), uniform(r("kl_lt"), 0.01, 1, 30, 1000)],
           {"reduction": "batchmean", "log_target": False}, kl, atol=1e-3)
    return f
