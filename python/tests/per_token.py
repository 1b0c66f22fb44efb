"""Eager per-token PyTorch references of the example layers, written from
their equations (examples/*.mlir), independent of tttc: the primal form, the
weights each token reads materialised, the inner gradient by torch autograd.
Run in float64; torch autograd through them gives the reference gradients.

Tensors: per-token [B, T, H, n] / [B, T, H], parameters [H, ...], initial
states [H, ...] or [B, H, ...]; every (b, h) is computed at once (batch dims
first)."""

import math

import torch


def _init(x, B, rank):
    # rank: the state's own rank (2 for a matrix, 1 for a vector).
    return x.unsqueeze(0).expand(B, *x.shape) if x.dim() == rank + 1 else x


def _tok(x, t):
    return x[:, t]  # [B, H, ...]


def layer_norm(x, w, b, eps=1e-6):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def gelu_tanh(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def _vm(x, W):
    """x [B, H, n] times W [B, H, n, m]."""
    return torch.einsum("bhn,bhnm->bhm", x, W)


def _ttt(model, states, inp, C):
    """TTT-Linear / TTT-MLP: mini-batch gradient descent on
    1/2 |f(k) - (v - k)|^2, token i reading W0 - s_i sum_{j<=i} lr_j G_j
    (s_i = token_scale[i], default 1 / (i + 1)); out = q + f(q)."""
    q, k, v, lr = inp["q"], inp["k"], inp["v"], inp["lr"]
    B, T = q.shape[:2]
    lnw, lnb = inp["ln_w"], inp["ln_b"]
    scale = inp.get("token_scale")
    outs = []
    for t0 in range(0, T, C):
        n = min(C, T - t0)
        G = []
        for j in range(n):
            kj, vj = _tok(k, t0 + j), _tok(v, t0 + j)
            loss = 0.5 * ((model(states, kj, lnw, lnb) - (vj - kj)) ** 2).sum()
            G.append(torch.autograd.grad(loss, states, create_graph=True))
        acc = [torch.zeros_like(s) for s in states]
        for i in range(n):
            s_i = scale[i] if scale is not None else 1.0 / (i + 1)
            lr_i = _tok(lr, t0 + i)
            acc = [a + lr_i.reshape(lr_i.shape + (1,) * (g.dim() - 2)) * g
                   for a, g in zip(acc, G[i])]
            Wi = [s - s_i * a for s, a in zip(states, acc)]
            qi = _tok(q, t0 + i)
            outs.append(qi + model(Wi, qi, lnw, lnb))
        states = Wi
    return torch.stack(outs, 1), states


def ttt_linear(inp, C):
    B = inp["q"].shape[0]
    states = [_init(inp["w_init"], B, 2), _init(inp["b_init"], B, 1)]

    def f(st, x, lnw, lnb):
        return layer_norm(_vm(x, st[0]) + st[1], lnw, lnb)

    out, (w, b) = _ttt(f, states, inp, C)
    return {"out": out, "w_final": w, "b_final": b}


def ttt_mlp(inp, C):
    B = inp["q"].shape[0]
    states = [_init(inp[n], B, r) for n, r in
              (("w1_init", 2), ("b1_init", 1), ("w2_init", 2), ("b2_init", 1))]

    def f(st, x, lnw, lnb):
        h = gelu_tanh(_vm(x, st[0]) + st[1])
        return layer_norm(_vm(h, st[2]) + st[3], lnw, lnb)

    out, (w1, b1, w2, b2) = _ttt(f, states, inp, C)
    return {"out": out, "w1_final": w1, "b1_final": b1, "w2_final": w2, "b2_final": b2}


def titans_linear(inp, C):
    """Gradient u of |k W - v|^2 at the mini-batch's first state;
    S_t = eta_t S_{t-1} - theta_t u_t; W_t = (1 - alpha_t) W_{t-1} + S_t;
    out = q W_t."""
    q, k, v = inp["q"], inp["k"], inp["v"]
    B, T, H, D = q.shape
    W = _init(inp["w_init"], B, 2)
    S = _init(inp["s_init"], B, 2) if "s_init" in inp else torch.zeros_like(W)
    outs = []
    for t0 in range(0, T, C):
        n = min(C, T - t0)
        W0 = W
        for i in range(n):
            t = t0 + i
            ki, vi = _tok(k, t), _tok(v, t)
            # d/dW |k W - v|^2 = 2 k^T (k W - v)
            u = 2 * torch.einsum("bhn,bhm->bhnm", ki, _vm(ki, W0) - vi)
            sc = lambda x: x[:, t].unsqueeze(-1).unsqueeze(-1)  # noqa: E731
            S = sc(inp["eta"]) * S - sc(inp["theta"]) * u
            W = (1 - sc(inp["alpha"])) * W + S
            outs.append(_vm(_tok(q, t), W))
    return {"out": torch.stack(outs, 1), "w_final": W, "s_final": S}


def gated_delta(inp, C=1):
    """W_t = alpha_t W_{t-1}; W_t -= beta_t k_t^T (k_t W_t - v_t); out = q_t W_t."""
    q, k, v = inp["q"], inp["k"], inp["v"]
    B, T = q.shape[:2]
    W = _init(inp["w_init"], B, 2)
    outs = []
    for t in range(T):
        sc = lambda x: x[:, t].unsqueeze(-1).unsqueeze(-1)  # noqa: E731
        W = sc(inp["alpha"]) * W
        kt = _tok(k, t)
        W = W - sc(inp["beta"]) * torch.einsum("bhn,bhm->bhnm", kt, _vm(kt, W) - _tok(v, t))
        outs.append(_vm(_tok(q, t), W))
    return {"out": torch.stack(outs, 1), "w_final": W}


def infini_attention(inp, C):
    """Per segment of C tokens with the previous (M, z): out =
    sigmoid(gate) s(q) M / (s(q) z) (0 where s(q) z == 0) + (1 - sigmoid(gate))
    causal softmax attention in the segment (scale 1/sqrt(D)); then
    M += s(k)^T v, z += sum s(k); s(x) = elu(x) + 1."""
    q, k, v = inp["q"], inp["k"], inp["v"]
    B, T, H, D = q.shape
    M = q.new_zeros(B, H, D, D)
    z = q.new_zeros(B, H, D)
    g = torch.sigmoid(inp["gate"]).reshape(1, H, 1)
    s = lambda x: torch.nn.functional.elu(x) + 1  # noqa: E731
    outs = []
    for t0 in range(0, T, C):
        n = min(C, T - t0)
        for i in range(n):
            t = t0 + i
            sq = s(_tok(q, t))
            num, den = _vm(sq, M), (sq * z).sum(-1, keepdim=True)
            zero = den == 0
            mem = torch.where(zero, torch.zeros_like(num), num / torch.where(zero, 1.0, den))
            logits = torch.einsum("bhn,bjhn->bhj", _tok(q, t), k[:, t0:t + 1]) / math.sqrt(D)
            att = torch.einsum("bhj,bjhn->bhn", torch.softmax(logits, -1), v[:, t0:t + 1])
            outs.append(g * mem + (1 - g) * att)
        sk = s(k[:, t0:t0 + n])
        M = M + torch.einsum("bjhn,bjhm->bhnm", sk, v[:, t0:t0 + n])
        z = z + sk.sum(1)
    return {"out": torch.stack(outs, 1), "m_final": M, "z_final": z}


REFERENCES = {"ttt_linear": ttt_linear, "ttt_mlp": ttt_mlp, "titans_linear": titans_linear,
              "gated_delta": gated_delta, "infini_attention": infini_attention}
