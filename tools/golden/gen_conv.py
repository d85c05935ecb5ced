"""conv2d, conv_transpose2d: stride, padding, dilation, groups (depthwise, channel multipliers),
1x1, patch embeddings (kernel = stride), output_padding, no bias, unbatched (3-D) inputs, odd sizes.
Inputs: x, weight, then bias when args["bias"]; stride / padding / dilation / output_padding are
lists of 1 or 2 values (absent: torch's default)."""
import torch.nn.functional as F

from golden import Family, randn


def _kw(args, names):
    return {n: tuple(args[n]) if len(args[n]) == 2 else args[n][0] for n in names if n in args}


def conv2d(a, x, w, b=None):
    return F.conv2d(x, w, b, groups=a.get("groups", 1),
                    **_kw(a, ("stride", "padding", "dilation")))


def conv_transpose2d(a, x, w, b=None):
    return F.conv_transpose2d(x, w, b, groups=a.get("groups", 1),
                              **_kw(a, ("stride", "padding", "output_padding", "dilation")))


def build():
    f = Family("conv")
    r = f.rng

    def conv(name, x_shape, w_shape, bias=True, big=False, **args):
        g = r(name)
        inputs = [randn(g, *x_shape), randn(g, *w_shape, scale=0.5)]
        if bias:
            inputs.append(randn(g, w_shape[0]))
        tol = {"atol": 1e-4, "grad_atol": 1e-3} if big else {}
        f.case(name, "conv2d", inputs, dict(args, bias=bias), conv2d, **tol)

    def convt(name, x_shape, w_shape, bias=True, big=False, **args):
        g = r(name)
        inputs = [randn(g, *x_shape), randn(g, *w_shape, scale=0.5)]
        if bias:
            inputs.append(randn(g, w_shape[1] * args.get("groups", 1)))
        tol = {"atol": 1e-4, "grad_atol": 1e-3} if big else {}
        f.case(name, "conv_transpose2d", inputs, dict(args, bias=bias), conv_transpose2d, **tol)

    # conv2d (the small ones are gradchecked: at most 400 differentiable values)
    conv("conv2d_3x3_pad1", (2, 3, 7, 6), (4, 3, 3, 3), padding=[1])
    conv("conv2d_nobias", (2, 3, 6, 5), (2, 3, 3, 3), bias=False)
    conv("conv2d_stride_pad_rect", (2, 3, 9, 8), (5, 3, 3, 2), stride=[2, 3], padding=[1, 0],
         big=True)
    conv("conv2d_rect_all", (2, 3, 10, 9), (4, 3, 2, 3), stride=[1, 2], padding=[0, 1],
         dilation=[2, 1], big=True)
    conv("conv2d_dilation2", (1, 2, 9, 9), (3, 2, 3, 3), dilation=[2], padding=[2])
    conv("conv2d_dilation3_stride2", (2, 4, 15, 13), (6, 4, 3, 3), dilation=[3], padding=[3],
         stride=[2], big=True)
    conv("conv2d_groups2", (2, 4, 6, 5), (6, 2, 3, 3), groups=2, bias=False, padding=[1])
    conv("conv2d_depthwise", (2, 4, 6, 6), (4, 1, 3, 3), groups=4, padding=[1])
    conv("conv2d_depthwise_big", (3, 17, 15, 14), (17, 1, 3, 3), groups=17, padding=[2],
         dilation=[2], big=True)
    conv("conv2d_depthwise_stride2", (2, 5, 11, 10), (5, 1, 3, 3), groups=5, padding=[1],
         stride=[2], big=True)
    conv("conv2d_channel_multiplier", (1, 3, 6, 5), (6, 1, 3, 3), groups=3, padding=[1])
    conv("conv2d_pointwise", (2, 5, 4, 3), (7, 5, 1, 1))
    conv("conv2d_pointwise_groups", (2, 6, 5, 5), (4, 3, 1, 1), groups=2, big=True)
    conv("conv2d_1x1_stride2", (2, 5, 5, 5), (3, 5, 1, 1), stride=[2])
    conv("conv2d_patch4", (2, 1, 8, 8), (8, 1, 4, 4), stride=[4])
    conv("conv2d_patch7_big", (4, 1, 28, 28), (16, 1, 7, 7), stride=[7], big=True)
    conv("conv2d_one_channel_pad", (3, 1, 10, 9), (4, 1, 3, 3), padding=[1])
    conv("conv2d_batch1", (1, 3, 7, 7), (2, 3, 3, 3), padding=[1], stride=[2])
    conv("conv2d_unbatched", (3, 6, 5), (2, 3, 3, 3), padding=[1])
    conv("conv2d_kernel_fills_padded", (1, 2, 3, 3), (2, 2, 5, 5), padding=[1])
    conv("conv2d_cnn_big", (4, 16, 13, 11), (33, 16, 3, 3), padding=[1], big=True)
    conv("conv2d_groups_big", (2, 12, 9, 17), (18, 4, 3, 3), groups=3, padding=[1], big=True)

    # conv_transpose2d
    convt("conv_transpose2d_basic", (2, 4, 3, 3), (4, 3, 3, 3))
    convt("conv_transpose2d_stride2_outpad", (2, 3, 4, 3), (3, 2, 3, 3), stride=[2], padding=[1],
          output_padding=[1])
    convt("conv_transpose2d_dcgan", (2, 6, 4, 4), (6, 2, 4, 4), stride=[2], padding=[1])
    convt("conv_transpose2d_dcgan_big", (4, 16, 8, 8), (16, 8, 4, 4), stride=[2], padding=[1],
          big=True)
    convt("conv_transpose2d_to_one_channel", (3, 8, 6, 6), (8, 1, 4, 4), stride=[2], padding=[1],
          big=True)
    convt("conv_transpose2d_groups2", (1, 4, 4, 5), (4, 3, 3, 3), groups=2)
    convt("conv_transpose2d_depthwise", (2, 5, 5, 6), (5, 1, 3, 3), groups=5, stride=[2],
          padding=[1], output_padding=[1])
    convt("conv_transpose2d_dilation_outpad", (1, 2, 4, 4), (2, 3, 3, 3), dilation=[2],
          output_padding=[1])
    convt("conv_transpose2d_unbatched", (3, 4, 4), (3, 2, 3, 3), stride=[2])
    convt("conv_transpose2d_rect_nobias", (2, 3, 3, 4), (3, 2, 2, 3), bias=False, stride=[2, 3],
          padding=[1, 0], output_padding=[1, 2])
    convt("conv_transpose2d_pointwise", (2, 5, 3, 4), (5, 3, 1, 1))
    return f
