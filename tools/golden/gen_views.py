"""Views, copies and conversions."""
import torch

from golden import Family, randn


def build():
    f = Family("views")
    r = f.rng
    f.case("view_merge", "view", [randn(r("a"), 2, 3, 4)], {"shape": [6, -1]},
           lambda a, x: x.view(*a["shape"]))
    f.case("reshape_split", "reshape", [randn(r("b"), 6, 4)], {"shape": [2, 3, 2, 2]},
           lambda a, x: x.reshape(*a["shape"]))
    f.case("reshape_scalar", "reshape", [randn(r("b2"), 1, 1)], {"shape": []},
           lambda a, x: x.reshape(a["shape"]))
    f.case("permute_3d", "permute", [randn(r("c"), 2, 3, 4)], {"dims": [2, 0, 1]},
           lambda a, x: x.permute(*a["dims"]))
    f.case("transpose_neg", "transpose", [randn(r("d"), 2, 3, 4)], {"dim0": -1, "dim1": 0},
           lambda a, x: x.transpose(a["dim0"], a["dim1"]))
    f.case("slice_step", "slice", [randn(r("e"), 5, 7)], {"dim": 1, "start": 1, "end": 7, "step": 2},
           lambda a, x: x[:, 1:7:2])
    f.case("slice_negative", "slice", [randn(r("e2"), 6, 3)], {"dim": 0, "start": -4, "end": -1},
           lambda a, x: x[-4:-1])
    f.case("narrow_mid", "narrow", [randn(r("f"), 4, 6)], {"dim": 1, "start": 2, "length": 3},
           lambda a, x: x.narrow(1, 2, 3))
    f.case("select_neg", "select", [randn(r("g"), 3, 4, 5)], {"dim": 1, "index": -1},
           lambda a, x: x.select(1, -1))
    f.case("expand_lead", "expand", [randn(r("h"), 3, 1)], {"shape": [2, 3, 4]},
           lambda a, x: x.expand(*a["shape"]))
    f.case("squeeze_all", "squeeze", [randn(r("i"), 1, 3, 1, 2)], {},
           lambda a, x: x.squeeze())
    f.case("squeeze_dim", "squeeze", [randn(r("i2"), 3, 1, 2)], {"dim": 1},
           lambda a, x: x.squeeze(1))
    f.case("unsqueeze_end", "unsqueeze", [randn(r("j"), 3, 2)], {"dim": -1},
           lambda a, x: x.unsqueeze(-1))
    f.case("clone_3d", "clone", [randn(r("k"), 2, 3, 4)], {}, lambda a, x: x.clone())
    f.case("contiguous_t", "contiguous", [randn(r("l"), 3, 5)], {},
           lambda a, x: x.contiguous())
    f.case("to_roundtrip", "to", [randn(r("m"), 4, 3)], {},
           lambda a, x: x.to(torch.float64).to(torch.float32))
    return f
