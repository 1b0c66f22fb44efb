//===- Reference.h - hand-written float64 per-token references --*- C++ -*-===//
//
// Written from the layers' equations, independently of the compiler: the
// gradients (layer-norm backward, gelu derivative) are derived by hand here,
// and every token's weights are materialised as full matrices.
//
//===----------------------------------------------------------------------===//
#ifndef TTTC_TEST_UNIT_REFERENCE_H
#define TTTC_TEST_UNIT_REFERENCE_H

#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace ref {
using Vec = std::vector<double>;

/// Host tensors of one test case, float32 as the layer sees them.
struct Case {
  int64_t B, T, H, D, C;
  std::map<std::string, std::vector<float>> in;
  std::map<std::string, std::vector<int64_t>> shape;
};

inline void add(Case &c, const std::string &name, std::vector<int64_t> shape,
                std::mt19937_64 &rng, double mean, double stddev, bool uniform01 = false) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  std::normal_distribution<double> normal(mean, stddev);
  std::uniform_real_distribution<double> uni(0.05, 0.95);
  std::vector<float> v(n);
  for (float &x : v)
    x = float(uniform01 ? uni(rng) : normal(rng));
  c.in[name] = v;
  c.shape[name] = shape;
}

/// y = LN(z) = g * (z - mu) / sqrt(var + eps) + b; also returns xhat and
/// 1/sigma for the backward.
inline Vec layerNorm(const Vec &z, const float *g, const float *b, Vec *xhat = nullptr,
                     double *invSigma = nullptr) {
  size_t n = z.size();
  double mu = 0, var = 0;
  for (double x : z)
    mu += x;
  mu /= n;
  for (double x : z)
    var += (x - mu) * (x - mu);
  var /= n;
  double is = 1.0 / std::sqrt(var + 1e-6);
  Vec y(n), xh(n);
  for (size_t i = 0; i < n; ++i) {
    xh[i] = (z[i] - mu) * is;
    y[i] = g[i] * xh[i] + b[i];
  }
  if (xhat)
    *xhat = xh;
  if (invSigma)
    *invSigma = is;
  return y;
}

/// dL/dz for L = 1/2 |LN(z) - target|^2 (hand-derived LN backward).
inline Vec lnLossGrad(const Vec &z, const float *g, const float *b, const Vec &target) {
  Vec xh;
  double is;
  Vec y = layerNorm(z, g, b, &xh, &is);
  size_t n = z.size();
  Vec dxh(n);
  double m1 = 0, m2 = 0;
  for (size_t i = 0; i < n; ++i) {
    dxh[i] = (y[i] - target[i]) * g[i];
    m1 += dxh[i];
    m2 += dxh[i] * xh[i];
  }
  m1 /= n;
  m2 /= n;
  Vec dz(n);
  for (size_t i = 0; i < n; ++i)
    dz[i] = is * (dxh[i] - m1 - xh[i] * m2);
  return dz;
}

inline double gelu(double x) {
  return 0.5 * x * (1 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}
inline double geluGrad(double x) {
  const double c = 0.7978845608028654;
  double t = std::tanh(c * (x + 0.044715 * x * x * x));
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x);
}

/// x (n) times M (n x m), row-major.
inline Vec vecMat(const Vec &x, const Vec &M, size_t m) {
  Vec r(m, 0.0);
  for (size_t i = 0; i < x.size(); ++i)
    for (size_t j = 0; j < m; ++j)
      r[j] += x[i] * M[i * m + j];
  return r;
}
/// x (m) times M^T, M (n x m).
inline Vec vecMatT(const Vec &x, const Vec &M, size_t n) {
  size_t m = x.size();
  Vec r(n, 0.0);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < m; ++j)
      r[i] += x[j] * M[i * m + j];
  return r;
}

/// Slices of the case's inputs for (b, t, h).
struct View {
  const Case &c;
  Vec tok(const std::string &n, int64_t b, int64_t t, int64_t h) const {
    const float *p = c.in.at(n).data() + ((b * c.T + t) * c.H + h) * c.D;
    return Vec(p, p + c.D);
  }
  double gate(const std::string &n, int64_t b, int64_t t, int64_t h) const {
    return c.in.at(n)[(b * c.T + t) * c.H + h];
  }
  const float *head(const std::string &n, int64_t h, int64_t size) const {
    return c.in.at(n).data() + h * size;
  }
};

/// A state the reference trains: values and a per-token gradient.
struct State {
  std::string name;
  Vec w;
};

/// Runs a GD layer per token: `grads(b, h, t, anchor)` returns each state's
/// full gradient for token t at the anchor states, `readout(b, h, t, W)`
/// returns the output row with states W. Token i of a mini-batch reads
/// W_i = W0 - sum_{j<=i} (1/(i+1)) lr_j grad_j. Returns out [B,T,H,D] and the
/// final states [B,H,...] in order.
template <typename GradFn, typename ReadFn>
std::vector<Vec> runGD(const Case &c, const std::vector<std::string> &stateInits,
                       GradFn grads, ReadFn readout) {
  View v{c};
  std::vector<Vec> outs;
  outs.push_back(Vec(c.B * c.T * c.H * c.D, 0.0));
  for (const std::string &s : stateInits)
    outs.push_back(Vec(c.B * c.in.at(s).size(), 0.0));
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t h = 0; h < c.H; ++h) {
      std::vector<Vec> S;
      for (const std::string &s : stateInits) {
        size_t n = c.in.at(s).size() / c.H;
        const float *p = c.in.at(s).data() + h * n;
        S.push_back(Vec(p, p + n));
      }
      for (int64_t t0 = 0; t0 < c.T; t0 += c.C) {
        int64_t n = std::min(c.C, c.T - t0);
        std::vector<Vec> anchor = S;
        std::vector<std::vector<Vec>> g(n);
        for (int64_t j = 0; j < n; ++j)
          g[j] = grads(b, h, t0 + j, anchor);
        for (int64_t i = 0; i < n; ++i) {
          std::vector<Vec> W = anchor;
          double scale = 1.0 / double(i + 1);
          for (int64_t j = 0; j <= i; ++j) {
            double eta = scale * v.gate("lr", b, t0 + j, h);
            for (size_t s = 0; s < W.size(); ++s)
              for (size_t e = 0; e < W[s].size(); ++e)
                W[s][e] -= eta * g[j][s][e];
          }
          Vec o = readout(b, h, t0 + i, W);
          std::copy(o.begin(), o.end(), outs[0].begin() + ((b * c.T + t0 + i) * c.H + h) * c.D);
          if (i == n - 1)
            S = W;
        }
      }
      for (size_t s = 0; s < S.size(); ++s)
        std::copy(S[s].begin(), S[s].end(), outs[1 + s].begin() + (b * c.H + h) * S[s].size());
    }
  return outs;
}

inline std::vector<Vec> tttLinear(const Case &c) {
  View v{c};
  const size_t D = c.D;
  auto grads = [&](int64_t b, int64_t h, int64_t t, const std::vector<Vec> &S) {
    Vec k = v.tok("k", b, t, h), val = v.tok("v", b, t, h);
    Vec z = vecMat(k, S[0], D);
    for (size_t i = 0; i < D; ++i)
      z[i] += S[1][i];
    Vec target(D);
    for (size_t i = 0; i < D; ++i)
      target[i] = val[i] - k[i];
    Vec dz = lnLossGrad(z, v.head("ln_w", h, D), v.head("ln_b", h, D), target);
    Vec gW(D * D);
    for (size_t i = 0; i < D; ++i)
      for (size_t j = 0; j < D; ++j)
        gW[i * D + j] = k[i] * dz[j];
    return std::vector<Vec>{gW, dz};
  };
  auto readout = [&](int64_t b, int64_t h, int64_t t, const std::vector<Vec> &W) {
    Vec q = v.tok("q", b, t, h);
    Vec z = vecMat(q, W[0], D);
    for (size_t i = 0; i < D; ++i)
      z[i] += W[1][i];
    Vec y = layerNorm(z, v.head("ln_w", h, D), v.head("ln_b", h, D));
    for (size_t i = 0; i < D; ++i)
      y[i] += q[i];
    return y;
  };
  return runGD(c, {"w_init", "b_init"}, grads, readout);
}

inline std::vector<Vec> tttMLP(const Case &c) {
  View v{c};
  const size_t D = c.D, F = 4 * c.D;
  auto forward = [&](const Vec &x, const std::vector<Vec> &S, Vec &z1, Vec &hid) {
    z1 = vecMat(x, S[0], F);
    for (size_t i = 0; i < F; ++i)
      z1[i] += S[1][i];
    hid.resize(F);
    for (size_t i = 0; i < F; ++i)
      hid[i] = gelu(z1[i]);
    Vec z2 = vecMat(hid, S[2], D);
    for (size_t i = 0; i < D; ++i)
      z2[i] += S[3][i];
    return z2;
  };
  auto grads = [&](int64_t b, int64_t h, int64_t t, const std::vector<Vec> &S) {
    Vec k = v.tok("k", b, t, h), val = v.tok("v", b, t, h);
    Vec z1, hid;
    Vec z2 = forward(k, S, z1, hid);
    Vec target(D);
    for (size_t i = 0; i < D; ++i)
      target[i] = val[i] - k[i];
    Vec dz2 = lnLossGrad(z2, v.head("ln_w", h, D), v.head("ln_b", h, D), target);
    Vec dh = vecMatT(dz2, S[2], F);
    Vec dz1(F);
    for (size_t i = 0; i < F; ++i)
      dz1[i] = dh[i] * geluGrad(z1[i]);
    Vec g1(D * F), g2(F * D);
    for (size_t i = 0; i < D; ++i)
      for (size_t j = 0; j < F; ++j)
        g1[i * F + j] = k[i] * dz1[j];
    for (size_t i = 0; i < F; ++i)
      for (size_t j = 0; j < D; ++j)
        g2[i * D + j] = hid[i] * dz2[j];
    return std::vector<Vec>{g1, dz1, g2, dz2};
  };
  auto readout = [&](int64_t b, int64_t h, int64_t t, const std::vector<Vec> &W) {
    Vec q = v.tok("q", b, t, h);
    Vec z1, hid;
    Vec z2 = forward(q, W, z1, hid);
    Vec y = layerNorm(z2, v.head("ln_w", h, D), v.head("ln_b", h, D));
    for (size_t i = 0; i < D; ++i)
      y[i] += q[i];
    return y;
  };
  return runGD(c, {"w1_init", "b1_init", "w2_init", "b2_init"}, grads, readout);
}
} // namespace ref

#endif
