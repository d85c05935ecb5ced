"""Elementwise ops: arithmetic, pow, maximum/minimum, activations, clamp, where, masked_fill,
comparisons and logical ops. Every differentiable op has a small case (gradcheck) and a large
one with sizes that are not multiples of 16; inputs stay inside each op's domain and away from
its kinks."""
import numpy as np
import torch
import torch.nn.functional as F

from golden import Family, away_from, distinct, ints, mask, randn, uniform

LARGE = (37, 41)  # 1517 elements: many 16-lane vectors plus a 13-lane tail, two threads' worth


def arithmetic(f, r):
    for op, fn in [("add", lambda a, x, y: torch.add(x, y, alpha=a["alpha"])),
                   ("sub", lambda a, x, y: torch.sub(x, y, alpha=a["alpha"]))]:
        f.case(f"{op}_same", op, [randn(r(op + "1"), 3, 17), randn(r(op + "2"), 3, 17)],
               {"alpha": 1.0}, fn)
        f.case(f"{op}_broadcast_alpha", op, [randn(r(op + "3"), 4, 1, 3), randn(r(op + "4"), 5, 3)],
               {"alpha": -0.5}, fn)
        f.case(f"{op}_scalar", op, [randn(r(op + "5"), 2, 5)], {"scalar": 1.5},
               (lambda a, x: x + a["scalar"]) if op == "add" else (lambda a, x: x - a["scalar"]))
    f.case("mul_broadcast", "mul", [randn(r("m1"), 2, 3, 1), randn(r("m2"), 1, 4)], {},
           lambda a, x, y: x * y)
    f.case("mul_scalar", "mul", [randn(r("m3"), 33)], {"scalar": -2.5},
           lambda a, x: x * a["scalar"])
    f.case("div_broadcast", "div", [randn(r("d1"), 3, 4), uniform(r("d2"), 0.5, 2.0, 4)], {},
           lambda a, x, y: x / y)
    f.case("div_scalar", "div", [randn(r("d3"), 5, 2)], {"scalar": 4.0},
           lambda a, x: x / a["scalar"])
    f.case("add_large", "add", [randn(r("l1"), 129, 65), randn(r("l2"), 65)], {"alpha": 2.0},
           lambda a, x, y: torch.add(x, y, alpha=a["alpha"]))
    f.case("mul_large", "mul", [randn(r("l3"), *LARGE), randn(r("l4"), LARGE[0], 1)], {},
           lambda a, x, y: x * y)
    f.case("div_large", "div", [randn(r("l5"), *LARGE), uniform(r("l6"), 0.5, 2.0, *LARGE)], {},
           lambda a, x, y: x / y, rtol=2e-4)
    f.case("sub_0dim", "sub", [randn(r("z1"), 3, 5), randn(r("z2"))], {"alpha": 1.0},
           lambda a, x, y: torch.sub(x, y, alpha=a["alpha"]))
    f.case("add_i64", "add", [ints(r("i1"), -50, 50, 4, 5), ints(r("i2"), -50, 50, 5)],
           {"alpha": 3.0}, lambda a, x, y: torch.add(x, y, alpha=3))
    f.case("mul_i64_scalar", "mul", [ints(r("i3"), -50, 50, 7)], {"scalar": -3.0},
           lambda a, x: x * -3)


def pow_cases(f, r):
    for name, e, x in [("2", 2.0, randn(r("p2"), 4, 5)),
                       ("3", 3.0, randn(r("p3"), 3, 7)),
                       ("0", 0.0, randn(r("p0"), 6)),
                       ("1", 1.0, randn(r("p1"), 6)),
                       ("half", 0.5, uniform(r("ph"), 0.3, 3.0, 2, 9)),
                       ("neg_half", -0.5, uniform(r("pnh"), 0.3, 3.0, 9)),
                       ("neg1", -1.0, uniform(r("pn1"), 0.5, 3.0, 9) * np.float32(-1)),
                       ("neg2", -2.0, uniform(r("pn2"), 0.5, 3.0, 3, 3)),
                       ("general", 1.7, uniform(r("pg"), 0.3, 3.0, 5, 3)),
                       ("general_neg", -1.3, uniform(r("pgn"), 0.3, 3.0, 17)),
                       ("large", 2.5, uniform(r("pl"), 0.3, 3.0, *LARGE))]:
        f.case(f"pow_scalar_{name}", "pow", [x], {"exponent": e},
               lambda a, x: torch.pow(x, a["exponent"]))
    f.case("pow_tensor_broadcast", "pow",
           [uniform(r("pt1"), 0.3, 3.0, 3, 4), randn(r("pt2"), 4)], {},
           lambda a, x, y: torch.pow(x, y))
    f.case("pow_tensor_0dim_exponent", "pow",
           [uniform(r("pt3"), 0.3, 3.0, 2, 5), randn(r("pt4"))], {},
           lambda a, x, y: torch.pow(x, y))
    f.case("pow_tensor_large", "pow",
           [uniform(r("pt5"), 0.3, 3.0, LARGE[0], 1), randn(r("pt6"), *LARGE)], {},
           lambda a, x, y: torch.pow(x, y), rtol=3e-4, grad_rtol=3e-3)


def minmax(f, r):
    for op, fn in [("maximum", torch.maximum), ("minimum", torch.minimum)]:
        v = distinct(r(op + "1"), 2 * 15)
        f.case(f"{op}_same", op, [v[:15].reshape(3, 5), v[15:].reshape(3, 5)], {},
               lambda a, x, y, fn=fn: fn(x, y))
        v = distinct(r(op + "2"), 3 * 5 + 4 * 5)
        f.case(f"{op}_broadcast", op, [v[:15].reshape(3, 1, 5), v[15:].reshape(4, 5)], {},
               lambda a, x, y, fn=fn: fn(x, y))
        x = randn(r(op + "3"), 4, 6)
        y = x.copy()
        y[::2] = randn(r(op + "4"), 2, 6)
        f.case(f"{op}_ties", op, [x, y], {}, lambda a, x, y, fn=fn: fn(x, y), gradcheck=False)
        v = distinct(r(op + "5"), 2 * LARGE[0] * LARGE[1])
        f.case(f"{op}_large", op, [v[: v.size // 2].reshape(LARGE), v[v.size // 2:].reshape(LARGE)],
               {}, lambda a, x, y, fn=fn: fn(x, y))
        f.case(f"{op}_i64", op, [ints(r(op + "6"), -9, 9, 3, 4), ints(r(op + "7"), -9, 9, 4)], {},
               lambda a, x, y, fn=fn: fn(x, y))


def unary(f, r):
    smooth = [("neg", torch.neg), ("exp", torch.exp), ("tanh", torch.tanh),
              ("sigmoid", torch.sigmoid), ("silu", F.silu)]
    for op, fn in smooth:
        f.case(f"{op}_small", op, [randn(r(op + "1"), 3, 7, scale=2.0)], {},
               lambda a, x, fn=fn: fn(x))
        f.case(f"{op}_large", op, [randn(r(op + "2"), *LARGE, scale=3.0)], {},
               lambda a, x, fn=fn: fn(x))
        f.case(f"{op}_0dim", op, [randn(r(op + "3"))], {}, lambda a, x, fn=fn: fn(x))
    positive = [("log", torch.log), ("sqrt", torch.sqrt), ("rsqrt", torch.rsqrt)]
    for op, fn in positive:
        f.case(f"{op}_small", op, [uniform(r(op + "1"), 0.3, 3.0, 2, 9)], {},
               lambda a, x, fn=fn: fn(x))
        f.case(f"{op}_large", op, [uniform(r(op + "2"), 0.05, 50.0, *LARGE)], {},
               lambda a, x, fn=fn: fn(x), grad_rtol=2e-3)
    for op, fn in [("abs", torch.abs), ("relu", F.relu)]:
        f.case(f"{op}_small", op, [away_from(r(op + "1"), [0.0], 5, 6)], {},
               lambda a, x, fn=fn: fn(x))
        f.case(f"{op}_large", op, [away_from(r(op + "2"), [0.0], *LARGE)], {},
               lambda a, x, fn=fn: fn(x))
    f.case("abs_i64", "abs", [ints(r("ai"), -9, 9, 11)], {}, lambda a, x: torch.abs(x))
    f.case("neg_i64", "neg", [ints(r("ni"), -9, 9, 11)], {}, lambda a, x: torch.neg(x))
    for name, slope in [("default", 0.01), ("steep", 0.2)]:
        f.case(f"leaky_relu_{name}", "leaky_relu", [away_from(r("lr" + name), [0.0], 4, 9)],
               {"negative_slope": slope}, lambda a, x: F.leaky_relu(x, a["negative_slope"]))
    f.case("leaky_relu_large", "leaky_relu", [away_from(r("lrl"), [0.0], *LARGE)],
           {"negative_slope": 0.1}, lambda a, x: F.leaky_relu(x, a["negative_slope"]))
    for approx in ["none", "tanh"]:
        fn = lambda a, x: F.gelu(x, approximate=a["approximate"])
        f.case(f"gelu_{approx}_small", "gelu", [randn(r("g1" + approx), 4, 9, scale=2.0)],
               {"approximate": approx}, fn)
        f.case(f"gelu_{approx}_large", "gelu", [randn(r("g2" + approx), *LARGE, scale=3.0)],
               {"approximate": approx}, fn)
        f.case(f"gelu_{approx}_tails", "gelu",
               [np.array([-12.0, -6.0, -3.9, -1e-3, 0.0, 1e-3, 3.9, 6.0, 12.0], np.float32)],
               {"approximate": approx}, fn, gradcheck=False)
    sp = lambda a, x: F.softplus(x, beta=a["beta"], threshold=a["threshold"])
    f.case("softplus_default", "softplus", [randn(r("s1"), 3, 8, scale=3.0)],
           {"beta": 1.0, "threshold": 20.0}, sp)
    # beta x crosses the threshold at x = 0.5: both branches, away from the switch.
    f.case("softplus_beta_threshold", "softplus", [away_from(r("s2"), [0.5], 5, 7)],
           {"beta": 2.0, "threshold": 1.0}, sp)
    f.case("softplus_negative_beta", "softplus", [randn(r("s3"), 11)],
           {"beta": -1.5, "threshold": 20.0}, sp)
    f.case("softplus_large", "softplus", [randn(r("s4"), *LARGE, scale=8.0)],
           {"beta": 1.0, "threshold": 20.0}, sp)
    f.case("softplus_extremes", "softplus",
           [np.array([-100.0, -30.0, -1e-4, 0.0, 15.0, 19.9, 20.1, 50.0], np.float32)],
           {"beta": 1.0, "threshold": 20.0}, sp, gradcheck=False)
    cl = lambda a, x: torch.clamp(x, min=a["min"], max=a["max"])
    f.case("clamp_both", "clamp", [away_from(r("c1"), [-0.5, 0.7], 4, 7)],
           {"min": -0.5, "max": 0.7}, cl)
    f.case("clamp_min", "clamp", [away_from(r("c2"), [0.2], 3, 5)], {"min": 0.2, "max": None}, cl)
    f.case("clamp_max", "clamp", [away_from(r("c3"), [-0.3], 17)], {"min": None, "max": -0.3}, cl)
    f.case("clamp_min_above_max", "clamp", [away_from(r("c4"), [0.5, -0.5], 9)],
           {"min": 0.5, "max": -0.5}, cl)
    f.case("clamp_large", "clamp", [away_from(r("c5"), [-1.0, 1.0], *LARGE)],
           {"min": -1.0, "max": 1.0}, cl)
    f.case("clamp_i64", "clamp", [ints(r("c6"), -9, 9, 13)], {"min": -3.0, "max": 4.0},
           lambda a, x: torch.clamp(x, min=-3, max=4))


def selection(f, r):
    f.case("where_same", "where", [mask(r("w1"), 0.5, 3, 5), randn(r("w2"), 3, 5), randn(r("w3"), 3, 5)],
           {}, lambda a, c, x, y: torch.where(c, x, y))
    f.case("where_broadcast", "where",
           [mask(r("w4"), 0.5, 4, 1), randn(r("w5"), 1, 6), randn(r("w6"), 2, 1, 1)], {},
           lambda a, c, x, y: torch.where(c, x, y))
    f.case("where_large", "where",
           [mask(r("w7"), 0.3, *LARGE), randn(r("w8"), *LARGE), randn(r("w9"), LARGE[1])], {},
           lambda a, c, x, y: torch.where(c, x, y))
    f.case("where_i64", "where", [mask(r("w10"), 0.5, 2, 7), ints(r("w11"), -9, 9, 2, 7),
                                  ints(r("w12"), -9, 9, 7)], {},
           lambda a, c, x, y: torch.where(c, x, y))
    f.case("where_bool", "where", [mask(r("w13"), 0.5, 9), mask(r("w14"), 0.5, 9),
                                   mask(r("w15"), 0.5, 1)], {},
           lambda a, c, x, y: torch.where(c, x, y))
    mf = lambda a, x, m: x.masked_fill(m, a["value"])
    f.case("masked_fill_same", "masked_fill", [randn(r("f1"), 4, 6), mask(r("f2"), 0.5, 4, 6)],
           {"value": -2.5}, mf)
    f.case("masked_fill_broadcast", "masked_fill",
           [randn(r("f3"), 2, 3, 5), mask(r("f4"), 0.5, 3, 1)], {"value": -3.0}, mf)
    # A causal mask, as attention builds it.
    causal = np.triu(np.ones((9, 9), dtype=bool), 1)
    f.case("masked_fill_causal", "masked_fill", [randn(r("f5"), 2, 9, 9), causal], {"value": -1e4}, mf)
    # -1e9 would swamp a finite-difference check; this case is too large for one anyway.
    f.case("masked_fill_large", "masked_fill", [randn(r("f6"), *LARGE), mask(r("f7"), 0.5, LARGE[1])],
           {"value": -1e9}, mf)
    f.case("masked_fill_i64", "masked_fill", [ints(r("f8"), -9, 9, 3, 4), mask(r("f9"), 0.5, 4)],
           {"value": 7.0}, lambda a, x, m: x.masked_fill(m, 7))
    f.case("masked_fill_bool", "masked_fill", [mask(r("f10"), 0.5, 3, 4), mask(r("f11"), 0.5, 3, 4)],
           {"value": 1.0}, lambda a, x, m: x.masked_fill(m, True))


def comparisons(f, r):
    def small_ints(name, *shape):
        return ints(r(name), -2, 3, *shape).astype(np.float32)  # many ties
    for op in ["eq", "ne", "lt", "le", "gt", "ge"]:
        fn = getattr(torch, op)
        f.case(f"{op}_broadcast", op, [small_ints(op + "1", 3, 1, 4), small_ints(op + "2", 5, 4)], {},
               lambda a, x, y, fn=fn: fn(x, y))
        f.case(f"{op}_scalar", op, [small_ints(op + "3", 4, 5) * np.float32(0.5)], {"scalar": 0.5},
               lambda a, x, fn=fn: fn(x, a["scalar"]))
        f.case(f"{op}_i64", op, [ints(r(op + "4"), -3, 3, 2, 9), ints(r(op + "5"), -3, 3, 9)], {},
               lambda a, x, y, fn=fn: fn(x, y))
        f.case(f"{op}_i64_scalar", op, [ints(r(op + "6"), -3, 3, 13)], {"scalar": 1.0},
               lambda a, x, fn=fn: fn(x, 1))
        f.case(f"{op}_large", op, [small_ints(op + "7", *LARGE), small_ints(op + "8", *LARGE)], {},
               lambda a, x, y, fn=fn: fn(x, y))
    f.case("eq_bool", "eq", [mask(r("b1"), 0.5, 3, 6), mask(r("b2"), 0.5, 6)], {},
           lambda a, x, y: torch.eq(x, y))
    f.case("ne_nan", "ne", [np.array([1.0, np.nan, 2.0, np.nan], np.float32),
                            np.array([1.0, 1.0, np.nan, np.nan], np.float32)], {},
           lambda a, x, y: torch.ne(x, y))
    f.case("logical_not_basic", "logical_not", [mask(r("n1"), 0.5, 5, 7)], {},
           lambda a, x: torch.logical_not(x))
    f.case("logical_and_broadcast", "logical_and", [mask(r("n2"), 0.5, 4, 1), mask(r("n3"), 0.5, 6)],
           {}, lambda a, x, y: torch.logical_and(x, y))
    f.case("logical_or_broadcast", "logical_or", [mask(r("n4"), 0.5, 2, 5), mask(r("n5"), 0.5, 3, 1, 5)],
           {}, lambda a, x, y: torch.logical_or(x, y))
    f.case("logical_and_large", "logical_and", [mask(r("n6"), 0.5, *LARGE), mask(r("n7"), 0.5, *LARGE)],
           {}, lambda a, x, y: torch.logical_and(x, y))


def build():
    f = Family("elementwise")
    r = f.rng
    arithmetic(f, r)
    pow_cases(f, r)
    minmax(f, r)
    unary(f, r)
    selection(f, r)
    comparisons(f, r)
    return f
