#!/usr/bin/env python3
"""Launch one TTT-Linear / TTT-MLP kernel on random inputs, for a profiler
or a checker wrapped around it (ncu, compute-sanitizer).

Usage: launch_once.py KERNEL.ptx|.cubin LAYER [--shape B T H] [--io f32|bf16]
                      [--launches N]
  LAYER: ttt_linear or ttt_mlp (its parameters, bench_gpu.inputs); D=64.
  Checks the driver's status after the launches and that every output
  element was written (outputs are NaN-poisoned before) and is finite.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tttc_cuda  # noqa: E402
from bench_gpu import IO, buffers, inputs, outputs  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kernel")
    ap.add_argument("layer", choices=["ttt_linear", "ttt_mlp"])
    ap.add_argument("--shape", type=int, nargs=3, default=[8, 2048, 32], metavar=("B", "T", "H"))
    ap.add_argument("--io", choices=["f32", "bf16"], default="f32")
    ap.add_argument("--launches", type=int, default=1)
    a = ap.parse_args()
    B, T, H = a.shape
    io = torch.bfloat16 if a.io == "bf16" else torch.float32
    gen = torch.Generator(device="cuda")
    gen.manual_seed(0)
    x = inputs(a.layer, B, T, H, gen)
    for n in IO[:-1]:
        x[n] = x[n].to(io)
    o = outputs(a.layer, B, T, H, io)
    for t in o.values():
        t.fill_(float("nan"))
    k = tttc_cuda.Kernel(a.kernel)
    bufs = buffers(k, x, o)
    stream = torch.cuda.current_stream().cuda_stream
    for _ in range(a.launches):
        k.launch(B, H, bufs, stream)
    torch.cuda.synchronize()
    bad = [n for n, t in o.items() if not torch.isfinite(t.float()).all()]
    print(f"{os.path.basename(a.kernel)} {a.layer} B={B} T={T} H={H} io={a.io}: "
          f"{a.launches} launch(es), " + (f"NOT FINITE: {bad}" if bad else "outputs finite"))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
