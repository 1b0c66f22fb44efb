"""tttc.numpy: the same binding as tttc.torch, on numpy arrays."""

import os

import numpy as np
import pytest

import tttc
import tttc.numpy as tn
from conftest import EXAMPLES

D = 16


@pytest.fixture(scope="module")
def layer():
    return tttc.Layer(os.path.join(EXAMPLES, "ttt_linear.mlir"), head_dim=D, mini_batch=8)


def make(layer, B=2, T=19, H=3, seed=0):
    rng = np.random.default_rng(seed)
    c = layer.info
    x = {a.name: (0.3 * rng.standard_normal(c.input_shape(a.name, B, T, H))).astype(np.float32)
         for a in c.inputs if not a.optional}
    x["lr"] = np.abs(x["lr"])
    x["ln_w"] += 1
    return x


def test_run_train_backward(layer):
    x = make(layer)
    out = tn.run(layer, **x)
    assert out["out"].shape == (2, 19, 3, D) and out["w_final"].shape == (2, 3, D, D)
    out2, saved = tn.train(layer, **x)
    for n in out:
        assert np.array_equal(out[n], out2[n]), n
    # W [16, 16] and b [16] at the start of each of the 3 chunks, per (b, h).
    assert saved.nbytes == 4 * 2 * 3 * 3 * (D * D + D)
    rng = np.random.default_rng(1)
    cot = {"out": rng.standard_normal(out["out"].shape).astype(np.float32)}
    grads = tn.backward(layer, x, saved, cot)
    assert set(grads) == set(x)
    # The generated backward against a central difference of the float32
    # forward along one direction (float64 accumulation; loose tolerance).
    u = {n: rng.standard_normal(a.shape).astype(np.float32) for n, a in x.items()}
    eps = 1e-2

    def L(s):
        y = {n: (x[n] + s * eps * u[n]).astype(np.float32) for n in x}
        return float((tn.run(layer, **y)["out"].astype(np.float64) * cot["out"]).sum())

    fd = (L(1) - L(-1)) / (2 * eps)
    an = sum(float((grads[n].astype(np.float64) * u[n]).sum()) for n in x)
    assert abs(fd - an) <= 2e-3 * max(1.0, abs(fd)), (fd, an)


def test_errors(layer):
    x = make(layer)
    with pytest.raises(tttc.TTTCError, match="dtype float64, expected float32"):
        tn.run(layer, **dict(x, q=x["q"].astype(np.float64)))
    with pytest.raises(tttc.TTTCError, match=r"'v' has shape \[2, 19, 3, 8\]"):
        tn.run(layer, **dict(x, v=np.ascontiguousarray(x["v"][..., :8])))
    out, saved = tn.train(layer, **x)
    with pytest.raises(tttc.TTTCError, match="saved"):
        tn.backward(layer, x, saved[:-4], {"out": out["out"]})
    with pytest.raises(tttc.TTTCError, match="has no output 'nope'"):
        tn.backward(layer, x, saved, {"nope": out["out"]})


def test_packed_batch(layer):
    cu = np.array([0, 6, 19], np.int32)
    x = make(layer, B=1, T=19, H=3, seed=3)
    out = tn.run(layer, cu_seqlens=cu, **x)
    assert out["w_final"].shape == (2, 3, D, D) and out["out"].shape == (1, 19, 3, D)
    second = tn.run(layer, **{n: (a[:, 6:] if a.ndim >= 3 and a.shape[:2] == (1, 19) else a)
                             for n, a in x.items()})
    assert np.array_equal(out["out"][:, 6:], second["out"])
    assert np.array_equal(out["w_final"][1:], second["w_final"])
    out2, saved = tn.train(layer, cu_seqlens=cu, **x)
    assert np.array_equal(out["out"], out2["out"])
    grads = tn.backward(layer, x, saved, {"out": np.ones_like(out["out"])}, cu_seqlens=cu)
    assert grads["q"].shape == x["q"].shape and np.isfinite(grads["w_init"]).all()
    with pytest.raises(tttc.TTTCError, match="1-D integer array"):
        tn.run(layer, cu_seqlens=np.array([0.0, 19.0]), **x)
