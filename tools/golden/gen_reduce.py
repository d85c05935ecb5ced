"""Reductions."""
from golden import Family, randn


def build():
    f = Family("reduce")
    r = f.rng
    for op, fn in [("sum", lambda a, x: x.sum(dim=a["dims"] or None, keepdim=a["keepdim"])
                    if a["dims"] else x.sum()),
                   ("mean", lambda a, x: x.mean(dim=a["dims"], keepdim=a["keepdim"])
                    if a["dims"] else x.mean())]:
        f.case(f"{op}_all", op, [randn(r(op + "1"), 3, 4, 5)], {"dims": [], "keepdim": False}, fn)
        f.case(f"{op}_last", op, [randn(r(op + "2"), 3, 7)], {"dims": [-1], "keepdim": False}, fn)
        f.case(f"{op}_first_keep", op, [randn(r(op + "3"), 6, 5)], {"dims": [0], "keepdim": True}, fn)
        f.case(f"{op}_outer_inner", op, [randn(r(op + "4"), 2, 3, 4, 5)], {"dims": [0, 2],
                                                                          "keepdim": False}, fn)
        f.case(f"{op}_middle", op, [randn(r(op + "5"), 2, 3, 4)], {"dims": [1], "keepdim": True}, fn)
        f.case(f"{op}_large_rows", op, [randn(r(op + "6"), 3, 10000)], {"dims": [1],
                                                                       "keepdim": False}, fn,
               atol=1e-3, rtol=1e-4)
    return f
