"""ctypes binding of the C API (include/tttc/tttc.h): the one place that
knows the library's symbols and structs. Everything else in the package goes
through `lib()`."""

import ctypes
import ctypes.util
import os

# What each argument kind of tttc_input_kind / tttc_output_kind is called
# here (the enum in tttc.h, in order).
KINDS = ["token_vector", "token_scalar", "position_scalar", "param_vector", "param_scalar",
         "state_init", "readout", "state_final"]

# What the element types of tttc_io_dtype are, as numpy spells them (bf16
# has no numpy type).
IO_DTYPES = ("f32", "bf16", "f16")


class TTTCError(RuntimeError):
    """A failed tttc call: the message is the C API's tttc_last_error()."""


class Tensor(ctypes.Structure):
    # shape: an int64 pointer (a plain address here: TensorList fills it).
    _fields_ = [("name", ctypes.c_char_p), ("data", ctypes.c_void_p), ("rank", ctypes.c_int),
                ("shape", ctypes.c_void_p)]


class Options(ctypes.Structure):
    _fields_ = [("head_dim", ctypes.c_int64), ("mini_batch", ctypes.c_int64),
                ("exact_chunk", ctypes.c_int64), ("target", ctypes.c_char_p),
                ("arch", ctypes.c_char_p), ("io_dtype", ctypes.c_char_p),
                ("options", ctypes.c_char_p)]


def _candidates():
    env = os.environ.get("TTTC_LIBRARY")
    if env:
        yield env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    # A source checkout: python/tttc -> build/lib (the README's build).
    for build in (os.environ.get("BUILD_DIR", "build"), "build"):
        yield os.path.join(here, "..", "..", build, "lib", "libtttc.so")
    # An installed package: <prefix>/lib/pythonX/.../tttc -> <prefix>/lib.
    yield os.path.join(here, "..", "..", "..", "libtttc.so")
    found = ctypes.util.find_library("tttc")
    if found:
        yield found


_lib = None


def library_path():
    """The libtttc.so this process uses (set TTTC_LIBRARY to choose one)."""
    lib()
    return _lib._name


def lib():
    global _lib
    if _lib is not None:
        return _lib
    tried = []
    for path in _candidates():
        if path and (os.path.exists(path) or os.path.basename(path) == path):
            try:
                _lib = _declare(ctypes.CDLL(path))
                return _lib
            except OSError as e:
                tried.append(f"{path}: {e}")
        else:
            tried.append(f"{path}: no such file")
    raise TTTCError("cannot load libtttc.so (build it with scripts/build.sh, or set "
                    "TTTC_LIBRARY): " + "; ".join(tried))


def _declare(L):
    P, I64, INT, VP, CP = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int, ctypes.c_void_p, \
        ctypes.c_char_p
    TP = ctypes.POINTER(Tensor)
    sig = {
        "tttc_last_error": (CP, []),
        "tttc_last_notes": (CP, []),
        "tttc_default_options": (Options, [I64]),
        "tttc_load_plugin": (INT, [CP]),
        "tttc_compile": (P, [CP, ctypes.POINTER(Options)]),
        "tttc_compile_file": (P, [CP, ctypes.POINTER(Options)]),
        "tttc_destroy": (None, [P]),
        "tttc_io_dtype": (CP, [P]),
        "tttc_layer_name": (CP, [P]),
        "tttc_head_dim": (I64, [P]),
        "tttc_mini_batch": (I64, [P]),
        "tttc_num_inputs": (INT, [P]),
        "tttc_num_outputs": (INT, [P]),
        "tttc_input_name": (CP, [P, INT]),
        "tttc_output_name": (CP, [P, INT]),
        "tttc_input_kind": (INT, [P, INT]),
        "tttc_output_kind": (INT, [P, INT]),
        "tttc_input_optional": (INT, [P, INT]),
        "tttc_input_shape": (INT, [P, INT, I64, I64, I64, ctypes.POINTER(I64)]),
        "tttc_output_shape": (INT, [P, INT, I64, I64, I64, ctypes.POINTER(I64)]),
        "tttc_run": (INT, [P, TP, INT, TP, INT]),
        "tttc_run_cuda": (INT, [P, TP, INT, TP, INT, VP]),
        "tttc_has_backward": (INT, [P]),
        "tttc_saved_bytes": (I64, [P, I64, I64, I64]),
        "tttc_run_train": (INT, [P, TP, INT, TP, INT, VP, I64]),
        "tttc_run_backward_saved": (INT, [P, TP, INT, VP, I64, TP, INT, TP, INT]),
        "tttc_run_backward": (INT, [P, TP, INT, TP, INT, TP, INT]),
        "tttc_run_train_cuda": (INT, [P, TP, INT, TP, INT, VP, I64, VP]),
        "tttc_run_varlen_cuda": (INT, [P, TP, INT, TP, INT, ctypes.POINTER(I64), INT, VP]),
        "tttc_run_train_varlen_cuda": (INT, [P, TP, INT, TP, INT, ctypes.POINTER(I64), INT, VP,
                                             I64, VP]),
        "tttc_run_backward_varlen_cuda": (INT, [P, TP, INT, ctypes.POINTER(I64), INT, VP, I64,
                                                TP, INT, TP, INT, VP]),
        "tttc_run_backward_cuda": (INT, [P, TP, INT, VP, I64, TP, INT, TP, INT, VP]),
        "tttc_run_varlen": (INT, [P, TP, INT, TP, INT, ctypes.POINTER(I64), INT]),
        "tttc_saved_bytes_varlen": (I64, [P, ctypes.POINTER(I64), INT, I64]),
        "tttc_run_train_varlen": (INT, [P, TP, INT, TP, INT, ctypes.POINTER(I64), INT, VP, I64]),
        "tttc_run_backward_varlen": (INT, [P, TP, INT, ctypes.POINTER(I64), INT, VP, I64, TP,
                                           INT, TP, INT]),
        "tttc_decode_state_bytes": (I64, [P, I64, I64]),
        "tttc_decode_init": (INT, [P, TP, INT, I64, I64, VP, I64]),
        "tttc_decode_step": (INT, [P, TP, INT, VP, I64, TP, INT]),
        "tttc_decode_position": (I64, [VP, I64]),
    }
    for name, (res, args) in sig.items():
        f = getattr(L, name)
        f.restype, f.argtypes = res, args
    return L


def last_error():
    return lib().tttc_last_error().decode()


def check(rc, what):
    if rc != 0:
        raise TTTCError(f"{what}: {last_error()}")


_names = {}


class TensorList:
    """(name, data pointer, shape) triples as a tttc_tensor array. The shapes
    live in one int64 buffer the list keeps alive; names are encoded once per
    process."""

    def __init__(self, items):
        self.n = n = len(items)
        dims = [d for _, _, shape in items for d in shape]
        self._dims = buf = (ctypes.c_int64 * max(1, len(dims)))(*dims)
        base = ctypes.addressof(buf)
        self.array = arr = (Tensor * max(1, n))()
        off = 0
        for i, (name, ptr, shape) in enumerate(items):
            nm = _names.get(name)
            if nm is None:
                nm = _names[name] = name.encode()
            t = arr[i]
            t.name, t.data, t.rank, t.shape = nm, ptr, len(shape), base + 8 * off
            off += len(shape)


def offsets(cu):
    """cu_seqlens (a sequence of N + 1 ints) as a ctypes int64 array."""
    return (ctypes.c_int64 * len(cu))(*cu)


def load_plugin(path):
    """Loads a tttc plugin (a shared library of update rules built against
    this tttc, docs/extending.md): specs compiled from then on in this
    process may use its rules. TTTCError if it was built against another
    tttc version or is no tttc plugin."""
    check(lib().tttc_load_plugin(os.fsencode(path)), "tttc_load_plugin")
