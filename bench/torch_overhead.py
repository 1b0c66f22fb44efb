#!/usr/bin/env python3
"""The PyTorch layer's overhead (issue 15): per call at small T, tttc.torch
(TTTFunction: name checks, dtype checks, output allocation, autograd) against
calling the C API directly on preallocated buffers (one prebuilt tttc_tensor
array per call through ctypes: the least any Python caller pays), same layer,
same inputs, same process, calls interleaved.

  /usr/bin/python3 bench/torch_overhead.py [--repeat N]
"""
import argparse
import math
import os
import statistics
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))
import tttc  # noqa: E402
import tttc.torch as tt  # noqa: E402
from tttc import _capi  # noqa: E402


def median_us(f, g, repeat):
    """Medians of f's and g's times, calls interleaved (f, g, f, g, ...) so
    that drift in a shared machine's speed hits both alike."""
    for _ in range(max(3, repeat // 10)):
        f()
        g()
    tf, tg = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        t1 = time.perf_counter()
        g()
        t2 = time.perf_counter()
        tf.append(t1 - t0)
        tg.append(t2 - t1)
    return statistics.median(tf) * 1e6, statistics.median(tg) * 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=200)
    a = ap.parse_args()
    D = 16
    layer = tttc.Layer(os.path.join(ROOT, "examples", "ttt_linear.mlir"), head_dim=D)
    c = layer.compiled(backward=True)
    print(f"TTT-Linear D={D}, mini-batch {c.mini_batch}, torch {torch.__version__}, "
          f"medians of {a.repeat} calls (microseconds)\n")
    print(f"{'B':>3} {'T':>4} {'H':>3} {'C API fwd':>10} {'torch fwd':>10} {'overhead':>9} "
          f"{'C API f+b':>10} {'torch f+b':>10} {'overhead':>9}")
    for B, T, H in ((1, 1, 1), (1, 16, 1), (1, 64, 4), (4, 256, 4)):
        g = torch.Generator().manual_seed(0)
        x = {}
        for arg in c.inputs:
            if arg.optional:
                continue
            x[arg.name] = (torch.randn(c.input_shape(arg.name, B, T, H), generator=g) /
                           math.sqrt(D))
        x["lr"] = x["lr"].abs()
        names = [n for n in (arg.name for arg in c.inputs) if n in x]
        outs = {o.name: torch.empty(c.output_shape(o.name, B, T, H)) for o in c.outputs}
        ins = _capi.TensorList([(n, x[n].data_ptr(), tuple(x[n].shape)) for n in names])
        ous = _capi.TensorList([(n, t.data_ptr(), tuple(t.shape)) for n, t in outs.items()])
        L = _capi.lib()
        h = c._h

        def capi_fwd():
            _capi.check(L.tttc_run(h, ins.array, ins.n, ous.array, ous.n), "run")

        def torch_fwd():
            with torch.no_grad():
                tt.run(layer, **x)

        saved = torch.empty(c.saved_bytes(B, T, H), dtype=torch.uint8)
        cot = torch.randn(outs["out"].shape, generator=g)
        grads = {n: torch.empty_like(x[n]) for n in names}
        cts = _capi.TensorList([("out", cot.data_ptr(), tuple(cot.shape))])
        grs = _capi.TensorList([(n, t.data_ptr(), tuple(t.shape)) for n, t in grads.items()])
        sp, sn = saved.data_ptr(), saved.numel()

        def capi_fb():
            _capi.check(L.tttc_run_train(h, ins.array, ins.n, ous.array, ous.n, sp, sn), "train")
            _capi.check(L.tttc_run_backward_saved(h, ins.array, ins.n, sp, sn, cts.array, cts.n,
                                                  grs.array, grs.n), "backward")

        leaves = {n: t.clone().requires_grad_() for n, t in x.items()}

        def torch_fb():
            for t in leaves.values():
                t.grad = None
            (tt.run(layer, **leaves)["out"] * cot).sum().backward()

        cf, tf = median_us(capi_fwd, torch_fwd, a.repeat)
        cb, tb = median_us(capi_fb, torch_fb, a.repeat)
        print(f"{B:3} {T:4} {H:3} {cf:10.1f} {tf:10.1f} {tf / cf:8.2f}x {cb:10.1f} {tb:10.1f} "
              f"{tb / cb:8.2f}x")
    print("\noverhead: torch time / C API time for the same work (f+b: training forward + "
          "backward;\nthe torch side also builds the autograd graph, allocates outputs and "
          "gradients and sums\nthe loss).")


if __name__ == "__main__":
    main()
