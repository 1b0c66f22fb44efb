"""A compiled layer and its variants: the shared core of tttc.numpy and
tttc.torch. It knows the C API's arguments (names, kinds, shapes, element
types) and runs on raw pointers; the front ends allocate and keep buffers
alive."""

import ctypes
import os
from typing import NamedTuple

from . import _capi
from ._capi import TTTCError

# Kinds whose elements are the layer's I/O type (the others are float32).
IO_KINDS = ("token_vector", "token_scalar", "readout")


class Arg(NamedTuple):
    """An input or output of the layer, in calling order."""
    name: str
    kind: str  # one of _capi.KINDS
    optional: bool

    @property
    def io(self):
        """Whether its elements are the layer's I/O type (else float32)."""
        return self.kind in IO_KINDS


def _options_string(options):
    """Pipeline options (ttt-opt's spelling) from keyword arguments:
    gpu_threads=256 -> "gpu-threads=256", check_races=True -> "check-races"."""
    parts = []
    for key, value in sorted(options.items()):
        name = key.replace("_", "-")
        if value is True:
            parts.append(name)
        elif value is False or value is None:
            continue
        else:
            parts.append(f"{name}={value}")
    return " ".join(parts)


class Compiled:
    """One compilation of a spec (one target, I/O type and option set)."""

    def __init__(self, spec, head_dim, mini_batch, target, io_dtype, backward, options,
                 decode=False):
        L = _capi.lib()
        o = L.tttc_default_options(head_dim)
        o.mini_batch = mini_batch or 0
        o.target = target.encode()
        o.io_dtype = io_dtype.encode()
        opts = dict(options)
        if backward:
            opts["backward"] = True
        if decode:
            opts["decode"] = True
        self._opts = _options_string(opts).encode()
        o.options = self._opts
        self.target, self.io_dtype = target, io_dtype
        if os.path.exists(spec):
            h = L.tttc_compile_file(spec.encode(), ctypes.byref(o))
        else:
            h = L.tttc_compile(spec.encode(), ctypes.byref(o))
        if not h:
            raise TTTCError(f"compiling the layer: {_capi.last_error()}")
        self._h = ctypes.c_void_p(h)
        self._lib = L
        self._out_shapes = {}
        self.name = L.tttc_layer_name(self._h).decode()
        self.head_dim = L.tttc_head_dim(self._h)
        self.mini_batch = L.tttc_mini_batch(self._h)
        self.has_backward = bool(L.tttc_has_backward(self._h))
        self.has_decode = bool(decode or options.get("decode"))
        self.inputs = [Arg(L.tttc_input_name(self._h, i).decode(),
                           _capi.KINDS[L.tttc_input_kind(self._h, i)],
                           bool(L.tttc_input_optional(self._h, i)))
                       for i in range(L.tttc_num_inputs(self._h))]
        self.outputs = [Arg(L.tttc_output_name(self._h, i).decode(),
                            _capi.KINDS[L.tttc_output_kind(self._h, i)], False)
                        for i in range(L.tttc_num_outputs(self._h))]

    def __del__(self):
        h = getattr(self, "_h", None)
        if h:
            self._lib.tttc_destroy(h)

    # Shapes -------------------------------------------------------------
    def dims(self, shapes):
        """(B, T, H) from the inputs' shapes (name -> shape): the first
        per-token vector input's [B, T, H, n]."""
        for a in self.inputs:
            if a.kind == "token_vector" and a.name in shapes:
                s = shapes[a.name]
                if len(s) != 4:
                    raise TTTCError(f"input '{a.name}' has shape {list(s)}, expected "
                                    f"[B, T, H, {self.head_dim}]")
                return int(s[0]), int(s[1]), int(s[2])
        need = [a.name for a in self.inputs if a.kind == "token_vector"]
        raise TTTCError(f"layer '{self.name}': no per-token input given (one of {need})")

    def input_shape(self, name, B, T, H):
        """The shape input `name` has for (B, T, H) (initial states: the
        per-head [H, ...] form; [B, H, ...] is accepted too)."""
        return self._shape(self._lib.tttc_input_shape, self._index(self.inputs, name), B, T, H)

    def output_shape(self, name, B, T, H):
        key = (name, B, T, H)
        s = self._out_shapes.get(key)
        if s is None:
            if len(self._out_shapes) > 1024:
                self._out_shapes.clear()
            s = self._out_shapes[key] = self._shape(
                self._lib.tttc_output_shape, self._index(self.outputs, name), B, T, H)
        return s

    def _shape(self, f, i, B, T, H):
        buf = (ctypes.c_int64 * 8)()
        rank = f(self._h, i, B, T, H, buf)
        return tuple(buf[j] for j in range(rank))

    def _index(self, args, name):
        for i, a in enumerate(args):
            if a.name == name:
                return i
        raise TTTCError(f"layer '{self.name}' has no argument '{name}' (it has "
                        f"{[a.name for a in args]})")

    def check_names(self, given, what="input"):
        """An error naming the first of `given` that is no input (or output,
        what="output") of the layer."""
        known = [a.name for a in (self.inputs if what == "input" else self.outputs)]
        for n in given:
            if n not in known:
                raise TTTCError(f"layer '{self.name}' has no {what} '{n}' (its {what}s: "
                                f"{', '.join(known)})")
        if what == "input":
            missing = [a.name for a in self.inputs if not a.optional and a.name not in given]
            if missing:
                raise TTTCError(f"layer '{self.name}': missing input(s) "
                                f"{', '.join(missing)}")

    def saved_bytes(self, B, T, H, cu_seqlens=None):
        if cu_seqlens is not None:
            cu = _capi.offsets(cu_seqlens)
            return int(self._lib.tttc_saved_bytes_varlen(self._h, cu, len(cu_seqlens) - 1, H))
        return int(self._lib.tttc_saved_bytes(self._h, B, T, H))

    def packed_output_shape(self, name, N, T, H):
        """Output `name`'s shape for a packed batch of N sequences, T tokens in
        all: readouts [1, T, H, n], final states [N, H, ...]."""
        s = self.output_shape(name, N, T, H)
        return (1,) + s[1:] if self.outputs[self._index(self.outputs, name)].kind == "readout" \
            else s

    # Runs on raw pointers: lists of (name, pointer, shape) ------------------
    def run(self, inputs, outputs, stream=None, cu_seqlens=None):
        ti, to = _capi.TensorList(inputs), _capi.TensorList(outputs)
        if cu_seqlens is not None and self.target == "cuda":
            rc = self._lib.tttc_run_varlen_cuda(self._h, ti.array, ti.n, to.array, to.n,
                                                _capi.offsets(cu_seqlens), len(cu_seqlens) - 1,
                                                ctypes.c_void_p(stream or 0))
        elif cu_seqlens is not None:
            rc = self._lib.tttc_run_varlen(self._h, ti.array, ti.n, to.array, to.n,
                                           _capi.offsets(cu_seqlens), len(cu_seqlens) - 1)
        elif self.target == "cuda":
            rc = self._lib.tttc_run_cuda(self._h, ti.array, ti.n, to.array, to.n,
                                         ctypes.c_void_p(stream or 0))
        else:
            rc = self._lib.tttc_run(self._h, ti.array, ti.n, to.array, to.n)
        _capi.check(rc, f"running layer '{self.name}'")

    def run_train(self, inputs, outputs, saved_ptr, saved_bytes, cu_seqlens=None,
                  stream=None):
        """The training forward; on target cuda, device pointers (`saved`
        too) on `stream`."""
        ti, to = _capi.TensorList(inputs), _capi.TensorList(outputs)
        sp = ctypes.c_void_p(saved_ptr)
        if cu_seqlens is not None and self.target == "cuda":
            rc = self._lib.tttc_run_train_varlen_cuda(
                self._h, ti.array, ti.n, to.array, to.n, _capi.offsets(cu_seqlens),
                len(cu_seqlens) - 1, sp, saved_bytes, ctypes.c_void_p(stream or 0))
        elif self.target == "cuda":
            rc = self._lib.tttc_run_train_cuda(self._h, ti.array, ti.n, to.array, to.n, sp,
                                               saved_bytes, ctypes.c_void_p(stream or 0))
        elif cu_seqlens is not None:
            rc = self._lib.tttc_run_train_varlen(self._h, ti.array, ti.n, to.array, to.n,
                                                 _capi.offsets(cu_seqlens),
                                                 len(cu_seqlens) - 1, sp, saved_bytes)
        else:
            rc = self._lib.tttc_run_train(self._h, ti.array, ti.n, to.array, to.n, sp,
                                          saved_bytes)
        _capi.check(rc, f"running layer '{self.name}' (training forward)")

    def run_backward(self, inputs, saved_ptr, saved_bytes, cotangents, grads, cu_seqlens=None,
                     stream=None):
        ti, tc, tg = (_capi.TensorList(inputs), _capi.TensorList(cotangents),
                      _capi.TensorList(grads))
        sp = ctypes.c_void_p(saved_ptr)
        if cu_seqlens is not None and self.target == "cuda":
            rc = self._lib.tttc_run_backward_varlen_cuda(
                self._h, ti.array, ti.n, _capi.offsets(cu_seqlens), len(cu_seqlens) - 1, sp,
                saved_bytes, tc.array, tc.n, tg.array, tg.n, ctypes.c_void_p(stream or 0))
        elif self.target == "cuda":
            rc = self._lib.tttc_run_backward_cuda(self._h, ti.array, ti.n, sp, saved_bytes,
                                                  tc.array, tc.n, tg.array, tg.n,
                                                  ctypes.c_void_p(stream or 0))
        elif cu_seqlens is not None:
            rc = self._lib.tttc_run_backward_varlen(
                self._h, ti.array, ti.n, _capi.offsets(cu_seqlens), len(cu_seqlens) - 1, sp,
                saved_bytes, tc.array, tc.n, tg.array, tg.n)
        else:
            rc = self._lib.tttc_run_backward_saved(self._h, ti.array, ti.n, sp, saved_bytes,
                                                   tc.array, tc.n, tg.array, tg.n)
        _capi.check(rc, f"backward of layer '{self.name}'")


    # The decode step: a decoder state in a caller-owned buffer ----------------
    def decode_state_bytes(self, B, H):
        return int(self._lib.tttc_decode_state_bytes(self._h, B, H))

    def decode_init(self, inits, B, H, state_ptr, state_bytes):
        ti = _capi.TensorList(inits)
        rc = self._lib.tttc_decode_init(self._h, ti.array, ti.n, B, H,
                                        ctypes.c_void_p(state_ptr), state_bytes)
        _capi.check(rc, f"starting a decoder of layer '{self.name}'")

    def decode_step(self, inputs, state_ptr, state_bytes, outputs):
        ti, to = _capi.TensorList(inputs), _capi.TensorList(outputs)
        rc = self._lib.tttc_decode_step(self._h, ti.array, ti.n, ctypes.c_void_p(state_ptr),
                                        state_bytes, to.array, to.n)
        _capi.check(rc, f"decode step of layer '{self.name}'")

    def decode_position(self, state_ptr, state_bytes):
        return int(self._lib.tttc_decode_position(ctypes.c_void_p(state_ptr), state_bytes))


def check_decode_names(c, given, init):
    """Checks the input names of a decoder's start (`init`: initial states
    only) or of a step (the other inputs, every required one given)."""
    kinds = {a.name: a for a in c.inputs}
    for n in given:
        if n not in kinds:
            raise TTTCError(f"layer '{c.name}' has no input '{n}' (its inputs: "
                            f"{', '.join(kinds)})")
        if init and kinds[n].kind != "state_init":
            raise TTTCError(f"input '{n}' is no initial state: it goes to the steps")
        if not init and kinds[n].kind == "state_init":
            raise TTTCError(f"initial state '{n}' goes to the decoder's start, not to a step")
    if not init:
        missing = [a.name for a in c.inputs
                   if a.kind != "state_init" and not a.optional and a.name not in given]
        if missing:
            raise TTTCError(f"layer '{c.name}': missing input(s) {', '.join(missing)}")


class DecoderState:
    """A decoder state (tttc_decode_*) in a buffer it owns: every state at
    the start of the unfinished chunk and that chunk's tokens so far. The
    numpy and torch decoders wrap it."""

    def __init__(self, compiled, B, H, inits):
        if not compiled.has_decode:
            raise TTTCError(f"layer '{compiled.name}' was compiled without its decode step")
        self.compiled, self.batch, self.heads = compiled, int(B), int(H)
        self.nbytes = compiled.decode_state_bytes(self.batch, self.heads)
        if self.nbytes <= 0:
            raise TTTCError(f"layer '{compiled.name}': no decoder state for batch={B}, "
                            f"heads={H} (both must be at least 1)")
        self._buf = (ctypes.c_uint64 * ((self.nbytes + 7) // 8))()
        if inits is not None:
            compiled.decode_init(inits, self.batch, self.heads, self.ptr, self.nbytes)

    @property
    def ptr(self):
        return ctypes.addressof(self._buf)

    @property
    def position(self):
        """Tokens decoded so far."""
        return self.compiled.decode_position(self.ptr, self.nbytes)

    def copy(self):
        """An independent copy (e.g. a forked beam)."""
        c = DecoderState(self.compiled, self.batch, self.heads, None)
        ctypes.memmove(c.ptr, self.ptr, self.nbytes)
        return c

    def step(self, inputs, outputs):
        self.compiled.decode_step(inputs, self.ptr, self.nbytes, outputs)

class Layer:
    """A layer spec (a file path or the spec's text) compiled on demand, once
    per (target, I/O type, with or without the backward), and cached.

    head_dim and mini_batch (None: the spec's own) fix the compiled shapes;
    batch, length and heads vary per call. Further keyword arguments are
    pipeline options as ttt-opt spells them, with '_' for '-'
    (gpu_threads=256, backward_checkpoint=4, check_races=True)."""

    def __init__(self, spec, head_dim, mini_batch=None, target="cpu", io_dtype="f32",
                 **options):
        if not isinstance(spec, str):
            spec = os.fspath(spec)
        if not os.path.exists(spec) and "ttt.layer" not in spec:
            raise TTTCError(f"no spec file '{spec}' (and not a spec's text)")
        if io_dtype not in _capi.IO_DTYPES:
            raise TTTCError(f"io_dtype '{io_dtype}': expected one of {_capi.IO_DTYPES}")
        self.spec, self.head_dim, self.mini_batch = spec, int(head_dim), mini_batch
        self.target, self.io_dtype, self.options = target, io_dtype, options
        self._cache = {}

    def compiled(self, target=None, io_dtype=None, backward=False, decode=False):
        """The compilation for (target, io_dtype) with the backward and the
        decode step where asked, compiled on first use. Any compilation runs
        forwards, so a request reuses one that has what it asks for."""
        key = (target or self.target, io_dtype or self.io_dtype)
        for (t, io, b, d), c in self._cache.items():
            if (t, io) == key and (b or not backward) and (d or not decode):
                return c
        c = Compiled(self.spec, self.head_dim, self.mini_batch, key[0], key[1], backward,
                     self.options, decode)
        self._cache[key + (backward, decode)] = c
        return c

    @property
    def info(self):
        """The default compilation (its inputs, outputs, name)."""
        return self.compiled()

    @property
    def inputs(self):
        return self.info.inputs

    @property
    def outputs(self):
        return self.info.outputs

    @property
    def name(self):
        return self.info.name
