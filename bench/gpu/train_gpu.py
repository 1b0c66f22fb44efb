#!/usr/bin/env python3
"""Training on a device (issue 14, target cuda): tttc.torch's forward and
forward + backward on CUDA tensors (the cuda target's training forward and
backward kernels on the current stream) against PyTorch eager autograd
through the official dual-form algorithm (ttt_eager.py) on the same device,
same inputs, same run, for TTT-Linear and TTT-MLP at B=4, H=4, D=64,
mini-batch 16. Prints a table, the ratios, and how far the two backwards'
input gradients are apart on one cotangent of `out`.

  python3 bench/gpu/train_gpu.py                 # on a GPU machine (cuda)
  python3 bench/gpu/train_gpu.py --device cpu --quick   # the same on the CPU
                                                        # (a smoke test)
"""
import argparse
import math
import os
import statistics
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))
import ttt_eager  # noqa: E402
import tttc  # noqa: E402
import tttc.torch as tt  # noqa: E402

B, H, D, C = 4, 4, 64, 16
STATES = {"ttt_linear": {"w_init": (D, D), "b_init": (D,)},
          "ttt_mlp": {"w1_init": (D, 4 * D), "b1_init": (4 * D,), "w2_init": (4 * D, D),
                      "b2_init": (D,)}}


def make_inputs(layer, T, device, seed):
    g = torch.Generator().manual_seed(seed)
    x = {n: torch.randn(B, T, H, D, generator=g) / math.sqrt(D) for n in "qkv"}
    x["lr"] = 0.05 + 0.9 * torch.rand(B, T, H, generator=g)
    x["ln_w"] = 1 + 0.2 * torch.randn(H, D, generator=g)
    x["ln_b"] = 0.2 * torch.randn(H, D, generator=g)
    for n, shape in STATES[layer].items():
        x[n] = torch.randn((H,) + shape, generator=g) / math.sqrt(shape[0])
    return {n: t.to(device) for n, t in x.items()}


def timed(f, device, repeat):
    """Median milliseconds of f() (synchronised on a GPU), after a warm-up."""
    f()
    ts = []
    for _ in range(repeat):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        f()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--quick", action="store_true", help="T=256 instead of 2048")
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    device = torch.device(a.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("train_gpu.py: no CUDA device (torch.cuda.is_available() is False); "
                 "--device cpu runs the same comparison on the CPU")
    T = 256 if a.quick else 2048
    print(f"B={B} T={T} H={H} D={D} mini-batch {C}, {device}, torch {torch.__version__}, "
          f"medians of {a.repeat} (ms)\n")
    print(f"{'layer':<11} {'tttc fwd':>9} {'tttc f+b':>9} {'eager fwd':>10} {'eager f+b':>10} "
          f"{'f+b ratio':>10} {'grad diff':>10}")
    for layer in STATES:
        x = make_inputs(layer, T, device, seed=1)
        cot = torch.randn(B, T, H, D, generator=torch.Generator().manual_seed(2)).to(device)
        m = tttc.Layer(os.path.join(ROOT, "examples", layer + ".mlir"), head_dim=D,
                       mini_batch=C)
        grads = {}

        def tttc_fwd():
            with torch.no_grad():
                tt.run(m, **x)

        def tttc_both():
            leaves = {n: t.clone().requires_grad_() for n, t in x.items()}
            (tt.run(m, **leaves)["out"] * cot).sum().backward()
            grads["tttc"] = {n: t.grad for n, t in leaves.items()}

        def eager_fwd():
            with torch.no_grad():
                ttt_eager.run(layer, x, C)

        def eager_both():
            leaves = {n: t.clone().requires_grad_() for n, t in x.items()}
            (ttt_eager.run(layer, leaves, C)["out"] * cot).sum().backward()
            grads["eager"] = {n: t.grad for n, t in leaves.items()}

        if device.type == "cpu":
            torch.set_num_threads(2)
        r = [timed(f, device, a.repeat) for f in (tttc_fwd, tttc_both, eager_fwd, eager_both)]
        diff = max(((grads["tttc"][n] - grads["eager"][n]).abs().max() /
                    grads["eager"][n].abs().max().clamp_min(1e-30)).item() for n in x)
        print(f"{layer:<11} {r[0]:>9.2f} {r[1]:>9.2f} {r[2]:>10.2f} {r[3]:>10.2f} "
              f"{r[3] / r[1]:>9.2f}x {diff:>10.2e}")
    print("\nf+b ratio: eager forward + backward time / tttc's (above 1: tttc is faster); "
          "grad diff: the largest relative difference of any input gradient")


if __name__ == "__main__":
    main()
