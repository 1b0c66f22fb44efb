"""tttc.torch against eager per-token PyTorch references (per_token.py) in
float64: outputs, and gradients of every input (per-token streams and gates,
parameters, initial states) by torch autograd through the reference."""

import math
import os

import pytest

torch = pytest.importorskip("torch")

import tttc  # noqa: E402
import tttc.torch as tt  # noqa: E402
from conftest import EXAMPLES  # noqa: E402
from per_token import REFERENCES  # noqa: E402

D = 16
# spec -> mini-batch the test compiles it with (None: the spec's own).
SPECS = {"ttt_linear": 8, "ttt_mlp": 8, "titans_linear": 8, "gated_delta": None,
         "infini_attention": 8}
_layers = {}


def layer(spec):
    if spec not in _layers:
        _layers[spec] = tttc.Layer(os.path.join(EXAMPLES, spec + ".mlir"), head_dim=D,
                                   mini_batch=SPECS[spec])
    return _layers[spec]


def inputs(spec, B, T, H, seed, per_row_states=False):
    """Random inputs in their natural ranges (float32)."""
    g = torch.Generator().manual_seed(seed)
    c = layer(spec).info

    def rand(*shape, lo=None, hi=None):
        if lo is not None:
            return lo + (hi - lo) * torch.rand(*shape, generator=g)
        return torch.randn(*shape, generator=g)

    x = {}
    for a in c.inputs:
        if a.optional and a.kind == "position_scalar":
            continue
        shape = c.input_shape(a.name, B, T, H)
        if a.kind == "state_init" and per_row_states:
            shape = (B,) + shape
        if a.kind == "token_vector":
            t = rand(*shape)
            if a.name == "k" and spec == "gated_delta":
                t = t / t.norm(dim=-1, keepdim=True)  # the delta rule's unit keys
            else:
                t = t / math.sqrt(D)
        elif a.kind == "token_scalar":
            t = {"lr": (0.05, 0.5), "beta": (0.1, 0.9), "alpha": (0.9, 1.0) if spec ==
                 "gated_delta" else (0.0, 0.1), "theta": (0.01, 0.1), "eta": (0.8, 1.0)}[a.name]
            t = rand(*shape, lo=t[0], hi=t[1])
        elif a.kind == "state_init":
            t = rand(*shape) / math.sqrt(shape[-1])
        elif a.name == "ln_w":
            t = 1 + 0.1 * rand(*shape)
        else:
            t = 0.3 * rand(*shape)
        x[a.name] = t.float()
    return x


def reference(spec, x):
    C = layer(spec).info.mini_batch
    x64 = {n: t.detach().double().requires_grad_() for n, t in x.items()}
    return x64, REFERENCES[spec](x64, C)


def rel(a, b):
    a, b = a.detach().double(), b.detach().double()
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()


SHAPES = [(2, 19, 2), (1, 1, 1), (3, 16, 1), (1, 17, 4)]


@pytest.mark.parametrize("spec", list(SPECS))
@pytest.mark.parametrize("B,T,H", SHAPES)
def test_outputs_and_gradients_match_the_per_token_reference(spec, B, T, H):
    check_against_reference(spec, B, T, H, "cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA tensors need a GPU "
                    "(torch.cuda.is_available() is False)")
@pytest.mark.parametrize("spec", list(SPECS))
@pytest.mark.parametrize("B,T,H", SHAPES)
def test_cuda_tensors_train_through_the_cuda_target(spec, B, T, H):  # pragma: no cover
    """The same on CUDA tensors: the cuda target's training forward and
    backward on their device pointers and the current stream."""
    check_against_reference(spec, B, T, H, "cuda")


def check_against_reference(spec, B, T, H, device):
    x = inputs(spec, B, T, H, seed=B * 100 + T * 10 + H, per_row_states=B == 3)
    leaves = {n: t.clone().to(device).requires_grad_() for n, t in x.items()}
    outs = tt.run(layer(spec), **leaves)
    assert all(o.device.type == device for o in outs.values())
    outs = {n: o.cpu() for n, o in outs.items()}
    x64, ref = reference(spec, x)
    assert set(outs) == set(ref)
    for n in ref:
        assert outs[n].shape == ref[n].shape, n
        assert rel(outs[n], ref[n]) <= 1e-4, (n, rel(outs[n], ref[n]))
    # L = sum <cotangent, output> over every output, final states included.
    g = torch.Generator().manual_seed(7)
    cots = {n: torch.randn(ref[n].shape, generator=g, dtype=torch.float64) for n in ref}
    sum(((outs[n].double() * cots[n]).sum() for n in ref)).backward()
    sum(((ref[n] * cots[n]).sum() for n in ref)).backward()
    for n in x:
        assert leaves[n].grad is not None, n
        assert leaves[n].grad.shape == x[n].shape, n
        assert leaves[n].grad.device.type == device, n
        assert rel(leaves[n].grad.cpu(), x64[n].grad) <= 1e-4, (n, rel(leaves[n].grad.cpu(),
                                                                        x64[n].grad))


def test_directional_derivative_of_the_generated_backward():
    """<grad, u> against the float64 central difference of the layer's own
    float32 forward along a random direction u (gradcheck-style, at the
    looser tolerance float32 forwards allow)."""
    spec = "ttt_linear"
    x = inputs(spec, 2, 13, 2, seed=3)
    leaves = {n: t.clone().requires_grad_() for n, t in x.items()}
    outs = tt.run(layer(spec), **leaves)
    cot = torch.randn(outs["out"].shape, generator=torch.Generator().manual_seed(4))
    (outs["out"] * cot).sum().backward()
    g = torch.Generator().manual_seed(5)
    u = {n: torch.randn(t.shape, generator=g) for n, t in x.items()}
    x64, _ = reference(spec, x)

    def L(eps):
        y = {n: (x64[n].detach() + eps * u[n].double()).requires_grad_() for n in x}
        return (REFERENCES[spec](y, layer(spec).info.mini_batch)["out"] * cot.double()).sum()

    eps = 1e-4
    fd = ((L(eps) - L(-eps)) / (2 * eps)).item()
    an = sum((leaves[n].grad.double() * u[n].double()).sum() for n in x).item()
    assert abs(fd - an) <= 1e-4 * max(1.0, abs(fd)), (fd, an)


def test_no_grad_runs_the_plain_forward_and_module_parameters_train():
    spec = "ttt_linear"
    x = inputs(spec, 2, 11, 2, seed=9)
    with torch.no_grad():
        plain = tt.run(layer(spec), **x)
    params = {n: x.pop(n) for n in ("ln_w", "ln_b")}
    m = tt.TTTLayer(os.path.join(EXAMPLES, spec + ".mlir"), head_dim=D, mini_batch=8,
                    parameters=params)
    assert sorted(n for n, _ in m.named_parameters()) == ["ln_b", "ln_w"]
    outs = m(**x)
    assert torch.equal(outs["out"], plain["out"])
    outs["out"].square().sum().backward()
    assert m.ln_w.grad is not None and m.ln_w.grad.abs().sum() > 0
    with pytest.raises(tttc.TTTCError, match="is a parameter of this module"):
        m(ln_w=params["ln_w"], **x)


def test_non_contiguous_inputs_are_copied_once_and_counted():
    spec = "ttt_linear"
    x = inputs(spec, 2, 9, 2, seed=11)
    ref = tt.run(layer(spec), **x)
    before = tt.stats["contiguous_copies"]
    x["q"] = x["q"].transpose(0, 1).contiguous().transpose(0, 1)  # same values, strided
    assert not x["q"].is_contiguous()
    with pytest.warns(UserWarning, match="not contiguous"):
        out = tt.run(layer(spec), **x)
    assert tt.stats["contiguous_copies"] == before + 1
    assert torch.equal(out["out"], ref["out"])


def test_bad_inputs_are_clear_exceptions():
    spec = "ttt_linear"
    x = inputs(spec, 2, 9, 2, seed=12)
    with pytest.raises(tttc.TTTCError, match=r"input 'q' has dtype torch.float64"):
        tt.run(layer(spec), **dict(x, q=x["q"].double()))
    with pytest.raises(tttc.TTTCError, match=r"input 'ln_w' has dtype torch.float16"):
        tt.run(layer(spec), **dict(x, ln_w=x["ln_w"].half()))
    with pytest.raises(tttc.TTTCError, match=r"'k' has shape \[2, 8, 2, 16\]"):
        tt.run(layer(spec), **dict(x, k=x["k"][:, :8].contiguous()))
    with pytest.raises(tttc.TTTCError, match="missing input"):
        tt.run(layer(spec), **{n: t for n, t in x.items() if n != "v"})
    with pytest.raises(tttc.TTTCError, match="has no input 'nope'"):
        tt.run(layer(spec), nope=x["q"], **x)
    with pytest.raises(tttc.TTTCError, match="expected a torch.Tensor"):
        tt.run(layer(spec), **dict(x, lr=x["lr"].numpy()))
    with pytest.raises(tttc.TTTCError, match="no spec file"):
        tttc.Layer("no/such/spec.mlir", head_dim=D)
    with pytest.raises(tttc.TTTCError, match="several devices"):
        tt.run(layer(spec), **dict(x, q=x["q"].to("meta")))


def test_graphs_keep_the_layer_as_one_operator_per_direction():
    """The layer is the torch.library operators tttc::forward, tttc::train and
    tttc::backward: a dispatcher-level trace (make_fx, what AOTAutograd under
    torch.compile builds on) holds one node per direction, with real tensors
    and with fake ones (shapes from the Meta kernels), and replays bit for bit."""
    from torch.fx.experimental.proxy_tensor import make_fx

    spec = "ttt_linear"
    x = inputs(spec, 2, 11, 2, seed=31)
    names = list(x)

    def forward(*ts):
        return tt.run(layer(spec), **dict(zip(names, ts)))["out"]

    def forward_backward(*ts):
        ts = [t.detach().requires_grad_() for t in ts]
        outs = tt.run(layer(spec), **dict(zip(names, ts)))
        return torch.autograd.grad(outs["out"].square().sum() + outs["w_final"].sum(), ts)

    def tttc_nodes(g):
        return [str(n.target) for n in g.graph.nodes
                if n.op == "call_function" and str(n.target).startswith("tttc.")]

    g = make_fx(forward)(*x.values())
    assert tttc_nodes(g) == ["tttc.forward.default"]
    assert torch.equal(g(*x.values()), forward(*x.values()))
    for mode in ("real", "fake"):
        g = make_fx(forward_backward, tracing_mode=mode)(*[t.clone() for t in x.values()])
        assert tttc_nodes(g) == ["tttc.train.default", "tttc.backward.default"], mode
        for a, b in zip(g(*x.values()), forward_backward(*x.values())):
            assert torch.equal(a, b), mode


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA tensors need a GPU "
                    "(torch.cuda.is_available() is False)")
@pytest.mark.parametrize("spec", list(SPECS))
def test_cuda_packed_batch_equals_the_cpu_one(spec):  # pragma: no cover - no GPU in CI
    """cu_seqlens on CUDA tensors (a launch per sequence on the cuda
    target): outputs and gradients against the same packed batch on the CPU."""
    cu = [0, 5, 22, 23, 32]
    x = inputs(spec, 1, cu[-1], 2, seed=34)
    res = {}
    for device in ("cpu", "cuda"):
        leaves = {n: t.clone().to(device).requires_grad_() for n, t in x.items()}
        outs = tt.run(layer(spec), cu_seqlens=torch.tensor(cu), **leaves)
        g = torch.Generator().manual_seed(35)
        cots = {n: torch.randn(o.shape, generator=g).to(device) for n, o in outs.items()}
        sum((outs[n] * cots[n]).sum() for n in outs).backward()
        res[device] = ({n: o.detach().cpu() for n, o in outs.items()},
                       {n: t.grad.cpu() for n, t in leaves.items()})
    for (a, b), tol in zip(zip(res["cuda"], res["cpu"]), (1e-5, 1e-4)):  # outputs, grads
        for n in b:
            assert rel(a[n], b[n]) <= tol, (n, rel(a[n], b[n]))


def test_meta_tensors_give_the_output_shapes():
    spec = "gated_delta"
    x = inputs(spec, 3, 21, 2, seed=32)
    real = tt.run(layer(spec), **x)
    meta = tt.run(layer(spec), **{n: t.to("meta") for n, t in x.items()})
    for n, o in real.items():
        assert meta[n].device.type == "meta" and meta[n].shape == o.shape, n
        assert meta[n].dtype == o.dtype, n


@pytest.mark.skipif(not hasattr(torch, "compile"), reason="torch.compile needs torch 2.x "
                    f"(this is torch {torch.__version__})")
def test_torch_compile_keeps_the_layer():  # pragma: no cover - torch 1.13 in CI
    spec = "ttt_linear"
    x = inputs(spec, 2, 11, 2, seed=33)
    graphs = []

    def backend(gm, example_inputs):
        graphs.append(gm)
        return gm

    def f(**ts):
        return tt.run(layer(spec), **ts)["out"]

    out = torch.compile(f, backend=backend)(**x)
    assert torch.equal(out, f(**x))
    ops = [str(n.target) for g in graphs for n in g.graph.nodes if n.op == "call_function"]
    assert ops.count("tttc.forward.default") == 1, ops


@pytest.mark.parametrize("spec", list(SPECS))
def test_packed_batch_equals_the_sequences_one_by_one(spec):
    """cu_seqlens: forward outputs, final states and every gradient of a
    packed batch against the same sequences run alone (and those against the
    float64 per-token reference)."""
    cu = [0, 5, 22, 23, 32]  # lengths 5, 17, 1, 9
    N, T, H = len(cu) - 1, cu[-1], 2
    x = inputs(spec, 1, T, H, seed=21)
    leaves = {n: t.clone().requires_grad_() for n, t in x.items()}
    outs = tt.run(layer(spec), cu_seqlens=torch.tensor(cu), **leaves)
    c = layer(spec).info
    g = torch.Generator().manual_seed(22)
    cots = {n: torch.randn(o.shape, generator=g) for n, o in outs.items()}
    sum((outs[n] * cots[n]).sum() for n in outs).backward()
    kinds = {a.name: a.kind for a in c.inputs + c.outputs}
    summed = {n: torch.zeros_like(t) for n, t in x.items() if kinds[n] not in
              ("token_vector", "token_scalar")}
    for i in range(N):
        a, b = cu[i], cu[i + 1]
        xi = {n: (t[:, a:b] if kinds[n] in ("token_vector", "token_scalar") else t)
              .clone().requires_grad_() for n, t in x.items()}
        oi = tt.run(layer(spec), **xi)
        for n, o in oi.items():
            part = outs[n][:, a:b] if kinds[n] == "readout" else outs[n][i:i + 1]
            assert torch.equal(part, o), (n, i)
        ci = {n: (cots[n][:, a:b] if kinds[n] == "readout" else cots[n][i:i + 1]) for n in oi}
        sum((oi[n] * ci[n]).sum() for n in oi).backward()
        for n, t in xi.items():
            if n in summed:
                summed[n] += t.grad
            else:
                assert torch.equal(leaves[n].grad[:, a:b], t.grad), (n, i)
        if i == 1:  # one sequence against the reference too
            _, ref = reference(spec, {n: t.detach() for n, t in xi.items()})
            for n in ref:
                assert rel(oi[n], ref[n]) <= 1e-4, (n, rel(oi[n], ref[n]))
    for n, s in summed.items():
        assert rel(leaves[n].grad, s) <= 1e-6, (n, rel(leaves[n].grad, s))


def test_packed_batch_errors():
    spec = "ttt_linear"
    x = inputs(spec, 1, 20, 2, seed=23)
    run = lambda cu: tt.run(layer(spec), cu_seqlens=cu, **x)  # noqa: E731
    assert run([0, 7, 20])["w_final"].shape == (2, 2, D, D)
    with pytest.raises(tttc.TTTCError, match="must increase strictly"):
        run([0, 7, 7, 20])
    with pytest.raises(tttc.TTTCError, match="cu_seqlens ends at 19 but input 'q' has "
                       "T_total = 20"):
        run([0, 7, 19])
    with pytest.raises(tttc.TTTCError, match="1-D int32 or int64"):
        run(torch.tensor([0.0, 7.0, 20.0]))
    with pytest.raises(tttc.TTTCError, match=r"a packed batch is \[1, T_total, H, ...\]"):
        tt.run(layer(spec), cu_seqlens=[0, 7, 20], **inputs(spec, 2, 20, 2, seed=24))
