"""Normalization: softmax, log_softmax, layer_norm, rms_norm, batch_norm."""
import numpy as np
import torch
import torch.nn.functional as F

from golden import Family, randn, uniform


def _softmax(a, x):
    return torch.softmax(x, a["dim"])


def _log_softmax(a, x):
    return torch.log_softmax(x, a["dim"])


def _layer_norm(a, x, *wb):
    wb = list(wb)
    w = wb.pop(0) if a["weight"] else None
    b = wb.pop(0) if a["bias"] else None
    return F.layer_norm(x, a["normalized_shape"], w, b, a["eps"])


def _rms_norm(a, x, *w):
    dims = tuple(range(-len(a["normalized_shape"]), 0))
    y = x * torch.rsqrt(x.pow(2).mean(dims, keepdim=True) + a["eps"])
    return y * w[0] if a["weight"] else y


def _batch_norm(a, x, *rest):
    rest = list(rest)
    rm = rest.pop(0) if a["running"] else None
    rv = rest.pop(0) if a["running"] else None
    w = rest.pop(0) if a["weight"] else None
    b = rest.pop(0) if a["bias"] else None
    y = F.batch_norm(x, rm, rv, w, b, a["training"], a["momentum"], a["eps"])
    return (y, rm, rv) if a["running"] else y


def build():
    f = Family("nn")
    r = f.rng
    for op, fn in [("softmax", _softmax), ("log_softmax", _log_softmax)]:
        f.case(f"{op}_last", op, [randn(r(op + "1"), 4, 17)], {"dim": -1}, fn)
        f.case(f"{op}_middle", op, [randn(r(op + "2"), 3, 5, 7)], {"dim": 1}, fn)
        f.case(f"{op}_dim0", op, [randn(r(op + "3"), 6, 19)], {"dim": 0}, fn)
        f.case(f"{op}_rows_33x100", op, [randn(r(op + "4"), 33, 100, scale=3.0)], {"dim": 1}, fn)
        f.case(f"{op}_large_values", op, [randn(r(op + "5"), 5, 40, scale=30.0) + 80.0], {"dim": -1}, fn,
               atol=1e-4)
        f.case(f"{op}_size1_dim", op, [randn(r(op + "6"), 5, 1)], {"dim": -1}, fn)
        f.case(f"{op}_4d_dim2", op, [randn(r(op + "7"), 2, 3, 17, 5)], {"dim": 2}, fn)
        f.case(f"{op}_long_rows", op, [randn(r(op + "8"), 3, 3000)], {"dim": -1}, fn)
    masked = randn(r("masked"), 4, 21)
    masked[:, 3::4] = -np.inf
    f.case("softmax_masked_neg_inf", "softmax", [masked], {"dim": -1}, _softmax, gradcheck=False)

    def ln(name, x, ns, weight, bias, eps=1e-5, **kw):
        inputs = [x]
        if weight:
            inputs.append(randn(r(name + "w"), *ns) + 1.0)
        if bias:
            inputs.append(randn(r(name + "b"), *ns))
        f.case(name, "layer_norm", inputs, {"normalized_shape": list(ns), "weight": weight, "bias": bias,
                                            "eps": eps}, _layer_norm, **kw)

    ln("layer_norm_affine", randn(r("ln1"), 4, 10), (10,), True, True)
    ln("layer_norm_two_dims", randn(r("ln2"), 2, 3, 8), (3, 8), True, True)
    ln("layer_norm_plain", randn(r("ln3"), 5, 17), (17,), False, False)
    ln("layer_norm_weight_only", randn(r("ln4"), 3, 2, 9), (9,), True, False, eps=1e-3)
    ln("layer_norm_bias_only", randn(r("ln5"), 6, 7), (7,), False, True)
    ln("layer_norm_rows_37x100", randn(r("ln6"), 37, 100), (100,), True, True, atol=1e-4)
    # Mean 50, std 0.1: PyTorch's own f32 result is off by 1.3e-4 from the exact one here.
    ln("layer_norm_offset", randn(r("ln7"), 9, 33, scale=0.1) + 50.0, (33,), True, True, atol=4e-4,
       grad_atol=2e-3)
    ln("layer_norm_size1", randn(r("ln8"), 5, 1), (1,), True, True)
    ln("layer_norm_wide_1000", randn(r("ln9"), 3, 1000), (1000,), True, True, atol=1e-4)

    def rms(name, x, ns, weight, eps=1e-6, **kw):
        inputs = [x] + ([randn(r(name + "w"), *ns) + 1.0] if weight else [])
        f.case(name, "rms_norm", inputs, {"normalized_shape": list(ns), "weight": weight, "eps": eps},
               _rms_norm, **kw)

    rms("rms_norm_affine", randn(r("rn1"), 4, 10), (10,), True)
    rms("rms_norm_two_dims", randn(r("rn2"), 2, 3, 8), (3, 8), True)
    rms("rms_norm_plain", randn(r("rn3"), 5, 17), (17,), False, eps=1e-5)
    rms("rms_norm_rows_37x100", randn(r("rn4"), 37, 100), (100,), True, atol=1e-4)
    rms("rms_norm_size1", randn(r("rn5"), 6, 1), (1,), True)
    rms("rms_norm_wide_1000", randn(r("rn6"), 3, 1000), (1000,), True, atol=1e-4)

    def bn(name, x, training, running=True, weight=True, bias=True, momentum=0.1, eps=1e-5, **kw):
        C = x.shape[1]
        inputs, grad = [x], [0]
        if running:
            inputs += [randn(r(name + "rm"), C), uniform(r(name + "rv"), 0.5, 2.0, C)]
        if weight:
            grad.append(len(inputs))
            inputs.append(randn(r(name + "w"), C) + 1.0)
        if bias:
            grad.append(len(inputs))
            inputs.append(randn(r(name + "b"), C))
        f.case(name, "batch_norm", inputs, {"training": training, "running": running, "weight": weight,
                                            "bias": bias, "momentum": momentum, "eps": eps},
               _batch_norm, grad=grad, **kw)

    bn("batch_norm_train_2d", randn(r("bn1"), 8, 5), True)
    bn("batch_norm_train_3d", randn(r("bn2"), 4, 3, 5), True, momentum=0.3)
    bn("batch_norm_train_4d", randn(r("bn3"), 2, 3, 4, 4), True)
    bn("batch_norm_train_no_running", randn(r("bn4"), 6, 4, 3), True, running=False)
    bn("batch_norm_train_plain", randn(r("bn5"), 5, 3, 2), True, weight=False, bias=False)
    bn("batch_norm_eval", randn(r("bn6"), 4, 3, 5), False)
    bn("batch_norm_eval_plain", randn(r("bn7"), 6, 4), False, weight=False, bias=False)
    bn("batch_norm_train_large", randn(r("bn8"), 16, 7, 33, scale=2.0) + 3.0, True, atol=1e-4,
       grad_atol=1e-3)
    bn("batch_norm_eval_large", randn(r("bn9"), 8, 6, 40), False, atol=1e-4)
    return f
