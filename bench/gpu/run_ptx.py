#!/usr/bin/env python3
"""Run a tttc kernel's PTX on a real GPU (CuPy) and compare with CPU outputs.

Usage: run_ptx.py KERNEL.ptx DIR
  DIR/inputs/NAME.npy: the layer's inputs; DIR/NAME.npy: its outputs from the
  CPU target (`tttc run ... --output-dir DIR --save-inputs`).
The PTX's `// tttc-kernel` comments give the kernel name, the grid and the
parameters (layer buffers as memref descriptors: allocated and aligned
pointers, offset, sizes, strides), by name and rank.
Prints one line per output with max |gpu - cpu| / max |cpu|, and the kernel's
median time over repeated launches.
"""
import os
import sys

import cupy as cp
import numpy as np


def main():
    ptx_path, d = sys.argv[1], sys.argv[2]
    lines = open(ptx_path).read().splitlines()
    name = next(l.split()[2] for l in lines if l.startswith("// tttc-kernel "))
    params = next(l.split()[2:] for l in lines if l.startswith("// tttc-kernel-params"))
    inputs = {f[:-4]: np.load(os.path.join(d, "inputs", f))
              for f in os.listdir(os.path.join(d, "inputs"))}
    ref = {f[:-4]: np.load(os.path.join(d, f)) for f in os.listdir(d) if f.endswith(".npy")}
    B, T, H = inputs["q"].shape[:3]
    dev, args = {}, []
    for p in params:
        n, rank = p.split(":")
        rank = int(rank)
        if n in inputs:
            a = inputs[n]
        elif n in ref:
            a = np.full(ref[n].shape, np.nan, dtype=np.float32)
        else:  # an omitted optional input: size 0 in its first dimension
            a = np.zeros((0,) + (1,) * (rank - 1), dtype=np.float32)
        while a.ndim < rank:  # a shared initial state [H, ...] as [1, H, ...]
            a = a[None]
        g = cp.asarray(np.ascontiguousarray(a, dtype=np.float32))
        dev[n] = g
        ptr = np.uint64(g.data.ptr if g.size else 0)
        strides = [s // 4 for s in g.strides] if g.size else [1] * rank
        args += [ptr, ptr, np.int64(0)] + [np.int64(s) for s in g.shape] + \
                [np.int64(s) for s in strides]
    mod = cp.RawModule(path=ptx_path)
    kernel = mod.get_function(name)
    grid, block = (int(B), int(H), 1), (1, 1, 1)
    kernel(grid, block, tuple(args))
    cp.cuda.runtime.deviceSynchronize()
    worst = 0.0
    for n, r in sorted(ref.items()):
        got = cp.asnumpy(dev[n]).reshape(r.shape)
        err = float(np.max(np.abs(got.astype(np.float64) - r)) / max(np.max(np.abs(r)), 1e-30))
        if not np.all(np.isfinite(got)):
            err = float("inf")
        worst = max(worst, err)
        print(f"  {n:10s} {str(list(r.shape)):22s} max rel err vs CPU: {err:.3e}")
    start, stop = cp.cuda.Event(), cp.cuda.Event()
    times = []
    for _ in range(10):
        start.record()
        kernel(grid, block, tuple(args))
        stop.record()
        stop.synchronize()
        times.append(cp.cuda.get_elapsed_time(start, stop))
    print(f"{os.path.basename(ptx_path)}: {name} grid {grid}: max rel err {worst:.3e} "
          f"{'ok' if worst <= 1e-5 else 'MISMATCH'}; median {sorted(times)[5]:.3f} ms "
          f"({cp.cuda.runtime.getDeviceProperties(0)['name'].decode()})")
    return 0 if worst <= 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
