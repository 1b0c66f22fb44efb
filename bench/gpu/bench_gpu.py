#!/usr/bin/env python3
"""GPU benchmark: tttc's fused kernels vs the PyTorch eager dual form.

Usage: bench_gpu.py PTX_DIR [--quick] [--hbm-gbs N] [--reps N] [--io f32|bf16]
                    [--variant SUFFIX]
  PTX_DIR/ttt_linear.ptx, PTX_DIR/ttt_mlp.ptx (and .bf16.ptx for --io bf16:
  bfloat16 per-token inputs and outputs, f32 states): kernels for D=64
  emitted for this GPU's architecture (bench/gpu/run.sh makes them);
  --variant .t256 picks PTX_DIR/LAYER.t256.ptx (256 threads per program);
  .none and .asap: the chunk step in program order / ASAP order (the default
  kernels are ALAP-ordered, bench/RESULTS.md). Several comma-separated
  variants (`--variant ,.t256`: the default kernel and .t256) are timed on
  the same inputs in one process, each with its speed relative to the first.

For TTT-Linear and TTT-MLP forward at B=8, T in {2048, 8192, 32768}, H=32,
D=64 and B=1, T=32768: the kernel's time (CUDA events, median of many runs
after warm-up, a fresh random input set per run from a rotating pool),
head-tokens/s, achieved HBM bandwidth over the minimum traffic of a fused
kernel (inputs and outputs once; states on chip), its fraction of the
roofline, and the ratio to the eager dual form (bench/gpu/ttt_eager.py) run
in the same process; the two outputs are compared too. Prints a markdown
table for bench/RESULTS.md.
"""
import argparse
import os
import statistics
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tttc_cuda  # noqa: E402
import ttt_eager  # noqa: E402

D = 64
CONFIGS = [(8, 2048, 32), (8, 8192, 32), (8, 32768, 32), (1, 32768, 32)]
# Peak HBM bandwidth (GB/s) by device name; --hbm-gbs overrides.
PEAKS = [("H200", 4800), ("H100 PCIe", 2000), ("H100", 3350), ("A100-SXM4-80GB", 2039),
         ("A100", 1555), ("L40S", 864), ("A10", 600)]


def inputs(layer, B, T, H, gen):
    dev = "cuda"
    r = lambda *s: torch.randn(*s, device=dev, generator=gen)
    x = {"q": r(B, T, H, D) / D ** 0.5, "k": r(B, T, H, D) / D ** 0.5,
         "v": r(B, T, H, D) / D ** 0.5,
         "lr": torch.rand(B, T, H, device=dev, generator=gen) * 0.9 + 0.05,
         "ln_w": 1 + 0.1 * r(H, D), "ln_b": 0.1 * r(H, D)}
    if layer == "ttt_linear":
        x["w_init"] = r(H, D, D) / D ** 0.5
        x["b_init"] = 0.1 * r(H, D)
    else:
        x["w1_init"] = r(H, D, 4 * D) / D ** 0.5
        x["b1_init"] = 0.1 * r(H, 4 * D)
        x["w2_init"] = r(H, 4 * D, D) / (4 * D) ** 0.5
        x["b2_init"] = 0.1 * r(H, D)
    return x


IO = ("q", "k", "v", "lr", "out")


def outputs(layer, B, T, H, io_dtype):
    o = {"out": torch.empty(B, T, H, D, device="cuda", dtype=io_dtype)}
    if layer == "ttt_linear":
        o.update(w_final=torch.empty(B, H, D, D, device="cuda"),
                 b_final=torch.empty(B, H, D, device="cuda"))
    else:
        o.update(w1_final=torch.empty(B, H, D, 4 * D, device="cuda"),
                 b1_final=torch.empty(B, H, 4 * D, device="cuda"),
                 w2_final=torch.empty(B, H, 4 * D, D, device="cuda"),
                 b2_final=torch.empty(B, H, D, device="cuda"))
    return o


def buffers(kernel, ins, outs):
    bufs = []
    for name, rank in kernel.params:
        t = ins.get(name, outs.get(name))
        if t is None:  # an omitted optional input (token_scale: the default)
            bufs.append((None, [0] * rank))
            continue
        t = t.contiguous()
        shape = list(t.shape)
        while len(shape) < rank:  # a shared initial state [H, ...] as [1, H, ...]
            shape.insert(0, 1)
        bufs.append((t.data_ptr(), shape))
    return bufs


def min_bytes(x, o):
    return sum(t.numel() * t.element_size() for t in list(x.values()) + list(o.values()))


def timed(fn, reps, warmup):
    for _ in range(warmup):
        fn(0)
    times = []
    for i in range(reps):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        fn(i + 1)
        e.record()
        e.synchronize()
        times.append(s.elapsed_time(e))
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ptx_dir")
    ap.add_argument("--quick", action="store_true", help="B=8, T=2048 only")
    ap.add_argument("--hbm-gbs", type=float, default=0)
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--io", choices=["f32", "bf16"], default="f32")
    ap.add_argument("--variant", default="",
                    help="PTX file suffix, e.g. .t256; several, comma-separated (an empty "
                         "item: the default kernel), are timed on the same inputs in this "
                         "process, with their ratio to the first")
    ap.add_argument("--vs-f64", action="store_true",
                    help="also compare tttc and the eager f32 run with the eager dual form in "
                         "float64 on the same inputs (is a difference tttc's or the problem's?)")
    a = ap.parse_args()
    name = torch.cuda.get_device_name()
    peak = a.hbm_gbs or next((p for k, p in PEAKS if k in name), 0)
    io_dtype = torch.bfloat16 if a.io == "bf16" else torch.float32
    variants = a.variant.split(",")
    print(f"# {name}, peak HBM {peak:.0f} GB/s (--hbm-gbs to override), D={D}, "
          f"I/O {a.io}, f32 states\n")
    f64 = " tttc vs f64 | eager f32 vs f64 |" if a.vs_f64 else ""
    print("| layer | kernel | B | T | H | tttc ms | vs first | eager ms | speedup | "
          "head-tokens/s | GB/s | roofline | max rel err |" + f64)
    print("|---" * (13 + 2 * a.vs_f64) + "|")
    stream = torch.cuda.current_stream().cuda_stream
    gen = torch.Generator(device="cuda")
    gen.manual_seed(0)
    configs = CONFIGS[:1] if a.quick else CONFIGS
    for layer in ("ttt_linear", "ttt_mlp"):
        kernels = []
        for v in variants:
            file = layer + v + (".bf16.ptx" if a.io == "bf16" else ".ptx")
            k = tttc_cuda.Kernel(os.path.join(a.ptx_dir, file))
            kernels.append((file, k))
            print(f"<!-- {file}: {k.block} threads, {k.shared_bytes} B shared, "
                  f"{k.scratch_bytes} B scratch per program -->", flush=True)
        for B, T, H in configs:
            pool = [inputs(layer, B, T, H, gen) for _ in range(3)]
            for x in pool:  # the kernel's I/O type; the baseline sees the same values
                for n in IO[:-1]:
                    x[n] = x[n].to(io_dtype)
            outs = outputs(layer, B, T, H, io_dtype)
            f32 = [{n: t.float() for n, t in x.items()} for x in pool]

            def rel(got, want):
                return max(float((got[n].double() - want[n].double().reshape(got[n].shape))
                                 .abs().max() / want[n].double().abs().max()) for n in outs)

            with torch.no_grad():
                ref = ttt_eager.run(layer, f32[0])
                ref64 = (ttt_eager.run(layer, {n: t.double() for n, t in f32[0].items()})
                         if a.vs_f64 else None)
            t_eager = t_first = None
            for file, kernel in kernels:
                bufs = [buffers(kernel, x, outs) for x in pool]
                t_tttc = timed(lambda i: kernel.launch(B, H, bufs[i % len(bufs)], stream),
                               a.reps, 3)
                t_first = t_first or t_tttc
                # Correctness on the GPU: the same inputs through both.
                for o in outs.values():
                    o.fill_(float("nan"))
                kernel.launch(B, H, bufs[0], stream)
                err = rel(outs, ref)
                extra = f" {rel(outs, ref64):.1e} | {rel(ref, ref64):.1e} |" if a.vs_f64 else ""
                if t_eager is None:
                    eager_reps = max(3, min(a.reps, int(2000 / max(t_tttc * 50, 1))))
                    with torch.no_grad():
                        t_eager = timed(lambda i: ttt_eager.run(layer, f32[i % len(f32)]),
                                        eager_reps, 1)
                moved = min_bytes(pool[0], outs)
                gbs = moved / (t_tttc * 1e-3) / 1e9
                roof = (moved / (peak * 1e9)) / (t_tttc * 1e-3) if peak else float("nan")
                print(f"| {layer} | {file} | {B} | {T} | {H} | {t_tttc:.3f} | "
                      f"{t_first / t_tttc:.2f}x | {t_eager:.2f} | {t_eager / t_tttc:.1f}x | "
                      f"{B * T * H / (t_tttc * 1e-3):.3g} | {gbs:.0f} | {100 * roof:.1f}% | "
                      f"{err:.1e} |" + extra, flush=True)
                del bufs
            del pool, outs, ref, ref64
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
