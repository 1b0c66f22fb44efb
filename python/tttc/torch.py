"""tttc layers in PyTorch: TTTFunction (a torch.autograd.Function whose
backward is the generated one) and TTTLayer (an nn.Module).

    import tttc.torch
    layer = tttc.torch.TTTLayer("examples/ttt_linear.mlir", head_dim=64,
                                parameters={"ln_w": torch.ones(H, 64), "ln_b": torch.zeros(H, 64)})
    outs = layer(q=q, k=k, v=v, lr=lr, w_init=w0, b_init=b0)   # {"out": ..., "w_final": ...}
    outs["out"].square().sum().backward()
    dec = layer.decoder(batch=1, heads=H, w_init=w0, b_init=b0)   # inference
    y = dec.step(q=q1, k=k1, v=v1, lr=lr1)["out"]                 # q1: [1, n, H, 64]

Tensors are float32 (per-token inputs and readouts: float32, bfloat16 or
float16, compiled per dtype); CPU tensors run on the cpu target (or the
layer's cuda-emu target), CUDA tensors through the cuda target on the
current stream; meta tensors give the outputs' shapes. Non-contiguous
inputs are copied once (counted in `stats["contiguous_copies"]`, with a
warning). A layer call is the torch.library operator tttc::forward (its
autograd: tttc::train, then tttc::backward), one node in traced graphs."""

import warnings
import weakref

import torch
from torch.autograd.function import once_differentiable

from . import _capi
from ._capi import TTTCError
from .layer import DecoderState, Layer, check_decode_names

_IO = {torch.float32: "f32", torch.bfloat16: "bf16", torch.float16: "f16"}

stats = {"contiguous_copies": 0}


def _contiguous(name, x):
    if x.is_contiguous():
        return x
    stats["contiguous_copies"] += 1
    warnings.warn(f"tttc: input '{name}' is not contiguous; copied (stats['contiguous_copies'] "
                  f"= {stats['contiguous_copies']})", stacklevel=3)
    return x.contiguous()


def _compiled_for(layer, names, tensors, backward, meta=False):
    """The compilation that runs `tensors`: the target from their device,
    the I/O type from their per-token inputs' dtype (`meta`: meta tensors,
    described by the cpu target's compilation)."""
    info = layer.info
    devices = {t.device for t in tensors}
    if len(devices) != 1:
        raise TTTCError(f"layer '{info.name}': inputs on several devices "
                        f"({', '.join(sorted(str(d) for d in devices))})")
    device = devices.pop()
    if meta:
        target = "cpu"
    elif device.type == "cuda":
        target = "cuda"
    elif device.type == "cpu":
        target = layer.target if layer.target != "cuda" else "cpu"
    else:
        raise TTTCError(f"layer '{info.name}': tensors on {device} (cpu and cuda only)")
    kinds = {a.name: a for a in info.inputs}
    io = None
    for n, t in zip(names, tensors):
        if kinds[n].io:
            if t.dtype not in _IO:
                raise TTTCError(f"input '{n}' has dtype {t.dtype}, expected torch.float32, "
                                "torch.bfloat16 or torch.float16")
            if io is None:
                io = _IO[t.dtype]
            elif _IO[t.dtype] != io:
                raise TTTCError(f"input '{n}' has dtype {t.dtype}; the other per-token inputs "
                                f"are {io}")
        elif t.dtype != torch.float32:
            raise TTTCError(f"input '{n}' has dtype {t.dtype}, expected torch.float32 (states "
                            "and parameters are float32)")
    return layer.compiled(target, io or "f32", backward), device


def _dtype(c, arg):
    if not arg.io or c.io_dtype == "f32":
        return torch.float32
    return {"bf16": torch.bfloat16, "f16": torch.float16}[c.io_dtype]


def _items(names, tensors):
    return [(n, t.data_ptr(), tuple(t.shape)) for n, t in zip(names, tensors)]


def _stream(device):
    return torch.cuda.current_stream(device).cuda_stream if device.type == "cuda" else None


def _run_forward(layer, names, tensors, cu_seqlens, train, meta=False):
    """The layer's outputs on `tensors` (and with `train` the saved states,
    a uint8 tensor, last); `meta`: shapes only (meta tensors), from the cpu
    compilation."""
    c, device = _compiled_for(layer, names, tensors, backward=train, meta=meta)
    B, T, H = c.dims({n: t.shape for n, t in zip(names, tensors)})
    if cu_seqlens is None:
        shapes = [c.output_shape(a.name, B, T, H) for a in c.outputs]
    else:
        shapes = [c.packed_output_shape(a.name, len(cu_seqlens) - 1, T, H)
                  for a in c.outputs]
    outs = [torch.empty(s, dtype=_dtype(c, a), device=device)
            for s, a in zip(shapes, c.outputs)]
    saved = None
    if train:
        saved = torch.empty(c.saved_bytes(B, T, H, cu_seqlens), dtype=torch.uint8,
                            device=device)
    if meta:
        return outs + ([saved] if train else [])
    oitems = _items([a.name for a in c.outputs], outs)
    if not train:
        c.run(_items(names, tensors), oitems, _stream(device), cu_seqlens)
        return outs
    c.run_train(_items(names, tensors), oitems, saved.data_ptr(), saved.numel(), cu_seqlens,
                _stream(device))
    return outs + [saved]


def _run_backward(layer, names, tensors, saved, cotangents, needs, cu_seqlens, meta=False):
    """The gradient of each input where `needs` says (an empty tensor
    elsewhere); `cotangents` per output, None for a zero one."""
    c, device = _compiled_for(layer, names, tensors, backward=True, meta=meta)
    grads = [torch.empty_like(t) if n else torch.empty(0, device=t.device)
             for t, n in zip(tensors, needs)]
    if meta:
        return grads
    citems, keep = [], []
    for a, g in zip(c.outputs, cotangents):
        if g is None:
            continue  # a zero cotangent
        g = g.to(_dtype(c, a)).contiguous()
        keep.append(g)
        citems.append((a.name, g.data_ptr(), tuple(g.shape)))
    gitems = [(nm, g.data_ptr(), tuple(g.shape)) for nm, g, n in zip(names, grads, needs) if n]
    c.run_backward(_items(names, tensors), saved.data_ptr(), saved.numel(), citems, gitems,
                   cu_seqlens, _stream(device))
    return grads


# The layer as torch.library operators, so that graphs (torch.compile,
# tracing) keep a layer call as one node per direction:
#   tttc::forward(layer, names, inputs, cu_seqlens) -> outputs
#   tttc::train(...)   -> outputs, then the saved states (uint8)
#   tttc::backward(layer, names, inputs, saved, cotangents, needs, cu_seqlens)
#       -> a gradient per input (an empty tensor where `needs` is false)
# `layer` names a live tttc.Layer (_op_key); CPU and CUDA kernels run it,
# Meta kernels give the shapes, and forward's Autograd kernel is
# TTTFunction (train, then backward).
_ops = torch.library.Library("tttc", "DEF")
_ops.define("forward(str layer, str[] names, Tensor[] inputs, int[]? cu_seqlens) -> Tensor[]")
_ops.define("train(str layer, str[] names, Tensor[] inputs, int[]? cu_seqlens) -> Tensor[]")
_ops.define("backward(str layer, str[] names, Tensor[] inputs, Tensor saved, "
            "Tensor?[] cotangents, bool[] needs, int[]? cu_seqlens) -> Tensor[]")
_live = weakref.WeakValueDictionary()


def _op_key(layer):
    key = f"{layer.name}@{id(layer):x}"
    _live[key] = layer
    return key


def _layer_of(key):
    layer = _live.get(key)
    if layer is None:
        raise TTTCError(f"tttc op: layer '{key}' is no longer alive")
    return layer


def _cu(cu_seqlens):
    return None if cu_seqlens is None else tuple(cu_seqlens)


for _dispatch, _meta in (("CPU", False), ("CUDA", False), ("Meta", True)):
    _ops.impl("forward", lambda key, names, inputs, cu, m=_meta: _run_forward(
        _layer_of(key), tuple(names), inputs, _cu(cu), False, m), _dispatch)
    _ops.impl("train", lambda key, names, inputs, cu, m=_meta: _run_forward(
        _layer_of(key), tuple(names), inputs, _cu(cu), True, m), _dispatch)
    _ops.impl("backward", lambda key, names, inputs, saved, cots, needs, cu, m=_meta:
              _run_backward(_layer_of(key), tuple(names), inputs, saved, cots, needs, _cu(cu), m),
              _dispatch)


class TTTFunction(torch.autograd.Function):
    """apply(layer, names, cu_seqlens, *tensors) -> the layer's outputs, in
    its output order; `names` are the input names of `tensors`, cu_seqlens a
    tuple of offsets or None. Its forward is the tttc::train operator, its
    backward tttc::backward."""

    @staticmethod
    def forward(ctx, layer, names, cu_seqlens, *tensors):
        key = _op_key(layer)
        cu = None if cu_seqlens is None else list(cu_seqlens)
        *outs, saved = torch.ops.tttc.train(key, list(names), list(tensors), cu)
        ctx.key, ctx.names, ctx.cu, ctx.layer = key, list(names), cu, layer
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(*tensors, saved)
        return tuple(outs)

    @staticmethod
    @once_differentiable
    def backward(ctx, *cotangents):
        *tensors, saved = ctx.saved_tensors
        needs = list(ctx.needs_input_grad[3:])
        grads = torch.ops.tttc.backward(ctx.key, ctx.names, list(tensors), saved,
                                        list(cotangents), needs, ctx.cu)
        return (None, None, None, *[g if n else None for g, n in zip(grads, needs)])


def _forward_autograd(key, names, inputs, cu):
    if torch.is_grad_enabled() and any(t.requires_grad for t in inputs):
        return list(TTTFunction.apply(_layer_of(key), tuple(names), _cu(cu), *inputs))
    below = torch._C._AutoDispatchBelowAutograd()  # a guard, released by `del`
    try:
        return torch.ops.tttc.forward(key, names, inputs, cu)
    finally:
        del below


_ops.impl("forward", _forward_autograd, "Autograd")


def _offsets(cu_seqlens):
    if cu_seqlens is None:
        return None
    if isinstance(cu_seqlens, torch.Tensor):
        if cu_seqlens.dim() != 1 or cu_seqlens.dtype not in (torch.int32, torch.int64):
            raise TTTCError(f"cu_seqlens: expected a 1-D int32 or int64 tensor of N + 1 offsets, "
                            f"got {cu_seqlens.dtype} of shape {list(cu_seqlens.shape)}")
        cu_seqlens = cu_seqlens.tolist()
    cu = tuple(int(x) for x in cu_seqlens)
    if len(cu) < 2:
        raise TTTCError(f"cu_seqlens: expected N + 1 >= 2 offsets, got {len(cu)}")
    return cu


def run(layer, cu_seqlens=None, **inputs):
    """The layer's outputs (a dict by output name) on torch tensors, with
    autograd through the generated backward. `cu_seqlens` (N + 1 offsets,
    int32/int64): a packed batch of N sequences along T of [1, T_total, H,
    ...] inputs, each from the initial state (per head, or [N, H, ...]),
    final states [N, H, ...]."""
    cu = _offsets(cu_seqlens)
    info = layer.info
    info.check_names(inputs)
    names = tuple(a.name for a in info.inputs if a.name in inputs)
    tensors = []
    for n in names:
        t = inputs[n]
        if not isinstance(t, torch.Tensor):
            raise TTTCError(f"input '{n}': expected a torch.Tensor, got {type(t).__name__}")
        tensors.append(_contiguous(n, t))
    outs = torch.ops.tttc.forward(_op_key(layer), list(names), tensors,
                                  None if cu is None else list(cu))
    return {a.name: o for a, o in zip(info.outputs, outs)}


class Decoder:
    """Advances a layer's state a few tokens at a time, for inference: the
    decode step (pipeline option `decode`, compiled on first use) on CPU
    tensors. Decoding a sequence in steps of any size gives the forward's
    outputs on it; outputs carry no autograd history. io_dtype: the per-token
    tensors' type (f32, bf16, f16)."""

    def __init__(self, layer, batch, heads, io_dtype=None, **inits):
        info = layer.info
        for n, t in inits.items():
            if not isinstance(t, torch.Tensor):
                raise TTTCError(f"input '{n}': expected a torch.Tensor, got {type(t).__name__}")
            if t.device.type != "cpu":
                raise TTTCError(f"layer '{info.name}': the decode step runs on CPU tensors so "
                                f"far, not {t.device}")
            if t.dtype != torch.float32:
                raise TTTCError(f"input '{n}' has dtype {t.dtype}, expected torch.float32")
        target = layer.target if layer.target != "cuda" else "cpu"
        c = layer.compiled(target, io_dtype or layer.io_dtype, decode=True)
        check_decode_names(c, inits, init=True)
        # Contiguous copies, alive while DecoderState reads them.
        keep = {n: _contiguous(n, t.detach()) for n, t in inits.items()}
        names = [a.name for a in c.inputs if a.name in keep]
        self._state = DecoderState(c, batch, heads, _items(names, [keep[n] for n in names]))
        self._fixed = {}  # inputs of every step (a module's parameters)

    @property
    def position(self):
        """Tokens decoded so far."""
        return self._state.position

    def copy(self):
        """An independent decoder at the same point (a forked beam)."""
        d = Decoder.__new__(Decoder)
        d._state, d._fixed = self._state.copy(), self._fixed
        return d

    def step(self, **inputs):
        """The outputs (readouts [B, n, H, ...] of the n given tokens, final
        states [B, H, ...] after them) for per-token inputs [B, n, H, ...] and
        the layer's other inputs (no initial states), as a dict."""
        for n in inputs:
            if n in self._fixed:
                raise TTTCError(f"input '{n}' is a parameter of this module; not also an "
                                "argument")
        inputs = {**self._fixed, **inputs}
        s = self._state
        c = s.compiled
        check_decode_names(c, inputs, init=False)
        kinds = {a.name: a for a in c.inputs}
        names = tuple(a.name for a in c.inputs if a.name in inputs)
        tensors = []
        for n in names:
            t = inputs[n]
            if not isinstance(t, torch.Tensor):
                raise TTTCError(f"input '{n}': expected a torch.Tensor, got {type(t).__name__}")
            if t.device.type != "cpu":
                raise TTTCError(f"layer '{c.name}': the decode step runs on CPU tensors so "
                                f"far, not {t.device}")
            want = _dtype(c, kinds[n])
            if t.dtype != want:
                raise TTTCError(f"input '{n}' has dtype {t.dtype}, expected {want} (the "
                                f"decoder's io_dtype is {c.io_dtype})")
            tensors.append(_contiguous(n, t.detach()))
        _, T, _ = c.dims({n: t.shape for n, t in zip(names, tensors)})
        outs = [torch.empty(c.output_shape(a.name, s.batch, T, s.heads), dtype=_dtype(c, a))
                for a in c.outputs]
        s.step(_items(names, tensors), _items([a.name for a in c.outputs], outs))
        return {a.name: o for a, o in zip(c.outputs, outs)}


class TTTLayer(torch.nn.Module):
    """A tttc layer as a module. `parameters` (name -> tensor) become its
    nn.Parameters and fill those inputs; forward(**inputs) takes the others
    and returns the outputs as a dict. Keyword options as for tttc.Layer."""

    def __init__(self, spec, head_dim, mini_batch=None, parameters=None, target="cpu",
                 **options):
        super().__init__()
        self.layer = Layer(spec, head_dim, mini_batch, target=target, **options)
        known = {a.name for a in self.layer.inputs}
        for name, value in (parameters or {}).items():
            if name not in known:
                raise TTTCError(f"parameter '{name}' is no input of layer '{self.layer.name}'")
            self.register_parameter(name, torch.nn.Parameter(
                torch.as_tensor(value, dtype=torch.float32).clone()))

    def forward(self, cu_seqlens=None, **inputs):
        merged = dict(self.named_parameters(recurse=False))
        for n in inputs:
            if n in merged:
                raise TTTCError(f"input '{n}' is a parameter of this module; not also an "
                                "argument")
        merged.update(inputs)
        return run(self.layer, cu_seqlens=cu_seqlens, **merged)

    def decoder(self, batch, heads, io_dtype=None, **inits):
        """A Decoder over this module's layer: its parameters fill the
        initial states they name (at the start) and the other inputs (at
        every step); `inits` are the other initial states."""
        params = dict(self.named_parameters(recurse=False))
        kinds = {a.name: a.kind for a in self.layer.inputs}
        start = {n: p for n, p in params.items() if kinds[n] == "state_init"}
        start.update(inits)
        dec = Decoder(self.layer, batch, heads, io_dtype, **start)
        dec._fixed = {n: p for n, p in params.items() if kinds[n] != "state_init"}
        return dec

    def extra_repr(self):
        return f"layer={self.layer.name}, head_dim={self.layer.head_dim}"
