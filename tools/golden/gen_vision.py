"""Vision model parity data: PyTorch twins of cformer's ViT (timm VisionTransformer names), ViTAE
(the authors' ViTAE_basic names, full attention in the reduction cells) and the CNN baseline, with
fixed weights on fixed images. Per model: the state_dict, logits and loss (label smoothing 0.1) in
training mode (BatchNorm on batch statistics), every parameter gradient, the buffers after that
step, logits in eval mode, and the losses and parameters of 3 AdamW steps; for ViT also the
attention probabilities and their rollout. Written to OUT/vision/<model>.safetensors, read by
tests/golden/test_vision.cpp. The configs below are the JSON of cformer's configs.
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from golden import write_safetensors


def drop_path(x, p, training):
    if p == 0.0 or not training:
        return x
    keep = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(1 - p)
    return x * keep / (1 - p)


class Mlp(nn.Module):
    def __init__(self, dim, hidden, out, drop):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.drop = nn.Dropout(drop)
        self.fc2 = nn.Linear(hidden, out)

    def forward(self, x):
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class Attention(nn.Module):
    """timm's Attention; with value_skip, T2T-ViT's token attention (v as the skip connection)."""

    def __init__(self, dim, heads, qkv_bias, out_dim=None, value_skip=False):
        super().__init__()
        self.heads = heads
        self.value_skip = value_skip
        self.out_dim = out_dim or dim
        self.dim = dim
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * self.out_dim, bias=qkv_bias)
        self.proj = nn.Linear(self.out_dim, self.out_dim)
        self.last_attn = None

    def forward(self, x):
        B, N, _ = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, self.out_dim // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
        self.last_attn = attn.detach()
        y = self.proj((attn @ v).transpose(1, 2).reshape(B, N, self.out_dim))
        if self.value_skip:
            y = y + v.transpose(1, 2).reshape(B, N, self.out_dim)
        return y


# ---------------------------------------------------------------------------------------- ViT

class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["embed_dim"]
        self.norm1 = nn.LayerNorm(d, eps=1e-6)
        self.attn = Attention(d, c["num_heads"], c["qkv_bias"])
        self.norm2 = nn.LayerNorm(d, eps=1e-6)
        self.mlp = Mlp(d, int(d * c["mlp_ratio"]), d, 0.0)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.proj = nn.Conv2d(c["in_chans"], c["embed_dim"], c["patch_size"], c["patch_size"])


class ViT(nn.Module):
    def __init__(self, c):
        super().__init__()
        g = c["image_size"] // c["patch_size"]
        d = c["embed_dim"]
        self.cls_token = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, g * g + 1, d) * 0.02)
        self.patch_embed = PatchEmbed(c)
        self.blocks = nn.ModuleList([Block(c) for _ in range(c["depth"])])
        self.norm = nn.LayerNorm(d, eps=1e-6)
        self.head = nn.Linear(d, c["num_classes"])

    def forward(self, x):
        t = self.patch_embed.proj(x).flatten(2).transpose(1, 2)
        z = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), t], dim=1) + self.pos_embed
        for b in self.blocks:
            z = b(z)
        return self.head(self.norm(z)[:, 0])


def rollout(maps):
    r = None
    for m in maps:
        a = m.mean(dim=1) + torch.eye(m.shape[-1])
        a = a / a.sum(dim=-1, keepdim=True)
        r = a if r is None else a @ r
    return r


# -------------------------------------------------------------------------------------- ViTAE

def pcm_strides(downsample):
    s, residual = [], downsample // 2
    for _ in range(3):
        s.append(2 if residual > 0 else 1)
        residual //= 2
    return s


class UnfoldConv2d(nn.Conv2d):
    """nn.Conv2d computed as unfold + matmul: torch 1.13's CPU backward of dilated strided
    convolutions returned garbage weight gradients (values near 1e38) for these shapes."""

    def forward(self, x):
        B, _, H, W = x.shape
        k, s, p, d = self.kernel_size[0], self.stride[0], self.padding[0], self.dilation[0]
        cols = F.unfold(x, k, dilation=d, padding=p, stride=s)
        oh = (H + 2 * p - d * (k - 1) - 1) // s + 1
        ow = (W + 2 * p - d * (k - 1) - 1) // s + 1
        y = self.weight.view(self.out_channels, -1) @ cols
        return (y + self.bias.view(1, -1, 1)).view(B, self.out_channels, oh, ow)


class PRM(nn.Module):
    def __init__(self, cin, s):
        super().__init__()
        k, st = s["kernel_size"], s["downsample"]
        self.convs = nn.ModuleList()
        for d in s["dilations"]:
            pad = math.ceil(((k - 1) * d + 1 - st) / 2)
            self.convs.append(nn.Sequential(UnfoldConv2d(cin, s["embed_dim"], k, st, pad, d), nn.GELU()))

    def forward(self, x):
        return torch.cat([c(x) for c in self.convs], dim=1).flatten(2).transpose(1, 2)


class TokenTransformer(nn.Module):
    def __init__(self, dim, out, heads, mlp_ratio):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, False, out, value_skip=True)
        self.norm2 = nn.LayerNorm(out)
        self.mlp = Mlp(out, int(out * mlp_ratio), out, 0.0)


class ReductionCell(nn.Module):
    def __init__(self, cin, s):
        super().__init__()
        self.PRM = PRM(cin, s)
        self.with_attn = s["rc_attention"]
        if not self.with_attn:
            return
        e, d, g = s["embed_dim"], s["token_dim"], s["rc_group"]
        self.attn = TokenTransformer(e * len(s["dilations"]), d, s["rc_heads"], s["rc_mlp_ratio"])
        st = pcm_strides(s["downsample"])
        self.PCM = nn.Sequential(
            nn.Conv2d(cin, e, 3, st[0], 1, groups=g), nn.SiLU(),
            nn.Conv2d(e, e, 3, st[1], 1, groups=g), nn.BatchNorm2d(e), nn.SiLU(),
            nn.Conv2d(e, d, 3, st[2], 1, groups=g), nn.SiLU())

    def forward(self, x):
        t = self.PRM(x)
        if not self.with_attn:
            return t
        conv = self.PCM(x).flatten(2).transpose(1, 2)
        y = self.attn.attn(self.attn.norm1(t)) + conv
        return y + self.attn.mlp(self.attn.norm2(y))


class NormalCell(nn.Module):
    def __init__(self, dim, s, qkv_bias):
        super().__init__()
        h, g = int(dim * s["nc_mlp_ratio"]), s["nc_group"]
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, s["nc_heads"], qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, h, dim, 0.0)
        self.PCM = nn.Sequential(
            nn.Conv2d(dim, h, 3, 1, 1, 1, g), nn.BatchNorm2d(h), nn.SiLU(),
            nn.Conv2d(h, dim, 3, 1, 1, 1, g), nn.BatchNorm2d(dim), nn.SiLU(),
            nn.Conv2d(dim, dim, 3, 1, 1, 1, g), nn.SiLU())

    def forward(self, x):
        b, n, c = x.shape
        wh = int(math.sqrt(n))
        conv = self.PCM(x.reshape(b, wh, wh, c).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).reshape(b, n, c)
        x = x + self.attn(self.norm1(x)) + conv
        return x + self.mlp(self.norm2(x))


class BasicLayer(nn.Module):
    def __init__(self, cin, s, qkv_bias):
        super().__init__()
        self.has_rc = s["reduction_cell"]
        if self.has_rc:
            self.RC = ReductionCell(cin, s)
        if s["nc_depth"] > 0:
            self.NC = nn.ModuleList([NormalCell(s["token_dim"], s, qkv_bias) for _ in range(s["nc_depth"])])
        else:
            self.NC = []

    def forward(self, x):
        if self.has_rc:
            if x.dim() == 3:
                b, n, c = x.shape
                wh = int(math.sqrt(n))
                x = x.transpose(1, 2).reshape(b, c, wh, wh)
            x = self.RC(x)
        for nc in self.NC:
            x = nc(x)
        return x


class ViTAE(nn.Module):
    def __init__(self, c):
        super().__init__()
        layers, cin = [], c["in_chans"]
        for s in c["stages"]:
            layers.append(BasicLayer(cin, s, c["qkv_bias"]))
            cin = s["token_dim"]
        self.layers = nn.ModuleList(layers)
        self.head = nn.Linear(cin, c["num_classes"])

    def forward(self, x):
        for l in self.layers:
            x = l(x)
        return self.head(x.mean(dim=1))


# ---------------------------------------------------------------------------------------- CNN

class CNN(nn.Module):
    def __init__(self, c):
        super().__init__()
        mods, cin = [], c["in_chans"]
        for ch in c["channels"]:
            for _ in range(c["convs_per_stage"]):
                mods += [nn.Conv2d(cin, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch), nn.ReLU()]
                cin = ch
            mods.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*mods)
        side = c["image_size"] >> len(c["channels"])
        self.head = nn.Linear(cin * side * side, c["num_classes"])

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


# ------------------------------------------------------------------------------------ configs

VIT = dict(image_size=12, patch_size=4, in_chans=2, num_classes=5, embed_dim=16, depth=2,
           num_heads=2, mlp_ratio=2.0, qkv_bias=True, drop_rate=0.0, attn_drop_rate=0.0,
           drop_path_rate=0.0)


def stage(rc, ds, dil, embed, token, attn, heads=1, group=1, depth=0, nc_heads=2, nc_group=1):
    return dict(reduction_cell=rc, downsample=ds, kernel_size=3, dilations=dil, embed_dim=embed,
                token_dim=token, rc_attention=attn, rc_heads=heads, rc_group=group,
                rc_mlp_ratio=1.0, nc_depth=depth, nc_heads=nc_heads, nc_group=nc_group,
                nc_mlp_ratio=2.0)


# 12x12 -> 6x6 (RC with attention, grouped PCM, 1 NC) -> 3x3 (RC, two heads) -> 3x3 (PRM only,
# 2 NCs) -> 3x3 (no RC, 1 NC): every kind of cell and both group settings.
VITAE = dict(image_size=12, in_chans=2, num_classes=5, qkv_bias=True, drop_rate=0.0,
             attn_drop_rate=0.0, drop_path_rate=0.0,
             stages=[stage(True, 2, [1, 2, 3], 4, 8, True, group=2, depth=1, nc_group=2),
                     stage(True, 2, [1, 2], 4, 8, True, heads=2),
                     stage(True, 1, [1, 2], 6, 12, False, depth=2, nc_heads=3, nc_group=4),
                     stage(False, 1, [1], 1, 12, True, depth=1, nc_heads=2, nc_group=3)])

CNN_CFG = dict(image_size=12, in_chans=2, num_classes=5, channels=[4, 6], convs_per_stage=2,
               dropout=0.0)


def perturb(model):
    """Non-trivial norms, biases and running statistics so that every tensor matters."""
    with torch.no_grad():
        for n, p in model.named_parameters():
            if p.dim() == 1:
                p.add_(torch.randn(p.shape) * 0.1)
        for n, b in model.named_buffers():
            if n.endswith("running_mean"):
                b.copy_(torch.randn(b.shape) * 0.1)
            elif n.endswith("running_var"):
                b.copy_(torch.rand(b.shape) + 0.5)
            elif n.endswith("num_batches_tracked"):
                b.fill_(3)


def f32(t):
    """A float64 reference tensor as the float32 (or integer) array the C++ test compares."""
    a = t.detach().numpy()
    return (a.astype(np.float32) if a.dtype == np.float64 else a).copy()


def write_model(out_dir, name, model, cfg, x, y):
    perturb(model)
    init = [("init." + n, t.detach().numpy().copy()) for n, t in model.state_dict().items()]
    tensors = [("x", x.numpy()), ("y", y.numpy())] + init
    # The reference runs in float64 (from the float32 initial values and input, converted
    # exactly) and is stored as float32: torch 1.13's float32 CPU backward of these ViTAE shapes
    # is not deterministic (a second identical run returns NaN gradients in 45 tensors), its
    # float64 backward is.
    model.double()
    x = x.double()
    model.train()
    logits = model(x)
    loss = F.cross_entropy(logits, y, label_smoothing=0.1)
    loss.backward()
    tensors += [("logits", f32(logits)), ("loss", f32(loss))]
    tensors += [("grad." + n, f32(p.grad)) for n, p in model.named_parameters()]
    tensors += [("buffers." + n, f32(b)) for n, b in model.named_buffers()]
    model.eval()
    with torch.no_grad():
        tensors.append(("logits_eval", f32(model(x))))
    if name == "vit":
        maps = [b.attn.last_attn for b in model.blocks]
        tensors += [(f"attn.{i}", f32(m)) for i, m in enumerate(maps)]
        tensors.append(("rollout", f32(rollout(maps))))
    # 3 AdamW steps in training mode from the initial state.
    model.load_state_dict({n[5:]: torch.from_numpy(a) for n, a in init})  # (converted to f64)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, betas=(0.9, 0.999), eps=1e-8,
                            weight_decay=0.05)
    losses = []
    for _ in range(3):
        opt.zero_grad(set_to_none=True)
        l = F.cross_entropy(model(x), y, label_smoothing=0.1)
        l.backward()
        opt.step()
        losses.append(l.item())
    tensors.append(("adamw_losses", np.array(losses, dtype=np.float64)))
    tensors += [("after." + n, f32(t)) for n, t in model.state_dict().items()]
    write_safetensors(os.path.join(out_dir, "vision", name + ".safetensors"), tensors,
                      {"config": json.dumps(cfg), "model": name})


def main(out_dir):
    os.makedirs(os.path.join(out_dir, "vision"), exist_ok=True)
    for name, cls, cfg, seed in (("vit", ViT, VIT, 1), ("vitae", ViTAE, VITAE, 2),
                                 ("cnn", CNN, CNN_CFG, 3)):
        torch.manual_seed(seed)
        model = cls(cfg)
        rng = np.random.default_rng(seed)
        x = torch.from_numpy(rng.standard_normal((3, cfg["in_chans"], 12, 12)).astype(np.float32))
        y = torch.from_numpy(rng.integers(0, cfg["num_classes"], 3).astype(np.int64))
        write_model(out_dir, name, model, cfg, x, y)


if __name__ == "__main__":
    import sys
    main(sys.argv[1])
