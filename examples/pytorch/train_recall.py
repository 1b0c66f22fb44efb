#!/usr/bin/env python3
"""A small language model with tttc layers, trained end to end on the CPU on
synthetic associative recall (issue 15).

Each sequence lists `pairs` key-value pairs (k1 v1 k2 v2 ...), then asks
`queries` of its keys again; the model must answer each query with that
key's value (the loss and the accuracy are taken at the queries only).
Model: an embedding, `blocks` blocks of [a sequence mixer + an MLP] with
pre-norm residuals, a linear head. The mixer is a tttc layer (any spec in
examples/ taking q, k, v; its other per-token inputs are learned gates, its
parameters and initial states nn.Parameters) or, for the baseline, causal
softmax attention of the same width. The key of the tttc mixer comes from
the previous token (a one-token shift), so a value's token writes
key -> value into the layer's state.

  PYTHONPATH=python python3 examples/pytorch/train_recall.py [--spec ttt_linear] [--steps N]

Prints progress, the final recall accuracy of both models on fresh
sequences, and writes a loss-curve PNG (matplotlib).
"""
import argparse
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python"))
import tttc  # noqa: E402
import tttc.torch as tt  # noqa: E402


def batch(n, pairs, queries, keys, values, g):
    """Token ids [n, 2 pairs + queries] and targets (-100 except at the
    queries). Keys are ids [0, keys), values [keys, keys + values)."""
    k = torch.stack([torch.randperm(keys, generator=g)[:pairs] for _ in range(n)])
    v = torch.randint(values, (n, pairs), generator=g) + keys
    seq = torch.stack([k, v], 2).reshape(n, 2 * pairs)
    which = torch.randint(pairs, (n, queries), generator=g)
    q = torch.gather(k, 1, which)
    x = torch.cat([seq, q], 1)
    y = torch.full_like(x, -100)
    y[:, 2 * pairs:] = torch.gather(v, 1, which)
    return x, y


_LAYERS = {}


class TTTMixer(nn.Module):
    """q, k, v projections (k from the previous token), per-token gates for
    the spec's other per-token inputs, its parameters and initial states as
    nn.Parameters, an output projection."""

    def __init__(self, spec, width, heads, head_dim, mini_batch):
        super().__init__()
        key = (spec, head_dim, mini_batch)
        if key not in _LAYERS:  # one compilation shared by the blocks
            _LAYERS[key] = tttc.Layer(os.path.join(ROOT, "examples", spec + ".mlir"), head_dim,
                                      mini_batch=mini_batch)
        self.layer = _LAYERS[key]
        c = self.layer.compiled(backward=True)
        self.H, self.D = heads, head_dim
        self.proj = nn.ModuleDict({n: nn.Linear(width, heads * head_dim) for n in "qkv"})
        self.gates = nn.ModuleDict()
        self.params = nn.ParameterDict()
        for a in c.inputs:
            if a.name in "qkv":
                continue
            if a.kind == "token_vector":
                sys.exit(f"{spec}: per-token vector input '{a.name}' besides q, k, v")
            if a.kind == "token_scalar":
                self.gates[a.name] = nn.Linear(width, heads)
            elif a.kind in ("param_vector", "param_scalar", "state_init") and not a.optional:
                shape = c.input_shape(a.name, 1, 1, heads)
                if a.name.startswith("ln_w"):
                    init = torch.ones(shape)
                elif a.kind == "state_init":
                    init = torch.randn(shape) * 0.02
                else:
                    init = torch.zeros(shape)
                self.params[a.name] = nn.Parameter(init)
        self.readouts = [a.name for a in c.outputs if a.kind == "readout"]
        self.out = nn.Linear(heads * head_dim * len(self.readouts), width)

    def forward(self, x):
        B, T, _ = x.shape
        prev = F.pad(x, (0, 0, 1, 0))[:, :T]
        src = {"q": x, "k": prev, "v": x}
        ins = {n: self.proj[n](src[n]).reshape(B, T, self.H, self.D) for n in "qkv"}
        ins["q"] = ins["q"] / math.sqrt(self.D)
        ins["k"] = F.normalize(ins["k"], dim=-1)
        for n, g in self.gates.items():
            ins[n] = torch.sigmoid(g(x))  # gates and learning rates in (0, 1)
        ins.update(self.params)
        outs = tt.run(self.layer, **ins)
        y = torch.cat([outs[n].reshape(B, T, -1) for n in self.readouts], -1)
        return self.out(y)


class Attention(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.att = nn.MultiheadAttention(width, heads, batch_first=True)

    def forward(self, x):
        T = x.shape[1]
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
        return self.att(x, x, x, attn_mask=mask, need_weights=False)[0]


class Model(nn.Module):
    def __init__(self, vocab, width, blocks, mixer):
        super().__init__()
        self.emb = nn.Embedding(vocab, width)
        self.mix = nn.ModuleList([mixer() for _ in range(blocks)])
        self.mlp = nn.ModuleList([nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(),
                                                nn.Linear(2 * width, width))
                                  for _ in range(blocks)])
        self.n1 = nn.ModuleList([nn.LayerNorm(width) for _ in range(blocks)])
        self.n2 = nn.ModuleList([nn.LayerNorm(width) for _ in range(blocks)])
        self.head = nn.Linear(width, vocab)

    def forward(self, x):
        h = self.emb(x)
        for mix, mlp, n1, n2 in zip(self.mix, self.mlp, self.n1, self.n2):
            h = h + mix(n1(h))
            h = h + mlp(n2(h))
        return self.head(h)


def accuracy(model, args, g, n=1000):
    with torch.no_grad():
        x, y = batch(n, args.pairs, args.queries, args.keys, args.values, g)
        pred = model(x).argmax(-1)
        m = y != -100
        return (pred[m] == y[m]).float().mean().item()


def train(name, model, args):
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=args.steps,
                                                pct_start=max(0.1, 2 / args.steps))
    g = torch.Generator().manual_seed(args.seed)
    losses, t0 = [], time.time()
    for step in range(1, args.steps + 1):
        x, y = batch(args.batch, args.pairs, args.queries, args.keys, args.values, g)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten(), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if step % 10 == 0 or step == args.steps:
            done = step / args.steps
            bar = "#" * int(30 * done) + "-" * (30 - int(30 * done))
            print(f"\r{name:>12} [{bar}] {step}/{args.steps} loss "
                  f"{sum(losses[-10:]) / len(losses[-10:]):.3f} {time.time() - t0:6.1f} s",
                  end="", flush=True)
    print()
    return losses, time.time() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", default="ttt_linear", help="a spec of examples/ (q, k, v inputs)")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--queries", type=int, default=8)
    ap.add_argument("--keys", type=int, default=32)
    ap.add_argument("--values", type=int, default=32)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--blocks", type=int, default=2)
    ap.add_argument("--mini-batch", type=int, default=None,
                    help="the tttc layer's mini-batch (default: the spec's)")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--png", default="recall.png")
    ap.add_argument("--no-baseline", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(2)
    vocab = args.keys + args.values
    D = args.width // args.heads
    print(f"associative recall: {args.pairs} pairs then {args.queries} queries (T = "
          f"{2 * args.pairs + args.queries}), {args.keys} keys, {args.values} values; width "
          f"{args.width}, {args.blocks} blocks, {args.heads} heads of {D}; {args.steps} steps of "
          f"{args.batch}")
    runs = {}
    torch.manual_seed(args.seed)
    model = Model(vocab, args.width, args.blocks,
                  lambda: TTTMixer(args.spec, args.width, args.heads, D, args.mini_batch))
    runs[args.spec] = (model, *train(f"tttc {args.spec}", model, args))
    if not args.no_baseline:
        torch.manual_seed(args.seed)
        base = Model(vocab, args.width, args.blocks, lambda: Attention(args.width, args.heads))
        runs["attention"] = (base, *train("attention", base, args))
    print()
    for name, (m, losses, secs) in runs.items():
        acc = accuracy(m, args, torch.Generator().manual_seed(args.seed + 1))
        print(f"{name:>12}: recall accuracy {100 * acc:5.1f}% on 1000 fresh sequences, final "
              f"loss {sum(losses[-50:]) / len(losses[-50:]):.3f}, {secs:.0f} s, "
              f"{sum(p.numel() for p in m.parameters())} parameters")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing (python3-matplotlib): no plot")
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, (_, losses, _) in runs.items():
        k = 20
        smooth = [sum(losses[max(0, i - k):i + 1]) / len(losses[max(0, i - k):i + 1])
                  for i in range(len(losses))]
        ax.plot(smooth, label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy at the queries")
    ax.set_yscale("log")
    ax.set_title(f"associative recall ({args.pairs} pairs, {args.queries} queries)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.png, dpi=120)
    print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
