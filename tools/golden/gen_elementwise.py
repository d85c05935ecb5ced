"""Elementwise ops."""
import torch

from golden import Family, randn, uniform


def build():
    f = Family("elementwise")
    r = f.rng
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
    return f
