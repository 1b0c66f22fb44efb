"""ctypes binding of tttc's GPU launch runtime (include/tttc/tttc_cuda.h).

The runtime needs no MLIR: on a GPU machine without a tttc build it is
compiled from lib/CudaRuntime/CudaDriver.cpp with the system C++ compiler
(TTTC_CUDA_LIB overrides the library path). Kernels are PTX files emitted by
`tttc SPEC --emit=ptx` (or `tttc compile --target=cuda --emit=ptx`), or cubins
from `tttc compile --target=cuda --emit=cubin` (with their .tttc header).
"""
import ctypes
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _library():
    path = os.environ.get("TTTC_CUDA_LIB")
    candidates = [path] if path else [os.path.join(ROOT, "build", "lib", "libtttc_cuda.so"),
                                      os.path.join(ROOT, ".gpurun", "libtttc_cuda.so")]
    for c in candidates:
        if c and os.path.exists(c):
            return ctypes.CDLL(c)
    out = os.path.join(ROOT, ".gpurun", "libtttc_cuda.so")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    subprocess.check_call(["c++", "-O2", "-std=c++17", "-shared", "-fPIC",
                           "-I" + os.path.join(ROOT, "include"),
                           os.path.join(ROOT, "lib", "CudaRuntime", "CudaDriver.cpp"),
                           "-o", out, "-ldl"])
    return ctypes.CDLL(out)


_lib = _library()
_i64p = ctypes.POINTER(ctypes.c_int64)
_lib.tttc_cuda_available.restype = ctypes.c_int
_lib.tttc_cuda_device_arch.restype = ctypes.c_char_p
_lib.tttc_cuda_last_error.restype = ctypes.c_char_p
_lib.tttc_cuda_load_file.restype = ctypes.c_void_p
_lib.tttc_cuda_load_file.argtypes = [ctypes.c_char_p]
for f in ("tttc_cuda_num_params", "tttc_cuda_block_size", "tttc_cuda_column_blocks"):
    getattr(_lib, f).restype = ctypes.c_int
    getattr(_lib, f).argtypes = [ctypes.c_void_p]
for f in ("tttc_cuda_shared_bytes", "tttc_cuda_scratch_bytes"):
    getattr(_lib, f).restype = ctypes.c_int64
    getattr(_lib, f).argtypes = [ctypes.c_void_p]
_lib.tttc_cuda_param_name.restype = ctypes.c_char_p
_lib.tttc_cuda_param_name.argtypes = [ctypes.c_void_p, ctypes.c_int]
_lib.tttc_cuda_param_rank.restype = ctypes.c_int
_lib.tttc_cuda_param_rank.argtypes = [ctypes.c_void_p, ctypes.c_int]
_lib.tttc_cuda_launch.restype = ctypes.c_int
_lib.tttc_cuda_launch.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64,
                                  ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(_i64p),
                                  ctypes.c_void_p]
_lib.tttc_cuda_alloc_device.restype = ctypes.c_void_p
_lib.tttc_cuda_alloc_device.argtypes = [ctypes.c_size_t]
_lib.tttc_cuda_free_device.argtypes = [ctypes.c_void_p]
_lib.tttc_cuda_copy_to_device.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
_lib.tttc_cuda_copy_to_host.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
_lib.tttc_cuda_synchronize.argtypes = [ctypes.c_void_p]


class Error(RuntimeError):
    pass


def _check(ok):
    if not ok:
        raise Error(_lib.tttc_cuda_last_error().decode())


def device_arch():
    arch = _lib.tttc_cuda_device_arch()
    _check(arch is not None)
    return arch.decode()


class Kernel:
    """A tttc kernel loaded from PTX or a cubin; launch(B, H, buffers) with
    buffers in params order as (device pointer, shape) pairs."""

    def __init__(self, path):
        self.handle = _lib.tttc_cuda_load_file(os.fsencode(path))
        _check(self.handle)
        n = _lib.tttc_cuda_num_params(self.handle)
        self.params = [(_lib.tttc_cuda_param_name(self.handle, i).decode(),
                        _lib.tttc_cuda_param_rank(self.handle, i)) for i in range(n)]
        self.block = _lib.tttc_cuda_block_size(self.handle)
        self.shared_bytes = _lib.tttc_cuda_shared_bytes(self.handle)
        self.scratch_bytes = _lib.tttc_cuda_scratch_bytes(self.handle)
        self.column_blocks = _lib.tttc_cuda_column_blocks(self.handle)

    def launch(self, B, H, buffers, stream=None):
        assert len(buffers) == len(self.params)
        ptrs = (ctypes.c_void_p * len(buffers))(*[p for p, _ in buffers])
        keep = [(ctypes.c_int64 * max(1, len(s)))(*s) for _, s in buffers]
        shapes = (_i64p * len(buffers))(*[ctypes.cast(k, _i64p) for k in keep])
        _check(_lib.tttc_cuda_launch(self.handle, B, H, ptrs, shapes, stream) == 0)


class DeviceArray:
    """float32 device memory filled from / read back into numpy arrays."""

    def __init__(self, host):
        import numpy as np
        self.shape = tuple(host.shape)
        self.nbytes = host.size * 4
        self.ptr = _lib.tttc_cuda_alloc_device(self.nbytes) if self.nbytes else None
        if self.nbytes:
            _check(self.ptr)
            h = np.ascontiguousarray(host, dtype=np.float32)
            _check(_lib.tttc_cuda_copy_to_device(self.ptr, h.ctypes.data, self.nbytes) == 0)

    def numpy(self):
        import numpy as np
        out = np.empty(self.shape, dtype=np.float32)
        if self.nbytes:
            _check(_lib.tttc_cuda_copy_to_host(out.ctypes.data, self.ptr, self.nbytes) == 0)
        return out

    def __del__(self):
        if getattr(self, "ptr", None):
            _lib.tttc_cuda_free_device(self.ptr)


def synchronize(stream=None):
    _check(_lib.tttc_cuda_synchronize(stream) == 0)
