#!/usr/bin/env python3
"""Run tttc kernels (PTX or cubin) on a real GPU and compare with the CPU outputs.

Usage: run_ptx.py KERNEL.ptx|KERNEL.cubin DIR [KERNEL DIR ...]
  DIR/inputs/NAME.npy: the layer's inputs; DIR/NAME.npy: its outputs from the
  CPU target (`tttc run SPEC --output-dir DIR --save-inputs`). The kernel is
  launched through tttc's own runtime (bench/gpu/tttc_cuda.py). Prints max
  |gpu - cpu| / max |cpu| per output; exits 1 above 1e-5.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tttc_cuda  # noqa: E402


def run(ptx_path, d):
    k = tttc_cuda.Kernel(ptx_path)
    inputs = {f[:-4]: np.load(os.path.join(d, "inputs", f))
              for f in os.listdir(os.path.join(d, "inputs"))}
    ref = {f[:-4]: np.load(os.path.join(d, f)) for f in os.listdir(d) if f.endswith(".npy")}
    B, T, H = inputs["q"].shape[:3]
    dev, bufs = {}, []
    for name, rank in k.params:
        if name in inputs:
            a = inputs[name]
        elif name in ref:
            a = np.full(ref[name].shape, np.nan, dtype=np.float32)
        else:  # an omitted optional input: size 0 in its first dimension
            a = np.zeros((0,) + (1,) * (rank - 1), dtype=np.float32)
        while a.ndim < rank:  # a shared initial state [H, ...] as [1, H, ...]
            a = a[None]
        dev[name] = tttc_cuda.DeviceArray(a)
        bufs.append((dev[name].ptr, list(a.shape)))
    k.launch(int(B), int(H), bufs)
    tttc_cuda.synchronize()
    worst = 0.0
    for n, r in sorted(ref.items()):
        got = dev[n].numpy().reshape(r.shape)
        err = float(np.max(np.abs(got.astype(np.float64) - r)) / max(np.max(np.abs(r)), 1e-30))
        if not np.all(np.isfinite(got)):
            err = float("inf")
        worst = max(worst, err)
        print(f"  {n:12s} {str(list(r.shape)):22s} max rel err vs CPU: {err:.3e}")
    print(f"{os.path.basename(ptx_path)}: block {k.block}, shared {k.shared_bytes} B, scratch "
          f"{k.scratch_bytes} B/program, {k.column_blocks} program(s) per (b, h): "
          f"max rel err {worst:.3e} "
          f"({'ok' if worst <= 1e-5 else 'ABOVE 1e-5'})")
    return worst <= 1e-5


def main():
    args = sys.argv[1:]
    if not args or len(args) % 2:
        sys.exit(__doc__)
    ok = all([run(args[i], args[i + 1]) for i in range(0, len(args), 2)])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
