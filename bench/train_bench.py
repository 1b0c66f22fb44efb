#!/usr/bin/env python3
"""Training-path benchmark (issue 14): tttc's generated forward + backward
against PyTorch eager autograd through the official dual-form algorithm
(bench/gpu/ttt_eager.py), on the CPU, same inputs, same run.

  python3 bench/train_bench.py [--quick] [--tttc build/bin/tttc] [--repeat N]

For TTT-Linear and TTT-MLP at B=4, H=4, D=64, mini-batch 16 (T=2048; --quick:
T=256): tttc's forward alone and the training forward + backward from
its saved states (`tttc run --grad --repeat`, its batch rows over the cores), torch eager forward + autograd backward
(torch.set_num_threads(2)), their ratio, and the two backwards' input
gradients compared on one cotangent of `out`. Then the memory the training
forward saves for the backward per strategy (backward-checkpoint=1: every
chunk's starting states; =16: every 16th, the rest recomputed) at T=2048 and
T=32768, from the state sizes, with the measured peak RSS and saved size of
`tttc run --grad` for TTT-Linear.
"""
import argparse
import math
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "gpu"))
import ttt_eager  # noqa: E402

B, H, D, C = 4, 4, 64, 16
STATES = {"ttt_linear": {"w_init": (D, D), "b_init": (D,)},
          "ttt_mlp": {"w1_init": (D, 4 * D), "b1_init": (4 * D,), "w2_init": (4 * D, D),
                      "b2_init": (D,)}}


def make_inputs(layer, T, seed):
    """tttc run's ranges: unit-norm rows, gates in (0.05, 0.95), params near 1."""
    rng = np.random.default_rng(seed)
    f = np.float32
    ins = {n: (rng.standard_normal((B, T, H, D)) / math.sqrt(D)).astype(f) for n in "qkv"}
    ins["lr"] = rng.uniform(0.05, 0.95, (B, T, H)).astype(f)
    ins["ln_w"] = (1 + 0.2 * rng.standard_normal((H, D))).astype(f)
    ins["ln_b"] = (0.2 * rng.standard_normal((H, D))).astype(f)
    for n, shape in STATES[layer].items():
        rows = shape[0] if len(shape) == 2 else shape[0]
        ins[n] = (rng.standard_normal((H,) + shape) / math.sqrt(rows)).astype(f)
    return ins


def run_tttc(tttc, layer, d, T, repeat, extra=()):
    files = [f"--input={n}={os.path.join(d, n + '.npy')}" for n in
             ["q", "k", "v", "lr", "ln_w", "ln_b"] + list(STATES[layer])]
    cmd = [tttc, "run", os.path.join(ROOT, "examples", layer + ".mlir"), "--grad",
           f"--grad-output=out={os.path.join(d, 'cot_out.npy')}", f"--repeat={repeat}",
           f"--output-dir={os.path.join(d, 'tttc')}", *files, *extra]
    p = subprocess.run(["/usr/bin/time", "-f", "maxrss_kb=%M"] + cmd, capture_output=True,
                       text=True)
    if p.returncode != 0:
        sys.exit(f"tttc failed: {' '.join(cmd)}\n{p.stdout}{p.stderr}")
    text = p.stdout + p.stderr
    fwd = float(re.search(r"fwd_median_ms=([0-9.]+)", text).group(1))
    both = float(re.search(r"^median_ms=([0-9.]+)", text, re.M).group(1))
    rss = int(re.search(r"maxrss_kb=([0-9]+)", text).group(1))
    saved = float(re.search(r"saved ([0-9.]+) KiB", text).group(1))
    return fwd, both, rss, saved


def run_torch(layer, ins, cot, repeat):
    torch.set_num_threads(2)
    names = ["q", "k", "v", "lr", "ln_w", "ln_b"] + list(STATES[layer])
    fwd_t, both_t, grads = [], [], None
    for _ in range(repeat):
        ts = {n: torch.from_numpy(ins[n]).requires_grad_(True) for n in names}
        t0 = time.perf_counter()
        with torch.no_grad():
            ttt_eager.run(layer, ts, C)
        t1 = time.perf_counter()
        out = ttt_eager.run(layer, ts, C)
        loss = (out["out"] * torch.from_numpy(cot)).sum()
        loss.backward()
        t2 = time.perf_counter()
        fwd_t.append((t1 - t0) * 1e3)
        both_t.append((t2 - t1) * 1e3)
        grads = {n: ts[n].grad.numpy() for n in names}
    return float(np.median(fwd_t)), float(np.median(both_t)), grads


def state_bytes(layer):
    return 4 * sum(math.prod(s) for s in STATES[layer].values())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--tttc", default=os.path.join(ROOT, "build", "bin", "tttc"))
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    T = 256 if a.quick else 2048
    print(f"B={B} T={T} H={H} D={D} mini-batch {C}; tttc on its default threads (one per core), torch "
          f"{torch.__version__} eager on 2 threads; medians of {a.repeat} runs\n")
    print(f"{'layer':12} {'tttc fwd ms':>12} {'tttc f+b ms':>12} {'torch fwd ms':>13} "
          f"{'torch f+b ms':>13} {'f+b vs torch':>13} {'bwd/fwd':>8} {'grad rel diff':>14}")
    with tempfile.TemporaryDirectory() as d:
        for layer in ("ttt_linear", "ttt_mlp"):
            ins = make_inputs(layer, T, 1)
            cot = np.random.default_rng(2).standard_normal((B, T, H, D)).astype(np.float32)
            for n, x in ins.items():
                np.save(os.path.join(d, n + ".npy"), x)
            np.save(os.path.join(d, "cot_out.npy"), cot)
            tf, tb, _, _ = run_tttc(a.tttc, layer, d, T, a.repeat)
            pf, pb, pg = run_torch(layer, ins, cot, a.repeat)
            worst = 0.0
            for n, g in pg.items():
                mine = np.load(os.path.join(d, "tttc", "grad_" + n + ".npy"))
                worst = max(worst, float(np.abs(mine - g).max() / max(np.abs(g).max(), 1e-30)))
            print(f"{layer:12} {tf:12.1f} {tb:12.1f} {pf:13.1f} {pb:13.1f} {pb / tb:12.2f}x "
                  f"{(tb - tf) / tf:8.2f} {worst:14.2e}")
    print("\n'f+b vs torch': torch eager autograd time / tttc time (> 1: tttc faster; target "
          ">= 3x).\n'grad rel diff': max |grad_tttc - grad_torch| / max |grad_torch| over "
          "the inputs (float32 both).\n")

    print("saved by the training forward for the backward (one buffer for all B*H programs, "
          "tttc_saved_bytes: the states at chunk starts; checkpoint N: every N-th), and the "
          "segment buffer of N recomputed states each running program adds:")
    print(f"{'layer':12} {'T':>6} {'state KB':>9} {'N=1 MB':>9} {'N=16 MB':>9}"
          f" {'N=16 segment MB':>16}")
    for layer in ("ttt_linear", "ttt_mlp"):
        s = state_bytes(layer)
        for t in (2048, 32768):
            nc = -(-t // C)
            all_ = nc * s * B * H
            ck = -(-nc // 16) * s * B * H
            print(f"{layer:12} {t:6} {s / 1024:9.1f} {all_ / 2**20:9.2f} {ck / 2**20:9.2f}"
                  f" {16 * s / 2**20:16.2f}")
    if not a.quick:
        print("\nmeasured: peak RSS of `tttc run --grad` (inputs, outputs, gradients included), "
              "TTT-Linear, T=32768:")
        with tempfile.TemporaryDirectory() as d:
            ins = make_inputs("ttt_linear", 32768, 3)
            for n, x in ins.items():
                np.save(os.path.join(d, n + ".npy"), x)
            np.save(os.path.join(d, "cot_out.npy"),
                    np.ones((B, 32768, H, D), np.float32))
            for n in (1, 16):
                _, both, rss, saved = run_tttc(a.tttc, "ttt_linear", d, 32768, 1,
                                               [f"--backward-checkpoint={n}"])
                print(f"  backward-checkpoint={n:<3} peak RSS {rss / 1024:8.1f} MB, saved "
                      f"{saved / 1024:7.1f} MB, training forward + backward {both:.0f} ms")


if __name__ == "__main__":
    main()
