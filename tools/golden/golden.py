"""Shared machinery of the golden-data generators (the only Python in cformer).

A case is an op name, JSON args, inputs and a function that computes the op with PyTorch.
Outputs, random upstream gradients ("gout") for the float outputs, and the gradients PyTorch
computes for the float inputs are written with the inputs to one safetensors file per family.
"""
import json
import struct
import zlib

import numpy as np
import torch

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

_DTYPES = {
    np.dtype("float32"): "F32",
    np.dtype("float64"): "F64",
    np.dtype("int64"): "I64",
    np.dtype("bool"): "BOOL",
    np.dtype("uint8"): "U8",
}


def write_safetensors(path, tensors, metadata):
    """tensors: list of (name, numpy array). Writes the safetensors format by hand."""
    header, blobs, offset = {}, [], 0
    for name, arr in tensors:
        arr = np.asarray(arr)
        raw = arr.tobytes(order="C")
        header[name] = {"dtype": _DTYPES[arr.dtype], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


class Family:
    """Collects the cases of one op family and writes them to <out>/<name>.safetensors."""

    def __init__(self, name):
        self.name = name
        self.cases = []
        self.tensors = []
        self.names = set()

    def rng(self, case_name):
        return np.random.default_rng(zlib.crc32(f"{self.name}/{case_name}".encode()))

    def case(self, name, op, inputs, args, fn, grad=None, atol=1e-5, rtol=1e-4,
             grad_atol=1e-4, grad_rtol=1e-3, gradcheck=None, noncontig=True):
        """inputs: numpy arrays (float32 / int64 / bool). fn(args, *torch_inputs) -> tensor or
        tuple. grad: indices of inputs to differentiate (default: every float input)."""
        assert name not in self.names, f"duplicate case {name}"
        self.names.add(name)
        rng = self.rng(name + "/gout")
        ts = []
        if grad is None:
            grad = [i for i, x in enumerate(inputs) if x.dtype == np.float32]
        for i, x in enumerate(inputs):
            t = torch.from_numpy(np.array(x))
            if i in grad:
                t.requires_grad_(True)
            ts.append(t)
        out = fn(args, *ts)
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        gouts = []
        for o in outs:
            if o.dtype.is_floating_point and o.requires_grad:
                gouts.append(torch.from_numpy(rng.standard_normal(o.shape).astype(np.float32)))
            else:
                gouts.append(None)
        pairs = [(o, g) for o, g in zip(outs, gouts) if g is not None]
        grads = {}
        if grad and pairs:
            gs = torch.autograd.grad([o for o, _ in pairs], [ts[i] for i in grad],
                                     [g for _, g in pairs], allow_unused=True)
            for i, g in zip(grad, gs):
                grads[i] = g if g is not None else torch.zeros_like(ts[i])
        p = name + "/"
        for i, x in enumerate(inputs):
            self.tensors.append((p + f"in{i}", np.array(x)))
        for j, o in enumerate(outs):
            self.tensors.append((p + f"out{j}", o.detach().numpy()))
            if gouts[j] is not None:
                self.tensors.append((p + f"gout{j}", gouts[j].numpy()))
        for i, g in grads.items():
            self.tensors.append((p + f"grad{i}", g.detach().numpy()))
        if gradcheck is None:
            n = sum(int(np.prod(inputs[i].shape)) for i in grad)
            gradcheck = 0 < n <= 400
        self.cases.append({"name": name, "op": op, "args": args, "n_in": len(inputs),
                           "n_out": len(outs), "atol": atol, "rtol": rtol,
                           "grad_atol": grad_atol, "grad_rtol": grad_rtol,
                           "gradcheck": bool(gradcheck), "noncontig": noncontig})

    def write(self, out_dir):
        write_safetensors(f"{out_dir}/{self.name}.safetensors", self.tensors,
                          {"cases": json.dumps(self.cases)})
        return len(self.cases)


def randn(rng, *shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def uniform(rng, lo, hi, *shape):
    return rng.uniform(lo, hi, shape).astype(np.float32)


def away_from(rng, points, *shape, margin=0.05, scale=1.0):
    """Normal values kept at least `margin` away from each kink point (for finite differences)."""
    x = rng.standard_normal(shape) * scale
    for p in points:
        close = np.abs(x - p) < margin
        x[close] = p + np.where(x[close] >= p, margin, -margin) * 2
    return x.astype(np.float32)


def distinct(rng, *shape, scale=1.0):
    """Values with no ties (for max/min/sort/topk), spaced at least 1e-2 apart."""
    n = int(np.prod(shape)) if shape else 1
    v = (rng.permutation(n) - n / 2) * 0.05 * scale + rng.uniform(-0.01, 0.01, n)
    return v.reshape(shape).astype(np.float32)


def ints(rng, low, high, *shape):
    return rng.integers(low, high, shape).astype(np.int64)


def mask(rng, p, *shape):
    return rng.random(shape) < p
