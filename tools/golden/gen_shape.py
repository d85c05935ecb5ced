"""Shape and indexing: cat, stack, split, chunk, gather, scatter_add, index_select, index_add,
repeat, tril, triu, flip, pad, topk, sort, cumsum, arange, linspace, embedding, one_hot."""
import numpy as np
import torch
import torch.nn.functional as F

from golden import Family, distinct, ints, randn

_DT = {"f32": torch.float32, "f64": torch.float64, "i64": torch.int64}


def idx(values):
    return np.array(values, dtype=np.int64)


def _cat(f, r):
    f.case("cat_dim0", "cat", [randn(r("c1"), 2, 3), randn(r("c2"), 4, 3)], {"dim": 0},
           lambda a, *xs: torch.cat(xs, a["dim"]))
    f.case("cat_neg_dim", "cat", [randn(r("c3"), 2, 3, 4), randn(r("c4"), 2, 5, 4),
                                  randn(r("c5"), 2, 1, 4)], {"dim": -2},
           lambda a, *xs: torch.cat(xs, a["dim"]))
    f.case("cat_last_odd", "cat", [randn(r("c6"), 3, 17), randn(r("c7"), 3, 15)], {"dim": 1},
           lambda a, *xs: torch.cat(xs, a["dim"]))
    f.case("cat_empty_piece", "cat", [randn(r("c8"), 2, 3), randn(r("c9"), 0, 3),
                                      randn(r("c10"), 1, 3)], {"dim": 0},
           lambda a, *xs: torch.cat(xs, a["dim"]))
    f.case("cat_legacy_empty", "cat", [randn(r("c11"), 2, 3), randn(r("c12"), 0),
                                       randn(r("c13"), 1, 3)], {"dim": 0},
           lambda a, *xs: torch.cat(xs, a["dim"]))
    f.case("cat_single", "cat", [randn(r("c14"), 5)], {"dim": 0},
           lambda a, *xs: torch.cat(xs, a["dim"]))
    f.case("cat_large", "cat", [randn(r("c15"), 8, 64, 33), randn(r("c16"), 8, 64, 70)],
           {"dim": 2}, lambda a, *xs: torch.cat(xs, a["dim"]))
    f.case("cat_i64", "cat", [ints(r("c17"), -5, 5, 2, 3), ints(r("c18"), -5, 5, 2, 2)],
           {"dim": 1}, lambda a, *xs: torch.cat(xs, a["dim"]))


def _stack_split(f, r):
    f.case("stack_dim0", "stack", [randn(r("s1"), 2, 3), randn(r("s2"), 2, 3), randn(r("s3"), 2, 3)],
           {"dim": 0}, lambda a, *xs: torch.stack(xs, a["dim"]))
    f.case("stack_last", "stack", [randn(r("s4"), 3, 4), randn(r("s5"), 3, 4)], {"dim": -1},
           lambda a, *xs: torch.stack(xs, a["dim"]))
    f.case("stack_mid", "stack", [randn(r("s6"), 2, 3, 4), randn(r("s7"), 2, 3, 4)], {"dim": 1},
           lambda a, *xs: torch.stack(xs, a["dim"]))
    f.case("stack_large", "stack", [randn(r("s8"), 33, 65), randn(r("s9"), 33, 65)], {"dim": 1},
           lambda a, *xs: torch.stack(xs, a["dim"]))
    f.case("split_even", "split", [randn(r("p1"), 6, 4)], {"split_size": 2, "dim": 0},
           lambda a, x: torch.split(x, a["split_size"], a["dim"]))
    f.case("split_uneven_neg", "split", [randn(r("p2"), 3, 7)], {"split_size": 3, "dim": -1},
           lambda a, x: torch.split(x, a["split_size"], a["dim"]))
    f.case("split_sizes", "split", [randn(r("p3"), 4, 9)], {"sizes": [2, 0, 7], "dim": 1},
           lambda a, x: torch.split(x, a["sizes"], a["dim"]))
    f.case("split_bigger_than_dim", "split", [randn(r("p4"), 3, 2)], {"split_size": 5, "dim": 0},
           lambda a, x: torch.split(x, a["split_size"], a["dim"]))
    f.case("split_qkv", "split", [randn(r("p5"), 2, 5, 48)], {"split_size": 16, "dim": 2},
           lambda a, x: torch.split(x, a["split_size"], a["dim"]), noncontig=True)
    f.case("chunk_uneven", "chunk", [randn(r("h1"), 5, 3)], {"chunks": 3, "dim": 0},
           lambda a, x: torch.chunk(x, a["chunks"], a["dim"]))
    f.case("chunk_fewer_pieces", "chunk", [randn(r("h2"), 6, 2)], {"chunks": 4, "dim": 0},
           lambda a, x: torch.chunk(x, a["chunks"], a["dim"]))
    f.case("chunk_neg_dim", "chunk", [randn(r("h3"), 2, 3, 7)], {"chunks": 2, "dim": -1},
           lambda a, x: torch.chunk(x, a["chunks"], a["dim"]))
    f.case("chunk_empty_dim", "chunk", [randn(r("h4"), 0, 3)], {"chunks": 3, "dim": 0},
           lambda a, x: torch.chunk(x, a["chunks"], a["dim"]))


def _index(f, r):
    f.case("gather_dim0", "gather", [randn(r("g1"), 4, 5), ints(r("g2"), 0, 4, 3, 5)], {"dim": 0},
           lambda a, x, i: torch.gather(x, a["dim"], i))
    f.case("gather_dim1_smaller", "gather", [randn(r("g3"), 3, 6), ints(r("g4"), 0, 6, 2, 4)],
           {"dim": 1}, lambda a, x, i: torch.gather(x, a["dim"], i))
    f.case("gather_neg_dim_longer", "gather", [randn(r("g5"), 2, 3, 4), ints(r("g6"), 0, 4, 2, 3, 5)],
           {"dim": -1}, lambda a, x, i: torch.gather(x, a["dim"], i))
    f.case("gather_large", "gather", [randn(r("g7"), 64, 100), ints(r("g8"), 0, 100, 64, 50)],
           {"dim": 1}, lambda a, x, i: torch.gather(x, a["dim"], i))
    f.case("gather_i64", "gather", [ints(r("g9"), -9, 9, 3, 4), ints(r("g10"), 0, 3, 2, 4)],
           {"dim": 0}, lambda a, x, i: torch.gather(x, a["dim"], i))
    f.case("scatter_add_dim0_repeats", "scatter_add",
           [randn(r("t1"), 4, 5), ints(r("t2"), 0, 4, 6, 5), randn(r("t3"), 6, 5)], {"dim": 0},
           lambda a, x, i, s: torch.scatter_add(x, a["dim"], i, s))
    f.case("scatter_add_dim1", "scatter_add",
           [randn(r("t4"), 3, 4), ints(r("t5"), 0, 4, 3, 6), randn(r("t6"), 3, 6)], {"dim": 1},
           lambda a, x, i, s: torch.scatter_add(x, a["dim"], i, s))
    f.case("scatter_add_neg_dim_3d", "scatter_add",
           [randn(r("t7"), 2, 3, 4), ints(r("t8"), 0, 3, 2, 3, 4), randn(r("t9"), 2, 3, 4)],
           {"dim": -2}, lambda a, x, i, s: torch.scatter_add(x, a["dim"], i, s))
    # index smaller than src: PyTorch cannot differentiate src there, so only x is checked.
    f.case("scatter_add_small_index", "scatter_add",
           [randn(r("t10"), 3, 4), ints(r("t11"), 0, 3, 2, 2), randn(r("t12"), 3, 3)], {"dim": 0},
           lambda a, x, i, s: torch.scatter_add(x, a["dim"], i, s), grad=[0])
    f.case("scatter_add_large", "scatter_add",
           [randn(r("t13"), 50, 70), ints(r("t14"), 0, 50, 80, 70), randn(r("t15"), 80, 70)],
           {"dim": 0}, lambda a, x, i, s: torch.scatter_add(x, a["dim"], i, s))
    f.case("index_select_dim0", "index_select", [randn(r("i1"), 5, 4), idx([4, 0, 0, 2])],
           {"dim": 0}, lambda a, x, i: torch.index_select(x, a["dim"], i))
    f.case("index_select_neg_dim", "index_select", [randn(r("i2"), 3, 7), idx([6, 1, 3])],
           {"dim": -1}, lambda a, x, i: torch.index_select(x, a["dim"], i))
    f.case("index_select_scalar_index", "index_select", [randn(r("i3"), 4, 3), idx(2)],
           {"dim": 0}, lambda a, x, i: torch.index_select(x, a["dim"], i))
    f.case("index_select_empty", "index_select", [randn(r("i4"), 4, 3), idx([])], {"dim": 0},
           lambda a, x, i: torch.index_select(x, a["dim"], i))
    f.case("index_select_large", "index_select", [randn(r("i5"), 100, 37), ints(r("i6"), 0, 100, 250)],
           {"dim": 0}, lambda a, x, i: torch.index_select(x, a["dim"], i))
    f.case("index_add_dim0_repeats", "index_add",
           [randn(r("a1"), 5, 3), idx([0, 2, 0, 4, 2]), randn(r("a2"), 5, 3)], {"dim": 0},
           lambda a, x, i, s: torch.index_add(x, a["dim"], i, s))
    f.case("index_add_alpha_neg_dim", "index_add",
           [randn(r("a3"), 3, 6), idx([5, 1, 1]), randn(r("a4"), 3, 3)], {"dim": -1, "alpha": -2.5},
           lambda a, x, i, s: torch.index_add(x, a["dim"], i, s, alpha=a["alpha"]))
    f.case("index_add_3d", "index_add",
           [randn(r("a5"), 2, 4, 3), idx([3, 3, 0]), randn(r("a6"), 2, 3, 3)], {"dim": 1},
           lambda a, x, i, s: torch.index_add(x, a["dim"], i, s))
    f.case("index_add_large", "index_add",
           [randn(r("a7"), 60, 70), ints(r("a8"), 0, 60, 90), randn(r("a9"), 90, 70)],
           {"dim": 0, "alpha": 0.5}, lambda a, x, i, s: torch.index_add(x, a["dim"], i, s, alpha=a["alpha"]))


def _copies(f, r):
    f.case("repeat_2d", "repeat", [randn(r("r1"), 2, 3)], {"repeats": [2, 3]},
           lambda a, x: x.repeat(*a["repeats"]))
    f.case("repeat_lead_dims", "repeat", [randn(r("r2"), 3)], {"repeats": [2, 1, 2]},
           lambda a, x: x.repeat(*a["repeats"]))
    f.case("repeat_zero", "repeat", [randn(r("r3"), 2, 2)], {"repeats": [0, 2]},
           lambda a, x: x.repeat(*a["repeats"]))
    f.case("repeat_large", "repeat", [randn(r("r4"), 17, 33)], {"repeats": [2, 3]},
           lambda a, x: x.repeat(*a["repeats"]))
    for name, shape, diag in [("square", (5, 5), 0), ("rect_pos", (4, 6), 2),
                              ("batched_neg", (2, 3, 5, 4), -1), ("large", (40, 70), 0)]:
        f.case(f"tril_{name}", "tril", [randn(r("l" + name), *shape)], {"diagonal": diag},
               lambda a, x: torch.tril(x, a["diagonal"]))
    for name, shape, diag in [("square", (5, 5), 0), ("rect_neg", (6, 4), -2),
                              ("batched_pos", (3, 4, 7), 3), ("large", (70, 40), 1)]:
        f.case(f"triu_{name}", "triu", [randn(r("u" + name), *shape)], {"diagonal": diag},
               lambda a, x: torch.triu(x, a["diagonal"]))
    f.case("flip_one", "flip", [randn(r("f1"), 3, 4)], {"dims": [0]},
           lambda a, x: torch.flip(x, a["dims"]))
    f.case("flip_many_neg", "flip", [randn(r("f2"), 2, 3, 4)], {"dims": [0, -1]},
           lambda a, x: torch.flip(x, a["dims"]))
    f.case("flip_1d", "flip", [randn(r("f3"), 5)], {"dims": [0]},
           lambda a, x: torch.flip(x, a["dims"]))
    f.case("flip_large", "flip", [randn(r("f4"), 33, 65)], {"dims": [1]},
           lambda a, x: torch.flip(x, a["dims"]))
    f.case("flip_none", "flip", [randn(r("f5"), 3, 2)], {"dims": []},
           lambda a, x: torch.flip(x, a["dims"]))


def _pad(f, r):
    cases = [
        ("constant_last", (2, 3, 5), [1, 2], "constant", 0.5),
        ("constant_two_dims", (2, 3, 5), [2, 0, 1, 3], "constant", 0.0),
        ("constant_crop", (3, 6), [-1, 2, 1, -2], "constant", 1.5),
        ("constant_three_dims", (2, 3, 4), [1, 1, 1, 1, 1, 1], "constant", -1.0),
        ("constant_large", (8, 100, 33), [3, 4], "constant", 0.0),
        ("reflect_1d", (2, 3, 6), [2, 3], "reflect", 0.0),
        ("reflect_2d", (1, 2, 4, 5), [1, 2, 3, 1], "reflect", 0.0),
        ("replicate_1d", (2, 3, 5), [3, 1], "replicate", 0.0),
        ("replicate_2d", (1, 2, 3, 4), [2, 2, 1, 0], "replicate", 0.0),
        ("replicate_3d", (1, 1, 2, 3, 4), [1, 1, 1, 1, 1, 1], "replicate", 0.0),
        ("circular_1d", (2, 2, 5), [2, 3], "circular", 0.0),
        ("circular_2d", (1, 2, 3, 4), [1, 2, 3, 1], "circular", 0.0),
        ("reflect_large", (4, 16, 100), [7, 9], "reflect", 0.0),
        ("reflect_crop", (2, 3, 6), [-1, 2], "reflect", 0.0),
        ("replicate_crop", (1, 2, 3, 5), [2, -1, -1, 1], "replicate", 0.0),
    ]
    for name, shape, p, mode, value in cases:
        f.case(f"pad_{name}", "pad", [randn(r("pad" + name), *shape)],
               {"pad": p, "mode": mode, "value": value},
               lambda a, x: F.pad(x, a["pad"], mode=a["mode"], value=a["value"])
               if a["mode"] == "constant" else F.pad(x, a["pad"], mode=a["mode"]))


def _sort(f, r):
    f.case("topk_last", "topk", [distinct(r("k1"), 4, 9)], {"k": 3},
           lambda a, x: torch.topk(x, a["k"]))
    f.case("topk_smallest_dim0", "topk", [distinct(r("k2"), 7, 5)],
           {"k": 2, "dim": 0, "largest": False}, lambda a, x: torch.topk(x, 2, 0, largest=False))
    f.case("topk_all", "topk", [distinct(r("k3"), 6)], {"k": 6},
           lambda a, x: torch.topk(x, a["k"]))
    f.case("topk_mid_dim", "topk", [distinct(r("k4"), 3, 8, 4)], {"k": 4, "dim": 1},
           lambda a, x: torch.topk(x, 4, 1))
    f.case("topk_large", "topk", [distinct(r("k5"), 16, 300)], {"k": 10},
           lambda a, x: torch.topk(x, a["k"]))
    f.case("topk_i64", "topk", [r("k6").permutation(24).reshape(4, 6).astype(np.int64)],
           {"k": 2, "largest": False}, lambda a, x: torch.topk(x, 2, largest=False))
    f.case("sort_last", "sort", [distinct(r("o1"), 4, 9)], {},
           lambda a, x: torch.sort(x, stable=True))
    f.case("sort_desc_dim0", "sort", [distinct(r("o2"), 6, 5)], {"dim": 0, "descending": True},
           lambda a, x: torch.sort(x, dim=0, descending=True, stable=True))
    f.case("sort_mid_dim", "sort", [distinct(r("o3"), 2, 7, 3)], {"dim": 1},
           lambda a, x: torch.sort(x, dim=1, stable=True))
    f.case("sort_large", "sort", [distinct(r("o4"), 8, 1000)], {"descending": True},
           lambda a, x: torch.sort(x, descending=True, stable=True))
    f.case("sort_ties_i64", "sort", [ints(r("o5"), 0, 3, 4, 10)], {},
           lambda a, x: torch.sort(x, stable=True))
    f.case("sort_ties_desc_i64", "sort", [ints(r("o6"), 0, 3, 4, 10)], {"descending": True},
           lambda a, x: torch.sort(x, descending=True, stable=True))
    ties = np.round(randn(r("o7"), 3, 8) * 2) / 2
    f.case("sort_ties_float", "sort", [ties.astype(np.float32)], {"descending": True},
           lambda a, x: torch.sort(x, descending=True, stable=True), grad=[])


def _cumsum(f, r):
    f.case("cumsum_last", "cumsum", [randn(r("m1"), 3, 7)], {"dim": -1},
           lambda a, x: torch.cumsum(x, a["dim"]))
    f.case("cumsum_dim0", "cumsum", [randn(r("m2"), 5, 4)], {"dim": 0},
           lambda a, x: torch.cumsum(x, a["dim"]))
    f.case("cumsum_mid", "cumsum", [randn(r("m3"), 2, 6, 3)], {"dim": 1},
           lambda a, x: torch.cumsum(x, a["dim"]))
    f.case("cumsum_scalar", "cumsum", [randn(r("m4"))], {"dim": 0},
           lambda a, x: torch.cumsum(x, a["dim"]))
    f.case("cumsum_long_rows", "cumsum", [randn(r("m5"), 4, 2000)], {"dim": 1},
           lambda a, x: torch.cumsum(x, a["dim"]), atol=1e-4, grad_atol=1e-3)
    f.case("cumsum_long_cols", "cumsum", [randn(r("m6"), 300, 70)], {"dim": 0},
           lambda a, x: torch.cumsum(x, a["dim"]), atol=1e-4, grad_atol=1e-3)
    f.case("cumsum_i64", "cumsum", [ints(r("m7"), -9, 9, 3, 5)], {"dim": 1},
           lambda a, x: torch.cumsum(x, a["dim"]))


def _factories(f):
    def ar(a):
        if "start" not in a:
            return torch.arange(a["end"])
        kw = {"dtype": _DT[a["dtype"]]} if "dtype" in a else {}
        return torch.arange(a["start"], a["end"], a.get("step", 1), **kw)

    for name, args in [("int", {"start": 0, "end": 10, "step": 3}),
                       ("float", {"start": -1.3, "end": 2.9, "step": 0.3}),
                       ("neg_step", {"start": 5, "end": -3, "step": -2}),
                       ("end_only", {"end": 7}),
                       ("half_step", {"start": 1, "end": 2.5, "step": 0.5}),
                       ("empty", {"start": 3, "end": 3, "step": 1}),
                       ("dtype_f32", {"start": 0, "end": 10, "step": 1, "dtype": "f32"}),
                       ("dtype_f64", {"start": 0.5, "end": 4, "step": 0.25, "dtype": "f64"}),
                       ("long", {"start": -2.5, "end": 1000.25, "step": 0.75})]:
        f.case(f"arange_{name}", "arange", [], args, lambda a: ar(a))
    for name, args in [("basic", {"start": 0, "end": 1, "steps": 5}),
                       ("neg", {"start": -3.7, "end": 2.2, "steps": 7}),
                       ("one", {"start": 2.5, "end": 9, "steps": 1}),
                       ("zero", {"start": 0, "end": 1, "steps": 0}),
                       ("many", {"start": 0.1, "end": 0.9, "steps": 1000}),
                       ("desc", {"start": 1, "end": -1, "steps": 4}),
                       ("i64", {"start": 0, "end": 10, "steps": 5, "dtype": "i64"}),
                       ("f64", {"start": -1, "end": 3, "steps": 9, "dtype": "f64"})]:
        f.case(f"linspace_{name}", "linspace", [], args,
               lambda a: torch.linspace(a["start"], a["end"], a["steps"],
                                        dtype=_DT[a.get("dtype", "f32")]))


def _embedding(f, r):
    def emb(a, i, w):
        return F.embedding(i, w, padding_idx=a.get("padding_idx"))

    f.case("embedding_basic", "embedding", [ints(r("e1"), 0, 10, 2, 3), randn(r("e2"), 10, 4)], {}, emb)
    f.case("embedding_repeated", "embedding", [idx([1, 1, 3, 1, 0]), randn(r("e3"), 5, 3)], {}, emb)
    # The padding row's gradient is zero by definition, not the derivative: parity only.
    f.case("embedding_padding", "embedding",
           [idx([[2, 0, 2, 5], [1, 2, 3, 3], [4, 4, 2, 0]]), randn(r("e4"), 6, 5)],
           {"padding_idx": 2}, emb, gradcheck=False)
    f.case("embedding_neg_padding", "embedding", [idx([3, 0, 3, 1]), randn(r("e5"), 4, 3)],
           {"padding_idx": -1}, emb, gradcheck=False)
    f.case("embedding_scalar_index", "embedding", [idx(2), randn(r("e6"), 4, 7)], {}, emb)
    f.case("embedding_empty", "embedding", [idx([]), randn(r("e7"), 5, 3)], {}, emb)
    f.case("embedding_large", "embedding", [ints(r("e8"), 0, 500, 8, 64), randn(r("e9"), 500, 48)],
           {}, emb)
    f.case("one_hot_infer", "one_hot", [idx([0, 3, 1, 3])], {},
           lambda a, i: F.one_hot(i))
    f.case("one_hot_given", "one_hot", [ints(r("e10"), 0, 4, 2, 3)], {"num_classes": 6},
           lambda a, i: F.one_hot(i, a["num_classes"]))
    f.case("one_hot_scalar", "one_hot", [idx(2)], {"num_classes": 4},
           lambda a, i: F.one_hot(i, a["num_classes"]))


def build():
    f = Family("shape")
    r = f.rng
    _cat(f, r)
    _stack_split(f, r)
    _index(f, r)
    _copies(f, r)
    _pad(f, r)
    _sort(f, r)
    _cumsum(f, r)
    _factories(f)
    _embedding(f, r)
    return f
