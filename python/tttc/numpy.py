"""tttc for numpy users: run a layer, its training forward and its backward
on numpy arrays (float32; float16 for per-token arrays of an f16 layer).

    import tttc, tttc.numpy
    layer = tttc.Layer("examples/ttt_linear.mlir", head_dim=64)
    out = tttc.numpy.run(layer, q=q, k=k, v=v, lr=lr, ln_w=ln_w, ln_b=ln_b,
                         w_init=w0, b_init=b0)          # {"out": ..., "w_final": ...}
    out, saved = tttc.numpy.train(layer, **inputs)
    grads = tttc.numpy.backward(layer, inputs, saved, {"out": dout})
"""

import numpy as np

from ._capi import TTTCError

_NP = {"f32": np.float32, "f16": np.float16}


def _dtype(c, arg):
    if not arg.io or c.io_dtype == "f32":
        return np.dtype(np.float32)
    if c.io_dtype not in _NP:
        raise TTTCError(f"io dtype {c.io_dtype} has no numpy type: use tttc.torch")
    return np.dtype(_NP[c.io_dtype])


def _prepare(c, inputs):
    c.check_names(inputs)
    arrays, items = {}, []
    for a in c.inputs:
        if a.name not in inputs:
            continue
        x = inputs[a.name]
        if not isinstance(x, np.ndarray):
            raise TTTCError(f"input '{a.name}': expected a numpy array, got {type(x).__name__}")
        want = _dtype(c, a)
        if x.dtype != want:
            raise TTTCError(f"input '{a.name}' has dtype {x.dtype}, expected {want}")
        x = np.ascontiguousarray(x)
        arrays[a.name] = x
        items.append((a.name, x.ctypes.data, x.shape))
    return arrays, items


def _outputs(c, B, T, H):
    outs = {a.name: np.empty(c.output_shape(a.name, B, T, H), _dtype(c, a)) for a in c.outputs}
    return outs, [(n, x.ctypes.data, x.shape) for n, x in outs.items()]


def run(layer, **inputs):
    """The layer's outputs (a dict of new arrays) on `inputs` (by name)."""
    c = layer.compiled()
    arrays, items = _prepare(c, inputs)
    outs, oitems = _outputs(c, *c.dims({n: x.shape for n, x in arrays.items()}))
    c.run(items, oitems)
    return outs


def train(layer, **inputs):
    """The training forward: (outputs, saved) where `saved` (a uint8 array)
    holds what backward() needs."""
    c = layer.compiled(backward=True)
    arrays, items = _prepare(c, inputs)
    B, T, H = c.dims({n: x.shape for n, x in arrays.items()})
    outs, oitems = _outputs(c, B, T, H)
    saved = np.empty(c.saved_bytes(B, T, H), np.uint8)
    c.run_train(items, oitems, saved.ctypes.data, saved.nbytes)
    return outs, saved


def backward(layer, inputs, saved, cotangents):
    """The gradients of every given input (a dict of new arrays, shaped as
    the inputs), from the training forward's `saved` on the same `inputs`
    and the outputs' `cotangents` (by output name; a missing one is zero)."""
    c = layer.compiled(backward=True)
    arrays, items = _prepare(c, inputs)
    c.check_names(cotangents, "output")
    citems, keep = [], []
    for a in c.outputs:
        if a.name in cotangents:
            x = np.ascontiguousarray(cotangents[a.name], _dtype(c, a))
            keep.append(x)
            citems.append((a.name, x.ctypes.data, x.shape))
    grads = {n: np.empty(x.shape, x.dtype) for n, x in arrays.items()}
    if not isinstance(saved, np.ndarray) or saved.dtype != np.uint8:
        raise TTTCError("saved: expected the uint8 array train() returned")
    c.run_backward(items, saved.ctypes.data, saved.nbytes, citems,
                   [(n, g.ctypes.data, g.shape) for n, g in grads.items()])
    return grads
