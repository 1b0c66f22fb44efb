"""TTT-Linear and TTT-MLP forward in PyTorch eager: the official mini-batch
dual form (Sun et al. 2024, arXiv 2407.04620, "dual form" section), written
for the semantics of examples/ttt_linear.mlir and examples/ttt_mlp.mlir.

The benchmark's baseline, run in the same process as the tttc kernel. Works
on any torch device; test/bench/eager-matches-tttc.test checks it against
`tttc run` on the CPU.

Shapes: q, k, v [B, T, H, D]; lr [B, T, H]; ln_w, ln_b [H, D]; initial states
[B or 1, H, ...] as tttc takes them. Returns (out, final states...).
"""
import torch

EPS = 1e-6
C_GELU = 0.7978845608028654


def _ln(z, w, b):
    mu = z.mean(-1, keepdim=True)
    var = ((z - mu) ** 2).mean(-1, keepdim=True)
    std = torch.sqrt(var + EPS)
    xh = (z - mu) / std
    return w * xh + b, xh, std


def _ln_l2_grad(z, target, w, b):
    """d/dz of 1/2 |LN(z) - target|^2."""
    y, xh, std = _ln(z, w, b)
    gxh = (y - target) * w
    d = z.shape[-1]
    return (d * gxh - gxh.sum(-1, keepdim=True) - xh * (gxh * xh).sum(-1, keepdim=True)) / (d * std)


def _gelu(x):
    return 0.5 * x * (1 + torch.tanh(C_GELU * (x + 0.044715 * x ** 3)))


def _gelu_grad(x):
    t = torch.tanh(C_GELU * (x + 0.044715 * x ** 3))
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * C_GELU * (1 + 3 * 0.044715 * x * x)


def _prepare(q, k, v, lr, ln_w, ln_b):
    # [B, T, H, D] -> [B, H, T, D]; lr -> [B, H, T]; params -> [1, H, 1, D].
    t = lambda x: x.permute(0, 2, 1, 3)
    return t(q), t(k), t(v), lr.permute(0, 2, 1), ln_w[None, :, None], ln_b[None, :, None]


def _state(s, B, lead):
    # [H, ...] or [1 or B, H, ...] -> [B, H, ...] (a copy: updated in place).
    if s.dim() == lead:
        s = s[None]
    return s.expand(B, *s.shape[1:]).clone()


def ttt_linear(q, k, v, lr, ln_w, ln_b, w_init, b_init, mini_batch=16):
    B, T, H, D = q.shape
    q, k, v, lr, lw, lb = _prepare(q, k, v, lr, ln_w, ln_b)
    W = _state(w_init, B, 3)                 # [B, H, D, D]
    bias = _state(b_init, B, 2)[:, :, None]  # [B, H, 1, D]
    scale = 1.0 / torch.arange(1, mini_batch + 1, device=q.device, dtype=q.dtype)
    out = torch.empty_like(q)
    for s in range(0, T, mini_batch):
        e = min(s + mini_batch, T)
        n = e - s
        X1, X2 = k[:, :, s:e], q[:, :, s:e]
        Z1 = X1 @ W + bias
        G = _ln_l2_grad(Z1, v[:, :, s:e] - X1, lw, lb)
        # eta[i, j] = token_scale[i] * lr[j], j <= i.
        eta = torch.tril(scale[:n, None] * lr[:, :, None, s:e])
        attn = torch.tril(X2 @ X1.transpose(-1, -2))
        Z2 = X2 @ W - (eta * attn) @ G + bias - eta @ G
        out[:, :, s:e] = X2 + _ln(Z2, lw, lb)[0]
        last = eta[:, :, -1, :, None]        # row n - 1
        W = W - X1.transpose(-1, -2) @ (last * G)
        bias = bias - (last * G).sum(-2, keepdim=True)
    return out.permute(0, 2, 1, 3), W, bias[:, :, 0]


def ttt_mlp(q, k, v, lr, ln_w, ln_b, w1_init, b1_init, w2_init, b2_init, mini_batch=16):
    B, T, H, D = q.shape
    q, k, v, lr, lw, lb = _prepare(q, k, v, lr, ln_w, ln_b)
    W1, W2 = _state(w1_init, B, 3), _state(w2_init, B, 3)
    b1, b2 = _state(b1_init, B, 2)[:, :, None], _state(b2_init, B, 2)[:, :, None]
    scale = 1.0 / torch.arange(1, mini_batch + 1, device=q.device, dtype=q.dtype)
    out = torch.empty_like(q)
    for s in range(0, T, mini_batch):
        e = min(s + mini_batch, T)
        n = e - s
        X1, X2 = k[:, :, s:e], q[:, :, s:e]
        Z1 = X1 @ W1 + b1
        A = _gelu(Z1)
        Z2 = A @ W2 + b2
        G2 = _ln_l2_grad(Z2, v[:, :, s:e] - X1, lw, lb)
        G1 = (G2 @ W2.transpose(-1, -2)) * _gelu_grad(Z1)
        eta = torch.tril(scale[:n, None] * lr[:, :, None, s:e])
        Z1b = X2 @ W1 - (eta * torch.tril(X2 @ X1.transpose(-1, -2))) @ G1 + b1 - eta @ G1
        Ab = _gelu(Z1b)
        Z2b = Ab @ W2 - (eta * torch.tril(Ab @ A.transpose(-1, -2))) @ G2 + b2 - eta @ G2
        out[:, :, s:e] = X2 + _ln(Z2b, lw, lb)[0]
        last = eta[:, :, -1, :, None]
        W1 = W1 - X1.transpose(-1, -2) @ (last * G1)
        b1 = b1 - (last * G1).sum(-2, keepdim=True)
        W2 = W2 - A.transpose(-1, -2) @ (last * G2)
        b2 = b2 - (last * G2).sum(-2, keepdim=True)
    return out.permute(0, 2, 1, 3), W1, b1[:, :, 0], W2, b2[:, :, 0]


LAYERS = {"ttt_linear": (ttt_linear, ["w_init", "b_init"],
                         ["out", "w_final", "b_final"]),
          "ttt_mlp": (ttt_mlp, ["w1_init", "b1_init", "w2_init", "b2_init"],
                      ["out", "w1_final", "b1_final", "w2_final", "b2_final"])}


def run(layer, inputs, mini_batch=16):
    """inputs: name -> tensor (tttc's names); returns name -> tensor."""
    fn, states, outputs = LAYERS[layer]
    args = [inputs[n] for n in ("q", "k", "v", "lr", "ln_w", "ln_b")] + \
           [inputs[n] for n in states]
    return dict(zip(outputs, fn(*args, mini_batch=mini_batch)))
