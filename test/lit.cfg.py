# -*- Python -*-
import os
import shutil
import sys

import lit.formats
from lit.llvm import llvm_config

config.name = "TTTC"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["lit.cfg.py", "lit.site.cfg.py", "unit", "Inputs", "cuda"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.tttc_obj_root, "test")

config.substitutions.append(("%tttc_src_root", config.tttc_src_root))
config.substitutions.append(("%examples", os.path.join(config.tttc_src_root, "examples")))
config.substitutions.append(("%tttc_include", os.path.join(config.tttc_src_root, "include")))
config.substitutions.append(("%tttc_lib", os.path.join(config.tttc_obj_root, "lib")))
llvm_config.use_default_substitutions()
tool_dirs = [os.path.join(config.tttc_obj_root, "bin"), config.llvm_tools_dir]
llvm_config.add_tool_substitutions(["ttt-opt", "tttc", "FileCheck", "not", "count", "llvm-nm",
                                    "tttc-launch-check", "tttc-train-check"], tool_dirs)
config.substitutions.append(("%fake_cuda", os.path.join(config.tttc_obj_root, "test", "fake-cuda")))
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

ptxas = shutil.which("ptxas") or ("/usr/local/cuda/bin/ptxas"
                                   if os.path.exists("/usr/local/cuda/bin/ptxas") else None)
if ptxas:
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))
else:
    lit_config.note("ptxas not found (PATH, /usr/local/cuda/bin): PTX assembly tests are skipped")
# Python-side tests use the interpreter running lit (Debian's python3 with
# python3-numpy on CI).
config.substitutions.append(("%python", sys.executable))
try:
    import numpy  # noqa: F401
    config.available_features.add("numpy")
except ImportError:
    lit_config.note("python3-numpy missing: .npy interop tests are skipped")
try:
    import torch  # noqa: F401
    config.available_features.add("torch")
except ImportError:
    lit_config.note("python3-torch missing: PyTorch-side tests are skipped")

# A real CUDA driver with a device: the GPU tests run for real.
try:
    import ctypes
    _cuda = ctypes.CDLL("libcuda.so.1")
    _n = ctypes.c_int(0)
    if _cuda.cuInit(0) == 0 and _cuda.cuDeviceGetCount(ctypes.byref(_n)) == 0 and _n.value > 0:
        config.available_features.add("cuda-driver")
except OSError:
    pass
if "cuda-driver" not in config.available_features:
    lit_config.note("no CUDA driver or device: GPU runs are skipped (the emulation tests run)")
