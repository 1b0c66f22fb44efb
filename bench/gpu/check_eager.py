#!/usr/bin/env python3
"""Checks the PyTorch eager baseline (ttt_eager.py) against tttc's CPU
outputs: check_eager.py LAYER DIR, DIR from `tttc run SPEC --output-dir DIR
--save-inputs`. Prints max |eager - tttc| / max |tttc| per output."""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ttt_eager  # noqa: E402


def main():
    layer, d = sys.argv[1], sys.argv[2]
    ins = {f[:-4]: torch.from_numpy(np.load(os.path.join(d, "inputs", f))).double()
           for f in os.listdir(os.path.join(d, "inputs"))}
    got = ttt_eager.run(layer, ins)
    worst = 0.0
    for name, t in got.items():
        ref = np.load(os.path.join(d, name + ".npy")).astype(np.float64)
        err = float(np.max(np.abs(t.numpy().reshape(ref.shape) - ref)) / np.max(np.abs(ref)))
        worst = max(worst, err)
        print(f"{name}: max rel err {err:.3e}")
    print(f"{layer}: eager vs tttc {'ok' if worst <= 1e-5 else 'MISMATCH'}")
    sys.exit(0 if worst <= 1e-5 else 1)


if __name__ == "__main__":
    main()
