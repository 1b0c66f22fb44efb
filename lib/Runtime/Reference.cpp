//===- Reference.cpp - the float64 per-token reference interpreter --------===//
//
// Evaluates a spec straight from its per-token semantics: for every token the
// state it reads is materialised (W_i = W_0 - sum_{j<=i} scale_i lr_j grad_j,
// each grad_j a full matrix), with no chunking and no dual form, in double
// precision. Gradients come from the spec's `ttt.gradient` region (the
// autodiff pass's output), evaluated token by token at the mini-batch's
// first state.
//
//===----------------------------------------------------------------------===//

#include "Runtime.h"

#include "dialect/Passes.h"
#include "dialect/Pipelines.h"
#include "dialect/TTTOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/SourceMgr.h"

#include <cmath>

using namespace mlir;
using namespace mlir::ttt;

namespace tttc {
namespace {
using Vec = std::vector<double>;

class Interpreter {
public:
  Interpreter(LayerOp layer, int64_t D, int64_t C) : layer(layer), D(D), C(C) {}

  /// Environments of the earlier tokens of the current segment (for
  /// segment_attention), oldest first.
  std::vector<DenseMap<Value, Vec> *> segment;

  LogicalResult evalOp(Operation *op, DenseMap<Value, Vec> &env, std::string &err) {
    auto in = [&](unsigned i) -> Vec & { return env[op->getOperand(i)]; };
    Vec r;
    auto binary = [&](auto f) {
      Vec &a = in(0), &b = in(1);
      size_t n = std::max(a.size(), b.size());
      r.resize(n);
      for (size_t i = 0; i < n; ++i)
        r[i] = f(a[a.size() == 1 ? 0 : i], b[b.size() == 1 ? 0 : i]);
    };
    auto unary = [&](auto f) {
      Vec &a = in(0);
      r.resize(a.size());
      for (size_t i = 0; i < a.size(); ++i)
        r[i] = f(a[i]);
    };
    bool ok = llvm::TypeSwitch<Operation *, bool>(op)
                  .Case<ConstantOp>([&](ConstantOp c) {
                    r = {c.getValue().convertToDouble()};
                    return true;
                  })
                  .Case<DimSizeOp>([&](DimSizeOp d) {
                    r = {double(numElements(d.getInput().getType(), D))};
                    return true;
                  })
                  .Case<AddOp>([&](auto) { binary([](double a, double b) { return a + b; }); return true; })
                  .Case<SubOp>([&](auto) { binary([](double a, double b) { return a - b; }); return true; })
                  .Case<MulOp>([&](auto) { binary([](double a, double b) { return a * b; }); return true; })
                  .Case<DivOp>([&](auto) { binary([](double a, double b) { return a / b; }); return true; })
                  .Case<MaxOp>([&](auto) { binary([](double a, double b) { return std::max(a, b); }); return true; })
                  .Case<MinOp>([&](auto) { binary([](double a, double b) { return std::min(a, b); }); return true; })
                  .Case<DivOrZeroOp>([&](auto) {
                    binary([](double a, double b) { return b == 0 ? 0.0 : a / b; });
                    return true;
                  })
                  .Case<NegOp>([&](auto) { unary([](double x) { return -x; }); return true; })
                  .Case<ExpOp>([&](auto) { unary([](double x) { return std::exp(x); }); return true; })
                  .Case<LogOp>([&](auto) { unary([](double x) { return std::log(x); }); return true; })
                  .Case<TanhOp>([&](auto) { unary([](double x) { return std::tanh(x); }); return true; })
                  .Case<SqrtOp>([&](auto) { unary([](double x) { return std::sqrt(x); }); return true; })
                  .Case<RsqrtOp>([&](auto) { unary([](double x) { return 1 / std::sqrt(x); }); return true; })
                  .Case<SigmoidOp>([&](auto) { unary([](double x) { return 1 / (1 + std::exp(-x)); }); return true; })
                  .Case<ReluOp>([&](auto) { unary([](double x) { return x > 0 ? x : 0.0; }); return true; })
                  .Case<StepOp>([&](auto) { unary([](double x) { return x > 0 ? 1.0 : 0.0; }); return true; })
                  .Case<Elu1Op>([&](auto) { unary([](double x) { return x > 0 ? x + 1 : std::exp(x); }); return true; })
                  .Case<GeluOp>([&](auto) {
                    unary([](double x) {
                      return 0.5 * x * (1 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
                    });
                    return true;
                  })
                  .Case<SiluOp>([&](auto) { unary([](double x) { return x / (1 + std::exp(-x)); }); return true; })
                  .Case<StopGradientOp>([&](auto) { r = in(0); return true; })
                  .Case<SegmentAttentionOp>([&](SegmentAttentionOp a) {
                    Vec &q = in(0);
                    size_t n = q.size();
                    double scale = a.getScale() ? a.getScale()->convertToDouble()
                                                : 1.0 / std::sqrt(double(n));
                    std::vector<DenseMap<Value, Vec> *> toks = segment;
                    toks.push_back(&env);
                    std::vector<double> sc;
                    double mx = -INFINITY;
                    for (auto *e : toks) {
                      Vec &k = (*e)[a.getKey()];
                      double d = 0;
                      for (size_t c = 0; c < n; ++c)
                        d += q[c] * k[c];
                      sc.push_back(d * scale);
                      mx = std::max(mx, sc.back());
                    }
                    double z = 0;
                    for (double &x : sc)
                      z += (x = std::exp(x - mx));
                    r.assign(n, 0.0);
                    for (size_t j = 0; j < toks.size(); ++j) {
                      Vec &v = (*toks[j])[a.getValue()];
                      for (size_t c = 0; c < n; ++c)
                        r[c] += sc[j] / z * v[c];
                    }
                    return true;
                  })
                  .Case<SumOp, MeanOp>([&](Operation *o) {
                    double s = 0;
                    for (double x : in(0))
                      s += x;
                    if (isa<MeanOp>(o))
                      s /= double(in(0).size());
                    r = {s};
                    return true;
                  })
                  .Case<BroadcastOp>([&](BroadcastOp b) {
                    r.assign(numElements(b.getResult().getType(), D), in(0)[0]);
                    return true;
                  })
                  .Case<LinearOp>([&](LinearOp l) {
                    auto m = cast<MatType>(l.getWeight().getType());
                    int64_t rows = m.getRows() * D, cols = m.getCols() * D;
                    Vec &x = in(0), &w = in(1);
                    if (!l.getTranspose()) {
                      r.assign(cols, 0.0);
                      for (int64_t i = 0; i < rows; ++i)
                        for (int64_t j = 0; j < cols; ++j)
                          r[j] += x[i] * w[i * cols + j];
                    } else {
                      r.assign(rows, 0.0);
                      for (int64_t i = 0; i < rows; ++i)
                        for (int64_t j = 0; j < cols; ++j)
                          r[i] += x[j] * w[i * cols + j];
                    }
                    return true;
                  })
                  .Default([&](Operation *o) {
                    err = "the reference interpreter does not support '" +
                          o->getName().getStringRef().str() + "'";
                    return false;
                  });
    if (!ok)
      return failure();
    env[op->getResult(0)] = std::move(r);
    return success();
  }

  LogicalResult evalBlock(Block &b, DenseMap<Value, Vec> &env, std::string &err) {
    for (Operation &op : b.without_terminator())
      if (!isa<OuterGradOp, VecGradOp>(op) && failed(evalOp(&op, env, err)))
        return failure();
    return success();
  }

  LayerOp layer;
  int64_t D, C;
};
} // namespace

bool referenceRun(const std::string &source, const std::string &bufferName,
                  const mlir::ttt::LayerSignature &sig, const std::vector<Tensor> &inputs,
                  std::vector<std::vector<double>> &outputs, std::string &error,
                  bool f64Inputs) {
  // Element i of an input.
  auto at = [f64Inputs](const Tensor *t, int64_t i) {
    return f64Inputs ? static_cast<const double *>(t->data)[i]
                     : double(static_cast<const float *>(t->data)[i]);
  };
  DialectRegistry registry;
  registerTTTDialects(registry);
  MLIRContext ctx(registry);
  llvm::SourceMgr sm;
  sm.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(source, bufferName), llvm::SMLoc());
  std::string diag;
  llvm::raw_string_ostream os(diag);
  SourceMgrDiagnosticHandler handler(sm, &ctx, os);
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sm, ParserConfig(&ctx));
  PassManager pm(&ctx);
  buildAutodiffPipeline(pm);
  if (!module || failed(pm.run(*module))) {
    error = "reference: " + diag;
    return false;
  }
  LayerOp layer;
  module->walk([&](LayerOp l) { layer = l; });
  const int64_t D = sig.headDim, C = sig.miniBatch;

  auto find = [&](const std::string &n) -> const Tensor * {
    for (const Tensor &t : inputs)
      if (t.name == n)
        return &t;
    return nullptr;
  };
  // B, T, H from the first per-token vector input (already validated).
  int64_t B = 0, T = 0, H = 0;
  for (const ArgInfo &a : sig.inputs)
    if (a.kind == ArgKind::TokenVector) {
      const Tensor *t = find(a.name);
      B = t->shape[0], T = t->shape[1], H = t->shape[2];
      break;
    }

  GradientOp grad;
  GDOp gd;
  SmallVector<ReadoutOp> readouts;
  SmallVector<StateOp> states;
  SmallVector<Operation *> pre;
  DenseMap<Value, DecayOp> decays;
  DenseMap<Value, MomentumOp> momenta;
  for (Operation &op : layer.getBodyBlock()) {
    if (auto g = dyn_cast<GradientOp>(op))
      grad = g;
    else if (auto g = dyn_cast<GDOp>(op))
      gd = g;
    else if (auto r = dyn_cast<ReadoutOp>(op))
      readouts.push_back(r);
    else if (auto s = dyn_cast<StateOp>(op))
      states.push_back(s);
    else if (auto d = dyn_cast<DecayOp>(op))
      decays[d.getState()] = d;
    else if (auto m = dyn_cast<MomentumOp>(op))
      momenta[m.getState()] = m;
    else if (isPrimitive(&op))
      pre.push_back(&op);
    else if (isa<UpdateRuleOpInterface>(op)) {
      // A plugin's rule: the reference is independent of the compiler, so it
      // interprets only the built-in rules.
      error = "the float64 reference interprets the built-in update rules (ttt.gd, ttt.decay, "
              "ttt.momentum) only: '" +
              op.getName().getStringRef().str() + "' needs a reference of its own";
      return false;
    }
  }

  if (gd.getScale() && (!decays.empty() || !momenta.empty())) {
    error = "a reader-side scale cannot be combined with ttt.decay or ttt.momentum";
    return false;
  }
  outputs.clear();
  for (const ArgInfo &a : sig.outputs) {
    size_t n = 1;
    for (int64_t d : CompiledLayer::shapeOf(a, B, T, H, C))
      n *= size_t(d);
    outputs.emplace_back(n, 0.0);
  }
  Interpreter interp(layer, D, C);

  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      // Initial states.
      DenseMap<Value, Vec> S;
      for (StateOp s : states) {
        int64_t n = numElements(s.getType(), D);
        Vec v(n, 0.0);
        if (s.getInit())
          if (const Tensor *t = find(s.getInit()->str())) {
            bool batched = int64_t(t->shape.size()) == 2 + int64_t(specShape(s.getType(), D).size());
            int64_t base = ((batched ? b * H : 0) + h) * n;
            for (int64_t i = 0; i < n; ++i)
              v[i] = at(t, base + i);
          }
        S[s.getResult()] = v;
      }
      auto tokenEnv = [&](int64_t t, int64_t pos, DenseMap<Value, Vec> &env) -> bool {
        for (Operation &op : layer.getBodyBlock()) {
          if (auto in = dyn_cast<InputOp>(op)) {
            const Tensor *x = find(in.getName().str());
            int64_t n = numElements(in.getType(), D);
            int64_t base = ((b * T + t) * H + h) * n;
            Vec v(n);
            for (int64_t i = 0; i < n; ++i)
              v[i] = at(x, base + i);
            env[in.getResult()] = v;
          } else if (auto p = dyn_cast<ParamOp>(op)) {
            const Tensor *x = find(p.getName().str());
            int64_t n = numElements(p.getType(), D);
            Vec v(n);
            for (int64_t i = 0; i < n; ++i)
              v[i] = at(x, h * n + i);
            env[p.getResult()] = v;
          } else if (auto pi = dyn_cast<PositionInputOp>(op)) {
            if (const Tensor *x = find(pi.getName().str())) {
              env[pi.getResult()] = {at(x, pos)};
            } else {
              DenseMap<Value, Vec> denv;
              Block &db = pi.getDefaultBody().front();
              denv[db.getArgument(0)] = {double(pos)};
              if (failed(interp.evalBlock(db, denv, error)))
                return false;
              env[pi.getResult()] = denv[cast<YieldOp>(db.getTerminator()).getValues()[0]];
            }
          }
        }
        for (Operation *op : pre)
          if (failed(interp.evalOp(op, env, error)))
            return false;
        return true;
      };
      for (int64_t t0 = 0; t0 < T; t0 += C) {
        int64_t n = std::min(C, T - t0);
        DenseMap<Value, Vec> anchor = S;
        std::vector<DenseMap<Value, Vec>> envs(n);
        for (int64_t j = 0; j < n; ++j)
          if (!tokenEnv(t0 + j, j, envs[j]))
            return false;
        // Retention before the step (exact per-token rules, mini-batch 1):
        // the first token's factor scales the anchor.
        for (auto &[state, d] : decays)
          if (d.getPreGradient())
            for (double &x : anchor[state])
              x *= envs[0][d.getFactor()][0];
        std::vector<DenseMap<Value, Vec>> grads(n);
        std::vector<double> lr(n, 1.0);
        for (int64_t j = 0; j < n; ++j) {
          DenseMap<Value, Vec> &env = envs[j];
          DenseMap<Value, Vec> genv = env;
          for (auto &[k, v] : anchor)
            genv[k] = v;
          Block &gb = grad.getBody().front();
          if (failed(interp.evalBlock(gb, genv, error)))
            return false;
          for (StateOp s : states)
            grads[j][s.getResult()] = Vec(numElements(s.getType(), D), 0.0);
          for (Operation &op : gb.without_terminator()) {
            if (auto og = dyn_cast<OuterGradOp>(op)) {
              Vec &x = genv[og.getX()], &g = genv[og.getG()];
              Vec &acc = grads[j][og.getState()];
              for (size_t r = 0; r < x.size(); ++r)
                for (size_t c = 0; c < g.size(); ++c)
                  acc[r * g.size() + c] += x[r] * g[c];
            } else if (auto vg = dyn_cast<VecGradOp>(op)) {
              Vec &g = genv[vg.getG()];
              Vec &acc = grads[j][vg.getState()];
              for (size_t c = 0; c < g.size(); ++c)
                acc[c] += g[c];
            }
          }
          if (gd.getLr())
            lr[j] = env[gd.getLr()][0];
        }
        DenseMap<Value, Vec> prevW;
        // Readout environments of this segment's tokens, per readout.
        std::vector<std::vector<DenseMap<Value, Vec>>> renvs(
            readouts.size(), std::vector<DenseMap<Value, Vec>>(n));
        for (int64_t i = 0; i < n; ++i) {
          DenseMap<Value, Vec> &env = envs[i];
          double scale = gd.getScale() ? env[gd.getScale()][0] : 1.0;
          // The state token i reads, materialised.
          DenseMap<Value, Vec> Wi;
          if (gd.getScale()) {
            // W_i = W0 - scale_i sum_{j<=i} lr_j grad_j
            Wi = anchor;
            for (int64_t j = 0; j <= i; ++j)
              for (StateOp s : states) {
                Vec &w = Wi[s.getResult()];
                Vec &g = grads[j][s.getResult()];
                for (size_t e = 0; e < w.size(); ++e)
                  w[e] -= scale * lr[j] * g[e];
              }
          } else {
            // The recurrence, one token at a time: step = -lr_i grad_i;
            // S_i = eta_i S_{i-1} + step (momentum); W_i = f_i W_{i-1} + S_i
            // (or + step) with f the retention factor after the step.
            Wi = i == 0 ? anchor : prevW;
            for (StateOp s : states) {
              Value sv = s.getResult();
              auto mit = momenta.find(sv);
              bool isBuffer = llvm::any_of(momenta, [&](auto &kv) {
                return kv.second.getBuffer() == sv;
              });
              if (isBuffer)
                continue;
              Vec &w = Wi[sv];
              Vec &g = grads[i][sv];
              Vec upd(w.size());
              for (size_t e = 0; e < w.size(); ++e)
                upd[e] = -lr[i] * g[e];
              if (mit != momenta.end()) {
                Vec &buf = Wi[mit->second.getBuffer()];
                double eta = env[mit->second.getDecay()][0];
                for (size_t e = 0; e < w.size(); ++e)
                  upd[e] = buf[e] = eta * buf[e] + upd[e];
              }
              auto dit = decays.find(sv);
              double f = dit != decays.end() && !dit->second.getPreGradient()
                             ? env[dit->second.getFactor()][0]
                             : 1.0;
              for (size_t e = 0; e < w.size(); ++e)
                w[e] = f * w[e] + upd[e];
            }
            prevW = Wi;
          }
          size_t outNo = 0;
          for (auto [rNo, r] : llvm::enumerate(readouts)) {
            DenseMap<Value, Vec> &renv = renvs[rNo][i];
            renv = env;
            for (auto &[k, v] : r.getBeforeUpdate() ? anchor : Wi)
              renv[k] = v;
            Block &rb = r.getBody().front();
            interp.segment.clear();
            for (int64_t j = 0; j < i; ++j)
              interp.segment.push_back(&renvs[rNo][j]);
            if (failed(interp.evalBlock(rb, renv, error)))
              return false;
            Vec &y = renv[cast<YieldOp>(rb.getTerminator()).getValues()[0]];
            std::copy(y.begin(), y.end(),
                      outputs[outNo].begin() + ((b * T + t0 + i) * H + h) * y.size());
            ++outNo;
          }
          if (i == n - 1)
            S = Wi;
        }
      }
      // Final states.
      size_t outNo = readouts.size();
      for (StateOp s : states) {
        if (!s.getFinal())
          continue;
        Vec &v = S[s.getResult()];
        std::copy(v.begin(), v.end(), outputs[outNo].begin() + (b * H + h) * v.size());
        ++outNo;
      }
    }
  return true;
}

} // namespace tttc
