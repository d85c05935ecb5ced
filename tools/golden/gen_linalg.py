"""matmul, bmm, linear."""
import torch
import torch.nn.functional as F

from golden import Family, randn


def build():
    f = Family("linalg")
    r = f.rng
    f.case("matmul_2d", "matmul", [randn(r("a"), 5, 7), randn(r("b"), 7, 3)], {},
           lambda a, x, y: x @ y)
    f.case("matmul_vec_mat", "matmul", [randn(r("c"), 7), randn(r("d"), 7, 4)], {},
           lambda a, x, y: x @ y)
    f.case("matmul_mat_vec", "matmul", [randn(r("e"), 3, 7), randn(r("f"), 7)], {},
           lambda a, x, y: x @ y)
    f.case("matmul_dot", "matmul", [randn(r("g"), 9), randn(r("h"), 9)], {},
           lambda a, x, y: x @ y)
    f.case("matmul_batch_broadcast", "matmul", [randn(r("i"), 2, 1, 3, 4), randn(r("j"), 3, 4, 5)],
           {}, lambda a, x, y: x @ y)
    f.case("matmul_batch_2d", "matmul", [randn(r("k"), 2, 3, 4), randn(r("l"), 4, 6)], {},
           lambda a, x, y: x @ y)
    f.case("matmul_2d_batch", "matmul", [randn(r("k2"), 3, 4), randn(r("l2"), 2, 4, 5)], {},
           lambda a, x, y: x @ y)
    f.case("matmul_large", "matmul", [randn(r("m"), 33, 70), randn(r("n"), 70, 45)], {},
           lambda a, x, y: x @ y, atol=1e-4, grad_atol=1e-3)
    f.case("bmm_basic", "bmm", [randn(r("o"), 3, 4, 5), randn(r("p"), 3, 5, 2)], {},
           lambda a, x, y: torch.bmm(x, y))
    f.case("linear_bias", "linear", [randn(r("q"), 2, 3, 5), randn(r("s"), 4, 5), randn(r("t"), 4)],
           {}, lambda a, x, w, b: F.linear(x, w, b))
    f.case("linear_nobias", "linear", [randn(r("u"), 6, 5), randn(r("v"), 3, 5)], {},
           lambda a, x, w: F.linear(x, w))
    f.case("linear_colmajor_weight", "linear", [randn(r("cm1"), 4, 6), randn(r("cm2"), 6, 5).T.copy(), randn(r("cm3"), 5)],
           {"weight_layout": "col_major"}, lambda a, x, w, b: F.linear(x, w, b))
    f.case("linear_large", "linear", [randn(r("w"), 37, 64), randn(r("x"), 50, 64), randn(r("y"), 50)],
           {}, lambda a, x, w, b: F.linear(x, w, b), atol=1e-4, grad_atol=1e-3)
    return f
