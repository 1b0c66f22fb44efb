"""The decode step from Python: a sequence decoded token by token (and in
blocks) equals the chunked forward to 1e-5 and the eager float64 per-token
reference (per_token.py) to 1e-4, for every variant; forks, module
parameters, numpy, and errors."""

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tttc  # noqa: E402
import tttc.numpy as tn  # noqa: E402
import tttc.torch as tt  # noqa: E402
from conftest import EXAMPLES  # noqa: E402
from test_torch import SPECS, D, inputs, layer, reference, rel  # noqa: E402


def decode(dec, c, x, steps):
    """Feeds `x`'s tokens to `dec` in steps of `steps` sizes (cycled); the
    readouts concatenated along T, the final states of the last step."""
    T = next(t.shape[1] for n, t in x.items() if c.inputs[[a.name for a in c.inputs].index(n)]
             .kind == "token_vector")
    kinds = {a.name: a.kind for a in c.inputs}
    per_token = [n for n in x if kinds[n] in ("token_vector", "token_scalar")]
    fixed = {n: t for n, t in x.items() if kinds[n] not in ("token_vector", "token_scalar",
                                                             "state_init")}
    parts, last, t, i = {}, None, 0, 0
    while t < T:
        n = min(steps[i % len(steps)], T - t)
        out = dec.step(**fixed, **{k: x[k][:, t:t + n].contiguous() for k in per_token})
        for a in c.outputs:
            if a.kind == "readout":
                parts.setdefault(a.name, []).append(out[a.name])
        last, t, i = out, t + n, i + 1
        assert dec.position == t
    return {a.name: torch.cat(parts[a.name], 1) if a.kind == "readout" else last[a.name]
            for a in c.outputs}


@pytest.mark.parametrize("spec", list(SPECS))
@pytest.mark.parametrize("B,T,H", [(2, 19, 2), (1, 1, 1), (3, 16, 1)])
def test_token_by_token_equals_the_chunked_forward(spec, B, T, H):
    x = inputs(spec, B, T, H, seed=B * 100 + T * 10 + H + 1, per_row_states=B == 3)
    with torch.no_grad():
        fwd = tt.run(layer(spec), **x)
    _, ref = reference(spec, x)
    c = layer(spec).compiled(decode=True)
    inits = {a.name: x[a.name] for a in c.inputs if a.kind == "state_init" and a.name in x}
    for steps in ([1], [3, 1], [T]):
        dec = tt.Decoder(layer(spec), B, H, **inits)
        got = decode(dec, c, x, steps)
        for n in fwd:
            assert got[n].shape == fwd[n].shape, n
            assert rel(got[n], fwd[n]) <= 1e-5, (n, steps, rel(got[n], fwd[n]))
            assert rel(got[n], ref[n]) <= 1e-4, (n, steps, rel(got[n], ref[n]))


def test_a_forked_decoder_continues_like_the_original_and_modules_decode():
    spec = "ttt_linear"
    x = inputs(spec, 2, 12, 2, seed=21)
    params = {n: x.pop(n) for n in ("ln_w", "ln_b")}
    m = tt.TTTLayer(os.path.join(EXAMPLES, spec + ".mlir"), head_dim=D, mini_batch=8,
                    parameters=params)
    with torch.no_grad():
        full = m(**x)
    dec = m.decoder(2, 2, w_init=x["w_init"], b_init=x["b_init"])
    tok = {n: x[n] for n in ("q", "k", "v", "lr")}
    first = dec.step(**{n: t[:, :5].contiguous() for n, t in tok.items()})
    fork = dec.copy()
    a = dec.step(**{n: t[:, 5:].contiguous() for n, t in tok.items()})
    b = fork.step(**{n: t[:, 5:].contiguous() for n, t in tok.items()})
    assert fork.position == dec.position == 12
    assert torch.equal(a["out"], b["out"]) and torch.equal(a["w_final"], b["w_final"])
    assert rel(torch.cat([first["out"], a["out"]], 1), full["out"]) <= 1e-5
    assert not a["out"].requires_grad
    with pytest.raises(tttc.TTTCError, match="is a parameter of this module"):
        dec.step(ln_w=params["ln_w"], **{n: t[:, :1] for n, t in tok.items()})


def test_numpy_decoder():
    spec = "infini_attention"
    x = {n: t.numpy() for n, t in inputs(spec, 1, 10, 2, seed=5).items()}
    full = tn.run(layer(spec), **x)
    dec = tn.decoder(layer(spec), 1, 2)
    outs = [dec.step(**{n: (v[:, t:t + 1] if v.ndim >= 3 else v) for n, v in x.items()})
            for t in range(10)]
    out = np.concatenate([o["out"] for o in outs], 1)
    np.testing.assert_allclose(out, full["out"], rtol=0, atol=1e-5 * np.abs(full["out"]).max())
    assert dec.position == 10 and dec.state_bytes > 0


def test_errors_are_python_exceptions():
    spec = "ttt_linear"
    x = inputs(spec, 2, 4, 2, seed=8)
    inits = {n: x[n] for n in ("w_init", "b_init")}
    with pytest.raises(tttc.TTTCError, match="no initial state: it goes to the steps"):
        tt.Decoder(layer(spec), 2, 2, q=x["q"])
    with pytest.raises(tttc.TTTCError, match="at least 1"):
        tt.Decoder(layer(spec), 0, 2, **inits)
    dec = tt.Decoder(layer(spec), 2, 2, **inits)
    tok = {n: x[n] for n in ("q", "k", "v", "lr", "ln_w", "ln_b")}
    with pytest.raises(tttc.TTTCError, match="goes to the decoder's start"):
        dec.step(**tok, w_init=x["w_init"])
    with pytest.raises(tttc.TTTCError, match="missing input"):
        dec.step(q=x["q"])
    with pytest.raises(tttc.TTTCError, match="decoder of B=2, H=2"):
        dec.step(**{**tok, "q": x["q"][:1], "k": x["k"][:1], "v": x["v"][:1],
                    "lr": x["lr"][:1]})
    with pytest.raises(tttc.TTTCError, match="expected torch.float32"):
        dec.step(**{**tok, "q": x["q"].double()})
    assert dec.position == 0
    dec.step(**tok)
    assert dec.position == 4
