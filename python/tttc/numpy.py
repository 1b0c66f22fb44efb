"""tttc for numpy users: run a layer, its training forward and its backward
on numpy arrays (float32; float16 for per-token arrays of an f16 layer).

    import tttc, tttc.numpy
    layer = tttc.Layer("examples/ttt_linear.mlir", head_dim=64)
    out = tttc.numpy.run(layer, q=q, k=k, v=v, lr=lr, ln_w=ln_w, ln_b=ln_b,
                         w_init=w0, b_init=b0)          # {"out": ..., "w_final": ...}
    out, saved = tttc.numpy.train(layer, **inputs)
    grads = tttc.numpy.backward(layer, inputs, saved, {"out": dout})
    dec = tttc.numpy.decoder(layer, batch=1, heads=4, w_init=w0, b_init=b0)
    y = dec.step(q=q1, k=k1, v=v1, lr=lr1, ln_w=ln_w, ln_b=ln_b)["out"]   # [1, n, 4, 64]
"""

import numpy as np

from ._capi import TTTCError
from .layer import DecoderState, check_decode_names

_NP = {"f32": np.float32, "f16": np.float16}


def _dtype(c, arg):
    if not arg.io or c.io_dtype == "f32":
        return np.dtype(np.float32)
    if c.io_dtype not in _NP:
        raise TTTCError(f"io dtype {c.io_dtype} has no numpy type: use tttc.torch")
    return np.dtype(_NP[c.io_dtype])


def _prepare(c, inputs, check=True):
    if check:
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


def _offsets(cu_seqlens):
    if cu_seqlens is None:
        return None
    cu = np.asarray(cu_seqlens)
    if cu.ndim != 1 or cu.dtype.kind not in "iu" or cu.size < 2:
        raise TTTCError("cu_seqlens: expected a 1-D integer array of N + 1 >= 2 offsets, got "
                        f"{cu.dtype} of shape {list(cu.shape)}")
    return tuple(int(x) for x in cu)


def _outputs(c, B, T, H, cu=None):
    if cu is None:
        shapes = {a.name: c.output_shape(a.name, B, T, H) for a in c.outputs}
    else:
        shapes = {a.name: c.packed_output_shape(a.name, len(cu) - 1, T, H) for a in c.outputs}
    outs = {a.name: np.empty(shapes[a.name], _dtype(c, a)) for a in c.outputs}
    return outs, [(n, x.ctypes.data, x.shape) for n, x in outs.items()]


def run(layer, cu_seqlens=None, **inputs):
    """The layer's outputs (a dict of new arrays) on `inputs` (by name).
    cu_seqlens: a packed batch (N + 1 offsets along T of [1, T_total, ...]
    inputs; final states [N, H, ...])."""
    c = layer.compiled()
    cu = _offsets(cu_seqlens)
    arrays, items = _prepare(c, inputs)
    outs, oitems = _outputs(c, *c.dims({n: x.shape for n, x in arrays.items()}), cu)
    c.run(items, oitems, cu_seqlens=cu)
    return outs


def train(layer, cu_seqlens=None, **inputs):
    """The training forward: (outputs, saved) where `saved` (a uint8 array)
    holds what backward() needs."""
    c = layer.compiled(backward=True)
    cu = _offsets(cu_seqlens)
    arrays, items = _prepare(c, inputs)
    B, T, H = c.dims({n: x.shape for n, x in arrays.items()})
    outs, oitems = _outputs(c, B, T, H, cu)
    saved = np.empty(c.saved_bytes(B, T, H, cu), np.uint8)
    c.run_train(items, oitems, saved.ctypes.data, saved.nbytes, cu)
    return outs, saved


def backward(layer, inputs, saved, cotangents, cu_seqlens=None):
    """The gradients of every given input (a dict of new arrays, shaped as
    the inputs), from the training forward's `saved` on the same `inputs`
    and the outputs' `cotangents` (by output name; a missing one is zero)."""
    c = layer.compiled(backward=True)
    cu = _offsets(cu_seqlens)
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
                   [(n, g.ctypes.data, g.shape) for n, g in grads.items()], cu)
    return grads


class Decoder:
    """Advances a layer's state a few tokens at a time (inference): the
    decode step (pipeline option `decode`, compiled on first use). Decoding
    a sequence in steps of any size gives the forward's outputs on it."""

    def __init__(self, layer, batch, heads, **inits):
        c = layer.compiled(decode=True)
        check_decode_names(c, inits, init=True)
        _, items = _prepare(c, inits, check=False)
        self._state = DecoderState(c, batch, heads, items)

    @property
    def position(self):
        """Tokens decoded so far."""
        return self._state.position

    @property
    def state_bytes(self):
        return self._state.nbytes

    def copy(self):
        """An independent decoder at the same point (a forked beam)."""
        d = Decoder.__new__(Decoder)
        d._state = self._state.copy()
        return d

    def step(self, **inputs):
        """The outputs (a dict of new arrays: readouts [B, n, H, ...] of the n
        given tokens, final states [B, H, ...] after them) for per-token
        inputs [B, n, H, ...] and the layer's other inputs (no initial
        states)."""
        s = self._state
        c = s.compiled
        check_decode_names(c, inputs, init=False)
        arrays, items = _prepare(c, inputs, check=False)
        _, T, _ = c.dims({n: x.shape for n, x in arrays.items()})
        outs, oitems = _outputs(c, s.batch, T, s.heads)
        s.step(items, oitems)
        return outs


def decoder(layer, batch, heads, **inits):
    """A Decoder for `batch` rows and `heads` heads from the initial states
    `inits` (by name, [H, ...] or [batch, H, ...]; omitted ones as in run())."""
    return Decoder(layer, batch, heads, **inits)
