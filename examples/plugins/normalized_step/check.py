#!/usr/bin/env python3
"""The nstep plugin's layers through tttc against a float64 per-token
reference written here (numpy; no code shared with the compiler).

usage: check.py TTTC PLUGIN [--target cpu|cuda-emu ...]

For each spec (normalized_delta: exact per token; normalized_delta_chunked:
the chunk-end path, mini-batch 8) and awkward shapes (one token, T not a
multiple of the mini-batch, several heads and batch rows, D = 64, a given
second moment n_init), `tttc run --plugin=PLUGIN` runs on random inputs
given as files and writes its outputs; the reference recomputes every output and
the largest relative error (max |got - ref| / max |ref|) must be <= 1e-5.
Then the generated backward (`tttc run --grad`, through the rule's ops)
against central differences of the reference along random directions
(<= 1e-4 relative).
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
B2, EPS = 0.9, 1e-2


def reference(inp, chunk):
    """Per token (chunk 1) or per mini-batch of `chunk` tokens, in float64."""
    q, k, v, lr = (inp[n].astype(np.float64) for n in ("q", "k", "v", "lr"))
    Bn, T, H, D = q.shape
    W = np.broadcast_to(inp["w_init"].astype(np.float64), (Bn, H, D, D)).copy()
    n0 = inp.get("n_init")
    N = (np.zeros((Bn, H, D, D)) if n0 is None
         else np.broadcast_to(n0.astype(np.float64), (Bn, H, D, D)).copy())
    out = np.zeros((Bn, T, H, D))
    for b in range(Bn):
        for h in range(H):
            w, m = W[b, h], N[b, h]
            for t0 in range(0, T, chunk):
                ts = range(t0, min(T, t0 + chunk))
                # The gradients at the mini-batch's first state.
                G = sum(np.outer(k[b, t, h], k[b, t, h] @ w - v[b, t, h]) for t in ts)
                if chunk == 1:
                    m = B2 * m + (1 - B2) * G * G
                    w = w - lr[b, t0, h] * G / (np.sqrt(m) + EPS)
                    out[b, t0, h] = q[b, t0, h] @ w  # reads its own update
                else:
                    for t in ts:  # before_update
                        out[b, t, h] = q[b, t, h] @ w
                    m = B2 * m + (1 - B2) * G * G
                    w = w - np.mean([lr[b, t, h] for t in ts]) * G / (np.sqrt(m) + EPS)
            W[b, h], N[b, h] = w, m
    return {"out": out, "w_final": W, "n_final": N}


def make_inputs(B, T, H, D, n_init, seed):
    """Random inputs (the second moment n_init positive, per batch row, when
    given; otherwise omitted: zeros)."""
    rng = np.random.default_rng(seed)
    f32 = np.float32
    ins = {"q": rng.standard_normal((B, T, H, D)).astype(f32),
           "k": (rng.standard_normal((B, T, H, D)) / np.sqrt(D)).astype(f32),
           "v": rng.standard_normal((B, T, H, D)).astype(f32),
           "lr": rng.uniform(0.05, 0.5, (B, T, H)).astype(f32),
           "w_init": (0.1 * rng.standard_normal((H, D, D))).astype(f32)}
    if n_init:
        ins["n_init"] = rng.uniform(0.01, 1.0, (B, H, D, D)).astype(f32)
    return ins


def tttc_run(tttc, plugin, spec, target, ins, tmp, cots=None):
    """tttc run on `ins` (and with `cots`, its backward on those cotangents),
    given as files in a new directory under tmp, which it writes its outputs
    (and grad_NAME.npy) into; that directory."""
    d = tempfile.mkdtemp(dir=tmp)
    cmd = [tttc, "run", spec, f"--plugin={plugin}", f"--head-dim={ins['q'].shape[3]}",
           f"--target={target}", f"--output-dir={d}"]
    if target == "cuda-emu":
        cmd += ["--gpu-threads=32", "--check-races"]
    if cots is not None:
        cmd.append("--grad")
    for flag, arrays, suffix in (("--input", ins, ".in.npy"), ("--grad-output", cots or {}, ".cot.npy")):
        for n, x in arrays.items():
            np.save(os.path.join(d, n + suffix), x)
            cmd.append(f"{flag}={n}={os.path.join(d, n + suffix)}")
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{r.stdout}")
    return d


def run(tttc, plugin, spec, target, ins, tmp):
    """The outputs of tttc run on `ins`."""
    d = tttc_run(tttc, plugin, spec, target, ins, tmp)
    return {n: np.load(os.path.join(d, n + ".npy")) for n in ("out", "w_final", "n_final")}


def check_gradients(tttc, plugin, spec, chunk, target, tmp, B=2, T=11, H=2, D=16):
    """`tttc run --grad` (the generated backward through the plugin's ops)
    against central differences of the float64 reference along random
    directions: L = sum <cotangent, output>; the largest relative error."""
    ins = make_inputs(B, T, H, D, True, seed=7)
    rng = np.random.default_rng(8)
    ref = reference(ins, chunk)
    cots = {n: rng.standard_normal(x.shape).astype(np.float32) for n, x in ref.items()}
    d = tttc_run(tttc, plugin, spec, target, ins, tmp, cots)

    def loss(x):
        out = reference(x, chunk)
        return sum(float((cots[n].astype(np.float64) * out[n]).sum()) for n in out)

    worst = 0.0
    for name, x in ins.items():
        g = np.load(os.path.join(d, f"grad_{name}.npy")).astype(np.float64)
        for _ in range(2):
            u = rng.standard_normal(x.shape) * np.sqrt(np.mean(x.astype(np.float64) ** 2))
            e = 1e-6
            xp = dict(ins, **{name: x.astype(np.float64) + e * u})
            xm = dict(ins, **{name: x.astype(np.float64) - e * u})
            fd = (loss(xp) - loss(xm)) / (2 * e)
            dot = float((g * u).sum())
            scale = max(abs(fd), np.linalg.norm(g) * np.linalg.norm(u) / np.sqrt(u.size))
            worst = max(worst, abs(fd - dot) / scale)
    return worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tttc")
    ap.add_argument("plugin")
    ap.add_argument("--target", action="append", default=None)
    a = ap.parse_args()
    targets = a.target or ["cpu", "cuda-emu"]
    specs = [("normalized_delta.mlir", 1), ("normalized_delta_chunked.mlir", 8)]
    shapes = [(1, 1, 1, 16, False), (2, 37, 3, 16, False), (3, 21, 2, 16, True),
              (1, 17, 4, 64, False)]
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for spec, chunk in specs:
            for target in targets:
                for B, T, H, D, n_init in shapes:
                    ins = make_inputs(B, T, H, D, n_init, seed=B + 10 * T + 100 * H + D)
                    outs = run(a.tttc, a.plugin, os.path.join(HERE, spec), target, ins, tmp)
                    ref = reference(ins, chunk)
                    errs = {n: float(np.abs(outs[n] - ref[n]).max() / np.abs(ref[n]).max())
                            for n in ref}
                    e = max(errs.values())
                    worst = max(worst, e)
                    print(f"{spec} {target} B={B} T={T} H={H} D={D}"
                          f"{' n_init' if n_init else ''}: max rel err {e:.2e} "
                          f"({'ok' if e <= 1e-5 else 'FAIL'})")
        # The generated backward through the plugin's rule.
        gworst = 0.0
        for spec, chunk in specs:
            for target in targets:
                e = check_gradients(a.tttc, a.plugin, os.path.join(HERE, spec), chunk, target, tmp)
                gworst = max(gworst, e)
                print(f"{spec} {target} gradients (every input, 2 directions): max rel err "
                      f"{e:.2e} ({'ok' if e <= 1e-4 else 'FAIL'})")
    print(f"worst {worst:.2e} (outputs, <= 1e-5), {gworst:.2e} (gradients, <= 1e-4): "
          f"{'ok' if worst <= 1e-5 and gworst <= 1e-4 else 'FAIL'}")
    return 0 if worst <= 1e-5 and gworst <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
