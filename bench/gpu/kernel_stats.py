#!/usr/bin/env python3
"""Static resources of the GPU kernels, without a GPU.

  bench/gpu/kernel_stats.py [--arch sm_90a] [--head-dim 64] [--layers a,b]
                            [--variants "OPTS;OPTS;..."]

For each example layer and each variant (pipeline options as tttc's flags
without their dashes, space-separated, e.g. "gpu-threads=256 row-warps=false";
variants `;`-separated; the
first is the baseline, "" the default kernel; by default session 4's
settings against the default): ptxas's registers, stack and spills and
the programs per SM they allow (`tttc compile --emit=cubin`), the PTX's block
and warp barriers, and, when cuobjdump is found ($CUOBJDUMP, $CUDA_HOME/bin,
/usr/local/cuda/bin, PATH; also PyPI's nvidia-cuda-cuobjdump), the SASS
instructions of the kernel and of its chunk loop (the largest loop), with
ratios to the baseline; and, dynamic, from the emulation (`--target=cuda-emu --count-ops`,
one (b, h) program over --emu-tokens tokens; --emu-tokens 0 skips it): the
IR ops per chunk the program's warps run (each warp counted by its busiest
lane) and along its critical path (the busiest lane of each barrier phase),
a proxy for issued instructions and for latency that sees what unrolled
code hides but not what LLVM hoists or folds. No substitute for timing on a
GPU.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The target options that give session 4's kernel (the default is "").
SESSION4 = ("static-rounds=false row-warps=false tid-per-chunk=false pack-buffers min-programs=1 "
            "mma-n-tiles=1")
LAYERS = ("ttt_linear ttt_mlp titans_linear titans_mlp delta gated_delta linear_attention "
          "infini_attention infini_attention_delta").split()


def find_cuobjdump():
    cands = [os.environ.get("CUOBJDUMP", "")]
    for v in ("CUDA_HOME", "CUDA_PATH"):
        if os.environ.get(v):
            cands.append(os.path.join(os.environ[v], "bin", "cuobjdump"))
    cands += ["/usr/local/cuda/bin/cuobjdump", shutil.which("cuobjdump") or ""]
    try:  # PyPI: nvidia-cuda-cuobjdump
        import nvidia  # type: ignore
        for p in nvidia.__path__:
            for sub in ("cu13", "cuda_cuobjdump", "cu12"):
                cands.append(os.path.join(p, sub, "bin", "cuobjdump"))
    except ImportError:
        pass
    return next((c for c in cands if c and os.access(c, os.X_OK)), None)


def sass(cuobjdump, cubin):
    out = subprocess.run([cuobjdump, "-sass", cubin], capture_output=True, text=True).stdout
    ins = []
    for line in out.splitlines():
        m = re.match(r"\s+/\*([0-9a-f]{4,})\*/\s+(.*?);", line)
        if m:
            ins.append((int(m.group(1), 16), m.group(2)))
    # The chunk loop: the backward branch spanning the most instructions.
    index = {a: i for i, (a, _) in enumerate(ins)}
    loop = 0
    for i, (a, t) in enumerate(ins):
        m = re.search(r"BRA\s+(?:!?U?P\w+\s+)?`?\(?0x([0-9a-f]+)", t)
        if m and int(m.group(1), 16) <= a and int(m.group(1), 16) in index:
            loop = max(loop, i - index[int(m.group(1), 16)] + 1)
    return len(ins), loop


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", default="sm_90a")
    ap.add_argument("--head-dim", type=int, default=64)
    ap.add_argument("--layers", default=",".join(LAYERS))
    ap.add_argument("--variants", default=SESSION4 + ";")
    ap.add_argument("--tttc", default=os.path.join(ROOT, "build", "bin", "tttc"))
    ap.add_argument("--emu-tokens", type=int, default=128,
                    help="tokens of the emulated count-ops run (0: none)")
    a = ap.parse_args()
    cuobjdump = find_cuobjdump()
    variants = a.variants.split(";")
    label = lambda v: "(session 4 settings)" if v == SESSION4 else (v or "(default)")[:43]
    tmp = tempfile.mkdtemp()
    print(f"arch {a.arch}, D={a.head_dim}; SASS by {cuobjdump or '(no cuobjdump: skipped)'}")
    print(f"{'layer':24}{'variant':44}{'regs':>5}{'spill B':>8}{'prog/SM':>8}"
          f"{'bar':>5}{'wbar':>5}{'SASS':>7}{'loop':>7}{'loop x':>8}"
          f"{'ops/chunk':>10}{'x':>6}{'path/chunk':>11}{'x':>6}")
    for layer in a.layers.split(","):
        base = None
        for v in variants:
            flags = ["--" + o for o in v.split()]
            cubin = os.path.join(tmp, "k.cubin")
            r = subprocess.run([a.tttc, "compile", os.path.join(ROOT, "examples", layer + ".mlir"),
                                "--target=cuda", *flags, "--arch=" + a.arch, "--emit=cubin",
                                "--head-dim", str(a.head_dim), "-o", cubin],
                               capture_output=True, text=True)
            if r.returncode:
                print(f"{layer:24}{label(v):44} compile failed: {r.stderr.strip()[:80]}")
                continue
            m = re.search(r"(\d+) registers, (\d+) bytes stack, (\d+) bytes spilled.*?: (\d+) programs?",
                          r.stdout)
            ptx = os.path.join(tmp, "k.ptx")
            subprocess.run([a.tttc, "compile", os.path.join(ROOT, "examples", layer + ".mlir"),
                            "--target=cuda", *flags, "--arch=" + a.arch, "--emit=ptx",
                            "--head-dim", str(a.head_dim), "-o", ptx], capture_output=True)
            text = open(ptx).read()
            bar, wbar = text.count("bar.sync"), text.count("bar.warp.sync")
            total, loop = sass(cuobjdump, cubin) if cuobjdump else (0, 0)
            ops = path = 0
            if a.emu_tokens > 0:
                e = subprocess.run([a.tttc, "run", os.path.join(ROOT, "examples", layer + ".mlir"),
                                    "--target=cuda-emu", "--count-ops", *flags,
                                    "--head-dim", str(a.head_dim), "--seq-len", str(a.emu_tokens),
                                    "--batch", "1", "--heads", "1"], capture_output=True, text=True)
                c = re.search(r"threads: (\d+) warp-ops.*critical path (\d+) ops", e.stderr)
                chunks = -(-a.emu_tokens // 16)
                if c:
                    ops, path = int(c.group(1)) / chunks, int(c.group(2)) / chunks
            if base is None:
                base = (loop, ops, path)
            rel = lambda x, b: f"{x / b:.2f}" if b and x else "-"
            print(f"{layer:24}{label(v):44}{m.group(1):>5}{m.group(3):>8}{m.group(4):>8}"
                  f"{bar:>5}{wbar:>5}{total or '-':>7}{loop or '-':>7}{rel(loop, base[0]):>8}"
                  f"{ops:>10.0f}{rel(ops, base[1]):>6}{path:>11.0f}{rel(path, base[2]):>6}")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    sys.exit(main())
