"""Vision pooling and resampling: max_pool2d, avg_pool2d, adaptive_avg_pool2d, upsample
(nearest, bilinear), unfold, fold; and batch_norm on (N, C, H, W) inputs."""
import torch.nn.functional as F

from gen_nn import _batch_norm
from golden import Family, distinct, randn, uniform


def _opt(a, key, default):
    v = a.get(key)
    return default if v is None else (v[0] if len(v) == 1 else tuple(v))


def _max_pool2d(a, x):
    k = _opt(a, "kernel_size", None)
    return F.max_pool2d(x, k, _opt(a, "stride", None), _opt(a, "padding", 0),
                        _opt(a, "dilation", 1), a.get("ceil_mode", False))


def _avg_pool2d(a, x):
    return F.avg_pool2d(x, _opt(a, "kernel_size", None), _opt(a, "stride", None),
                        _opt(a, "padding", 0), a.get("ceil_mode", False),
                        a.get("count_include_pad", True), a.get("divisor_override"))


def _adaptive_avg_pool2d(a, x):
    return F.adaptive_avg_pool2d(x, _opt(a, "output_size", None))


def _interp(mode):
    def fn(a, x):
        size = _opt(a, "size", None)
        scale = _opt(a, "scale_factor", None)
        if mode == "nearest":
            return F.interpolate(x, size=size, scale_factor=scale, mode="nearest")
        return F.interpolate(x, size=size, scale_factor=scale, mode="bilinear",
                             align_corners=a["align_corners"])
    return fn


def _unfold(a, x):
    return F.unfold(x, _opt(a, "kernel_size", None), _opt(a, "dilation", 1), _opt(a, "padding", 0),
                    _opt(a, "stride", 1))


def _fold(a, x):
    return F.fold(x, _opt(a, "output_size", None), _opt(a, "kernel_size", None),
                  _opt(a, "dilation", 1), _opt(a, "padding", 0), _opt(a, "stride", 1))


def _blocks(size, k, d, p, s):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def build():
    f = Family("pool")
    r = f.rng

    # max_pool2d: inputs without ties (distinct), so the arg-max is unique and differentiable.
    def mp(name, shape, **args):
        f.case(name, "max_pool2d", [distinct(r(name), *shape)], args, _max_pool2d)

    mp("max_pool2d_2x2", (2, 3, 8, 8), kernel_size=[2])
    mp("max_pool2d_3x3_s2_p1", (2, 2, 9, 11), kernel_size=[3], stride=[2], padding=[1])
    mp("max_pool2d_ceil", (1, 3, 7, 9), kernel_size=[3], stride=[2], ceil_mode=True)
    mp("max_pool2d_ceil_pad_nonsquare", (2, 2, 10, 7), kernel_size=[3, 2], stride=[2, 2],
       padding=[1, 1], ceil_mode=True)
    # ceil_mode drops the last window when it would start inside the right padding.
    mp("max_pool2d_ceil_drops_window", (1, 2, 4, 4), kernel_size=[2], stride=[3], padding=[1],
       ceil_mode=True)
    mp("max_pool2d_dilation", (1, 2, 11, 12), kernel_size=[3, 2], stride=[1, 2], dilation=[2, 3])
    mp("max_pool2d_stride_lt_kernel", (2, 3, 7, 10), kernel_size=[2, 3], stride=[3, 1])
    mp("max_pool2d_dilation_pad_ceil", (1, 3, 9, 8), kernel_size=[3], stride=[2], padding=[1],
       dilation=[2], ceil_mode=True)
    mp("max_pool2d_batch1_33x35", (1, 16, 33, 35), kernel_size=[3], stride=[2], padding=[1])
    mp("max_pool2d_17x31", (4, 8, 17, 31), kernel_size=[2])
    mp("max_pool2d_kernel_is_input", (3, 4, 5, 6), kernel_size=[5, 6])

    def ap(name, shape, **args):
        f.case(name, "avg_pool2d", [randn(r(name), *shape)], args, _avg_pool2d)

    ap("avg_pool2d_2x2", (2, 3, 8, 8), kernel_size=[2])
    ap("avg_pool2d_3x3_s2_p1", (2, 2, 9, 11), kernel_size=[3], stride=[2], padding=[1])
    ap("avg_pool2d_exclude_pad", (2, 2, 9, 11), kernel_size=[3], stride=[2], padding=[1],
       count_include_pad=False)
    ap("avg_pool2d_ceil_pad", (1, 3, 10, 7), kernel_size=[3, 2], stride=[2, 2], padding=[1, 1],
       ceil_mode=True)
    ap("avg_pool2d_ceil_pad_exclude", (1, 3, 10, 7), kernel_size=[3, 2], stride=[2, 2],
       padding=[1, 1], ceil_mode=True, count_include_pad=False)
    ap("avg_pool2d_ceil_no_pad", (2, 2, 7, 9), kernel_size=[3], stride=[2], ceil_mode=True)
    ap("avg_pool2d_divisor", (2, 2, 9, 8), kernel_size=[3], stride=[2], padding=[1],
       divisor_override=5)
    ap("avg_pool2d_nonsquare", (1, 4, 9, 7), kernel_size=[3, 2], stride=[1, 2], padding=[1, 0])
    ap("avg_pool2d_batch1_17x33", (1, 16, 17, 33), kernel_size=[3], stride=[2], padding=[1])
    ap("avg_pool2d_large", (3, 5, 17, 33), kernel_size=[4, 3], stride=[3, 2], padding=[2, 1],
       ceil_mode=True, count_include_pad=False)

    def aap(name, shape, out):
        f.case(name, "adaptive_avg_pool2d", [randn(r(name), *shape)], {"output_size": out},
               _adaptive_avg_pool2d)

    aap("adaptive_avg_pool2d_global", (2, 3, 7, 7), [1])
    aap("adaptive_avg_pool2d_uneven", (2, 3, 10, 9), [3, 4])
    aap("adaptive_avg_pool2d_upsampling", (1, 2, 5, 7), [7, 9])
    aap("adaptive_avg_pool2d_4x4", (2, 3, 9, 9), [4])
    aap("adaptive_avg_pool2d_large", (4, 16, 14, 15), [5, 3])
    aap("adaptive_avg_pool2d_identity", (2, 2, 6, 5), [6, 5])

    def up(name, mode, shape, **args):
        op = "upsample_nearest2d" if mode == "nearest" else "upsample_bilinear2d"
        f.case(name, op, [randn(r(name), *shape)], args, _interp(mode))

    up("upsample_nearest2d_x2", "nearest", (2, 3, 5, 7), size=[10, 14])
    up("upsample_nearest2d_size", "nearest", (2, 3, 5, 7), size=[9, 5])
    up("upsample_nearest2d_down", "nearest", (1, 2, 9, 11), size=[4, 6])
    up("upsample_nearest2d_scale2", "nearest", (2, 2, 4, 6), scale_factor=[2.0])
    up("upsample_nearest2d_scale_uneven", "nearest", (2, 2, 5, 6), scale_factor=[1.7, 2.5])
    up("upsample_nearest2d_scale_down", "nearest", (1, 3, 9, 10), scale_factor=[0.6, 0.45])
    up("upsample_nearest2d_large", "nearest", (2, 16, 17, 15), size=[34, 40])
    for ac in (False, True):
        t = "_align" if ac else ""
        up(f"upsample_bilinear2d_x2{t}", "bilinear", (2, 3, 5, 7), size=[10, 14], align_corners=ac)
        up(f"upsample_bilinear2d_size{t}", "bilinear", (2, 2, 5, 7), size=[9, 5], align_corners=ac)
        up(f"upsample_bilinear2d_down{t}", "bilinear", (1, 2, 9, 11), size=[4, 6],
           align_corners=ac)
        up(f"upsample_bilinear2d_scale{t}", "bilinear", (2, 2, 5, 6), scale_factor=[1.7, 2.5],
           align_corners=ac)
        up(f"upsample_bilinear2d_to_1{t}", "bilinear", (1, 2, 4, 5), size=[1, 3],
           align_corners=ac)
        up(f"upsample_bilinear2d_large{t}", "bilinear", (2, 16, 17, 15), size=[34, 40],
           align_corners=ac, atol=2e-5)
    up("upsample_bilinear2d_same_h", "bilinear", (2, 2, 6, 5), size=[6, 9], align_corners=False)
    up("upsample_bilinear2d_scale_down", "bilinear", (1, 3, 9, 10), scale_factor=[0.6, 0.45],
       align_corners=False)

    def uf(name, shape, **args):
        f.case(name, "unfold", [randn(r(name), *shape)], args, _unfold)

    uf("unfold_3x3", (2, 3, 6, 7), kernel_size=[3])
    uf("unfold_all_args", (1, 2, 9, 11), kernel_size=[2, 3], dilation=[2, 1], padding=[1, 2],
       stride=[2, 3])
    uf("unfold_pad1", (2, 2, 5, 5), kernel_size=[3], padding=[1])
    uf("unfold_large_padding", (1, 2, 4, 5), kernel_size=[2], padding=[3], stride=[2])
    uf("unfold_batch1_14x15", (1, 8, 14, 15), kernel_size=[3], padding=[1])
    uf("unfold_large", (2, 8, 17, 33), kernel_size=[3, 5], dilation=[1, 2], padding=[1, 2],
       stride=[2, 1])

    def fd(name, C, out, k, dilation=(1, 1), padding=(0, 0), stride=(1, 1), N=2):
        L = 1
        for i in range(2):
            L *= _blocks(out[i], k[i], dilation[i], padding[i], stride[i])
        x = randn(r(name), N, C * k[0] * k[1], L)
        f.case(name, "fold", [x], {"output_size": list(out), "kernel_size": list(k),
                                   "dilation": list(dilation), "padding": list(padding),
                                   "stride": list(stride)}, _fold)

    fd("fold_3x3", 2, (5, 6), (3, 3))
    fd("fold_all_args", 1, (9, 11), (2, 3), dilation=(2, 1), padding=(1, 2), stride=(2, 3), N=1)
    fd("fold_stride_gt_kernel", 2, (7, 8), (2, 2), stride=(3, 3))
    fd("fold_pad1", 1, (5, 5), (3, 3), padding=(1, 1))
    fd("fold_large", 8, (17, 33), (3, 5), dilation=(1, 2), padding=(1, 2), stride=(2, 1))

    # batch_norm on (N, C, H, W): training with running statistics (unbiased update), eval,
    # S = H W below and above the 16-lane width, non-square.
    def bn(name, shape, training, running=True, momentum=0.1, eps=1e-5, **kw):
        x = randn(r(name), *shape, scale=1.5) + 0.5
        C = shape[1]
        inputs = [x]
        if running:
            inputs += [randn(r(name + "rm"), C), uniform(r(name + "rv"), 0.5, 2.0, C)]
        grad = [0, len(inputs), len(inputs) + 1]
        inputs += [randn(r(name + "w"), C) + 1.0, randn(r(name + "b"), C)]
        f.case(name, "batch_norm", inputs, {"training": training, "running": running,
                                            "weight": True, "bias": True, "momentum": momentum,
                                            "eps": eps}, _batch_norm, grad=grad, **kw)

    bn("batch_norm2d_train", (2, 3, 5, 7), True)
    bn("batch_norm2d_train_small_plane", (4, 3, 3, 3), True, momentum=0.3, eps=1e-3)
    bn("batch_norm2d_train_no_running", (3, 2, 4, 5), True, running=False)
    bn("batch_norm2d_eval", (2, 4, 5, 6), False)
    bn("batch_norm2d_eval_small_plane", (3, 3, 2, 3), False)
    bn("batch_norm2d_batch1", (1, 3, 6, 9), True)
    bn("batch_norm2d_train_large", (8, 16, 14, 15), True, atol=1e-4, grad_atol=1e-3)
    bn("batch_norm2d_eval_large", (8, 16, 14, 15), False, atol=1e-4)
    return f
