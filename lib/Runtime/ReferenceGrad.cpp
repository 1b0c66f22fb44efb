//===- ReferenceGrad.cpp - gradients checked on the float64 reference -----===//
//
// The check of a layer's generated backward that shares nothing with it:
// the float64 per-token reference interpreter (Reference.cpp: weights
// materialised per token, no chunks, no dual form), differentiated by
// central differences along random directions. With
// L(x) = sum over outputs of <cotangent, output(x)>, for an input x and a
// direction U (normal entries scaled to x's RMS), the directional derivative
//   (L(x + eU) - L(x - eU)) / 2e      (e = 1e-5, float64)
// must equal <grad_x, U>; the difference is taken relative to the larger
// of |fd| and the typical size of a directional derivative,
// ||grad_x|| ||U|| / sqrt(numel), so that a direction nearly orthogonal to
// the gradient does not turn float32 rounding into a large ratio.
//
//===----------------------------------------------------------------------===//

#include "LayerImpl.h"
#include "Varlen.h"

#include <cmath>
#include <random>

using mlir::ttt::ArgInfo;
using mlir::ttt::ArgKind;

namespace tttc {

bool CompiledLayer::checkGradients(const std::vector<Tensor> &inputs,
                                   const std::vector<Tensor> &cotangents,
                                   const std::vector<Tensor> &grads, int directions,
                                   uint64_t seed, std::vector<double> &relErr,
                                   std::string &error, const std::vector<int64_t> &cu) const {
  // A packed batch: the reference runs each sequence alone (readouts
  // [1, T_total, ...], final states one row per sequence, initial states
  // per head or one row per sequence); checkSeqlens validates it.
  size_t N = cu.empty() ? 0 : cu.size() - 1;
  int64_t B = 1, T = N ? cu.back() : 0, H = 0;
  if (N) {
    if (!checkSeqlens(*this, inputs, cu, error))
      return false;
    for (const Tensor &t : inputs)
      for (const ArgInfo &a : sig.inputs)
        if (a.name == t.name && a.kind == ArgKind::TokenVector && t.shape.size() == 4 && !H)
          H = t.shape[2];
  } else if (!validateInputs(inputs, B, T, H, nullptr, error)) {
    return false;
  }
  auto numel = [](const std::vector<int64_t> &s) {
    size_t n = 1;
    for (int64_t d : s)
      n *= size_t(d);
    return n;
  };
  // float64 copies of the inputs, perturbed in place.
  std::vector<std::vector<double>> x64(inputs.size());
  std::vector<Tensor> in64 = inputs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const float *f = static_cast<const float *>(inputs[i].data);
    x64[i].assign(f, f + numel(inputs[i].shape));
    in64[i].data = x64[i].data();
  }
  // The cotangents in output order (absent: zero).
  std::vector<const Tensor *> cot(sig.outputs.size(), nullptr);
  for (const Tensor &c : cotangents) {
    bool known = false;
    for (size_t o = 0; o < sig.outputs.size(); ++o)
      if (sig.outputs[o].name == c.name) {
        cot[o] = &c;
        known = true;
        int64_t rows = !N ? B : sig.outputs[o].kind == ArgKind::Readout ? 1 : int64_t(N);
        if (c.shape != shapeOf(sig.outputs[o], rows, T, H, sig.miniBatch)) {
          error = "cotangent '" + c.name + "' does not have the shape of its output";
          return false;
        }
      }
    if (!known) {
      error = "unknown cotangent '" + c.name + "'";
      return false;
    }
  }
  auto inputArg = [&](const std::string &name) -> const ArgInfo * {
    for (const ArgInfo &a : sig.inputs)
      if (a.name == name)
        return &a;
    return nullptr;
  };
  /// L over one batch (`ins`) or one sequence's views, with that part's
  /// cotangents `cots` (in output order).
  auto partLoss = [&](const std::vector<Tensor> &ins, const std::vector<const float *> &cots,
                      double &L) {
    std::vector<std::vector<double>> outs;
    if (!referenceRun(impl->source, impl->bufferName, sig, ins, outs, error, /*f64Inputs=*/true))
      return false;
    for (size_t o = 0; o < outs.size(); ++o)
      if (cots[o])
        for (size_t k = 0; k < outs[o].size(); ++k)
          L += double(cots[o][k]) * outs[o][k];
    return true;
  };
  auto loss = [&](double &L) {
    L = 0;
    if (!N) {
      std::vector<const float *> cots;
      for (const Tensor *c : cot)
        cots.push_back(c ? static_cast<const float *>(c->data) : nullptr);
      return partLoss(in64, cots, L);
    }
    for (size_t i = 0; i < N; ++i) {
      std::vector<Tensor> ins;
      for (const Tensor &t : in64)
        ins.push_back(view(t, partOf(inputArg(t.name), t, false), cu, i, sizeof(double)));
      std::vector<const float *> cots;
      for (size_t o = 0; o < cot.size(); ++o)
        cots.push_back(cot[o] ? static_cast<const float *>(
                                    view(*cot[o], partOf(&sig.outputs[o], *cot[o], false), cu, i,
                                         sizeof(float))
                                        .data)
                              : nullptr);
      if (!partLoss(ins, cots, L)) {
        error = "sequence " + std::to_string(i) + ": " + error;
        return false;
      }
    }
    return true;
  };

  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  relErr.assign(grads.size(), 0.0);
  for (size_t gi = 0; gi < grads.size(); ++gi) {
    const Tensor &g = grads[gi];
    size_t xi = 0;
    while (xi < inputs.size() && inputs[xi].name != g.name)
      ++xi;
    if (xi == inputs.size()) {
      error = "gradient '" + g.name + "' of an input that was not given";
      return false;
    }
    std::vector<double> &x = x64[xi];
    if (g.shape != inputs[xi].shape) {
      error = "gradient '" + g.name + "' does not have the shape of its input";
      return false;
    }
    const float *gd = static_cast<const float *>(g.data);
    double rms = 0, gnorm = 0;
    for (size_t k = 0; k < x.size(); ++k) {
      rms += x[k] * x[k];
      gnorm += double(gd[k]) * gd[k];
    }
    rms = x.empty() ? 1.0 : std::sqrt(rms / double(x.size()));
    if (rms == 0)
      rms = 1;
    gnorm = std::sqrt(gnorm);
    std::vector<double> saved = x;
    for (int d = 0; d < directions && !x.empty(); ++d) {
      std::vector<double> u(x.size());
      double unorm = 0, dot = 0;
      for (size_t k = 0; k < u.size(); ++k) {
        u[k] = normal(rng) * rms;
        unorm += u[k] * u[k];
        dot += double(gd[k]) * u[k];
      }
      unorm = std::sqrt(unorm);
      const double e = 1e-5;
      double Lp, Lm;
      for (size_t k = 0; k < x.size(); ++k)
        x[k] = saved[k] + e * u[k];
      if (!loss(Lp))
        return false;
      for (size_t k = 0; k < x.size(); ++k)
        x[k] = saved[k] - e * u[k];
      if (!loss(Lm))
        return false;
      x = saved;
      double fd = (Lp - Lm) / (2 * e);
      double scale = std::max(std::fabs(fd), gnorm * unorm / std::sqrt(double(x.size())));
      double rel = scale > 1e-300 ? std::fabs(fd - dot) / scale : std::fabs(fd - dot);
      if (!std::isfinite(dot))
        rel = INFINITY;
      relErr[gi] = std::max(relErr[gi], rel);
    }
  }
  return true;
}

} // namespace tttc
