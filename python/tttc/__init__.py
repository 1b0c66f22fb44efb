"""tttc from Python: compile a test-time-training layer spec, run it, train
it. tttc.numpy runs layers on numpy arrays, tttc.torch wraps them as a
torch.autograd.Function and an nn.Module; both share one ctypes binding of
the C API (include/tttc/tttc.h)."""

from ._capi import TTTCError, library_path, load_plugin
from .layer import Arg, Compiled, Layer

__all__ = ["Arg", "Compiled", "Layer", "TTTCError", "library_path", "load_plugin"]
