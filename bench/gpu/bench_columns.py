#!/usr/bin/env python3
"""GPU benchmark: column blocks (target option column-blocks=N) at small B * H.

Usage: bench_columns.py PTX_DIR [--reps N] [--hbm-gbs N]
  PTX_DIR/LAYER.cbN.ptx for LAYER in linear_attention, delta and N in 1, 2, 4
  (D=64; bench/gpu/run.sh makes them). For B=1, T=32768, H=32 (32 programs
  of one block: fewer than an H100's 132 multiprocessors) and B=8, T=2048,
  H=32: each kernel's time (CUDA events, median after warm-up), GB/s over the
  minimum traffic, fraction of the roofline, and the ratio to the 1-block
  kernel run in the same process on the same inputs; the outputs of every
  variant are compared with the 1-block kernel's.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tttc_cuda  # noqa: E402
from bench_gpu import PEAKS, buffers, timed  # noqa: E402

D = 64
CONFIGS = [(1, 32768, 32), (8, 2048, 32)]
LAYERS = ("linear_attention", "delta")
BLOCKS = (1, 2, 4)


def tensors(kernel, B, T, H, gen):
    """Random inputs and empty outputs by the kernel's parameter names and
    ranks: token vectors [B, T, H, D], token gates [B, T, H] in (0.05, 0.95),
    initial states [1, H, D, D]; outputs out and *_final."""
    ins, outs = {}, {}
    for name, rank in kernel.params:
        if name == "out":
            outs[name] = torch.empty(B, T, H, D, device="cuda")
        elif name.endswith("_final"):
            outs[name] = torch.empty(B, H, D, D, device="cuda")
        elif name.endswith("_init"):
            ins[name] = torch.randn(1, H, D, D, device="cuda", generator=gen) / D ** 0.5
        elif rank == 4:
            ins[name] = torch.randn(B, T, H, D, device="cuda", generator=gen) / D ** 0.5
        elif rank == 3:
            ins[name] = torch.rand(B, T, H, device="cuda", generator=gen) * 0.9 + 0.05
        else:
            raise SystemExit(f"bench_columns.py: unexpected parameter {name}:{rank}")
    return ins, outs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ptx_dir")
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--hbm-gbs", type=float, default=0)
    a = ap.parse_args()
    name = torch.cuda.get_device_name()
    peak = a.hbm_gbs or next((p for k, p in PEAKS if k in name), 0)
    print(f"# {name}, peak HBM {peak:.0f} GB/s, D={D}, f32 I/O: column blocks per (b, h)\n")
    print("| layer | B | T | H | blocks | programs | ms | GB/s | roofline | vs 1 block | "
          "max rel diff vs 1 block |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    stream = torch.cuda.current_stream().cuda_stream
    gen = torch.Generator(device="cuda")
    gen.manual_seed(0)
    for layer in LAYERS:
        kernels = {n: tttc_cuda.Kernel(os.path.join(a.ptx_dir, f"{layer}.cb{n}.ptx"))
                   for n in BLOCKS}
        for B, T, H in CONFIGS:
            ins, _ = tensors(kernels[1], B, T, H, gen)
            base_t, base_out = None, None
            for n, k in kernels.items():
                _, outs = tensors(k, B, T, H, gen)
                bufs = buffers(k, ins, outs)
                t = timed(lambda i: k.launch(B, H, bufs, stream), a.reps, 3)
                moved = sum(x.numel() * 4 for x in list(ins.values()) + list(outs.values()))
                gbs = moved / (t * 1e-3) / 1e9
                roof = gbs / peak if peak else float("nan")
                if base_t is None:
                    base_t, base_out = t, {m: x.clone() for m, x in outs.items()}
                diff = max(float((outs[m] - base_out[m]).abs().max() / base_out[m].abs().max())
                           for m in outs)
                print(f"| {layer} | {B} | {T} | {H} | {n} | {B * H * n} | {t:.3f} | {gbs:.0f} | "
                      f"{100 * roof:.1f}% | {base_t / t:.2f}x | {diff:.1e} |", flush=True)
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
