//===- DualForm.cpp - per-token recurrence -> mini-batch dual form --------===//
//
// For one mini-batch (chunk) of C tokens with first state S0, gradient
// descent gives token i the state
//   W_i = W0 - sum_{j<=i} E_ij x_j^T g_j,   E = tril(scale_i * lr_j),
// so a readout's linear use of W never needs W_i:
//   a_i W_i = a_i W0 - sum_j E_ij (a_i . x_j) g_j = (A W0 - (E o A X^T) G)_i,
// (sum over the gradient factors (X, G) of the state), vector states are
// cheap to materialise per token (B_i = b0 - E G), and the chunk's last
// real token gives the next chunk's state:
//   W' = W0 - X^T (e o G),  b' = b0 - e G,  e = row `valid - 1` of E.
// The chunk's gradients come from the `ttt.gradient` region evaluated on all
// C tokens at once (its primitives broadcast over rows), so they are taken
// at S0, as mini-batch GD prescribes. Layers of an MLP are handled one
// linear use at a time: each readout linear op gets its own A.
//
//===----------------------------------------------------------------------===//

#include "dialect/ChunkUtils.h"
#include "dialect/Passes.h"
#include "dialect/TTTOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/MapVector.h"

namespace mlir::ttt {
#define GEN_PASS_DEF_TTTDUALFORM
#include "dialect/TTTPasses.h.inc"
} // namespace mlir::ttt

using namespace mlir;
using namespace mlir::ttt;

namespace {
/// One per-token gradient term of a state, as chunk matrices: X [C, n] and
/// G [C, m] for a matrix state (dW = X^T G row by row), G alone for a vector.
struct Factor {
  Value x, g;
};

/// The update rules of one state beyond the step rule, as the interface
/// gives them.
struct Rule {
  UpdateRuleOpInterface decay;    // W_t = f_t W_{t-1} + update (getRetentionFactor)
  UpdateRuleOpInterface momentum; // the update goes through a buffer S_t = eta_t S_{t-1} + step_t
  UpdateRuleOpInterface materialized; // no dual form: buildMaterializedUpdate
};

/// Chunk coefficient matrices of one state's recurrence. Token i reads
///   W_i = beta_i W0 + f_i S0 - sum_{s<=i} E_is x_s^T g_s
/// (beta = 1 without decay, f = 0 without momentum), with
///   E = scale_i * (P . Mm)_is * lr_s,  P_ir = beta_i / beta_r (r <= i),
///   Mm_rs = m_r / m_s (s <= r; identity without momentum), f = P . m,
/// all computed from cumulative sums of logarithms (stable products).
struct Coefficients {
  Value E;        // [C, C], lower triangular
  Value beta, f;  // [C, 1] or null
  Value eRow;     // [1, C]: row `last` of E
  Value betaLast, fLast, mLast; // [1, 1] or null
  Value eBufRow;  // [1, C]: (m_last / m_s) lr_s, for the momentum buffer
};

class DualFormBuilder {
public:
  DualFormBuilder(LayerOp layer, int64_t headDim, int64_t miniBatch, int64_t exactChunk)
      : layer(layer), D(headDim), C(miniBatch), miniBatch(miniBatch), exactChunk(exactChunk),
        b(layer.getContext()) {}

  LogicalResult run() {
    Block &body = layer.getBodyBlock();
    GradientOp grad;
    UpdateRuleOpInterface gd; // the step rule
    SmallVector<ReadoutOp> readouts;
    SmallVector<Operation *> decls, pre;
    SmallVector<StateOp> states;
    for (Operation &op : body) {
      if (isa<InputOp, PositionInputOp, ParamOp, StateOp>(op)) {
        decls.push_back(&op);
        if (auto s = dyn_cast<StateOp>(op))
          states.push_back(s);
      } else if (auto g = dyn_cast<GradientOp>(op)) {
        grad = g;
      } else if (auto rule = dyn_cast<UpdateRuleOpInterface>(op)) {
        if (failed(addRule(rule, gd)))
          return failure();
      } else if (auto r = dyn_cast<ReadoutOp>(op)) {
        readouts.push_back(r);
      } else if (isa<LossOp, ModelOp>(op)) {
        return op.emitOpError("run ttt-decompose and ttt-inner-autodiff before "
                              "ttt-dual-form");
      } else if (isPrimitive(&op)) {
        pre.push_back(&op);
      } else {
        return op.emitOpError("unexpected in ttt-dual-form");
      }
    }
    if (!grad || !gd)
      return layer.emitOpError("needs a ttt.gradient and a ttt.gd for ttt-dual-form");
    if (failed(checkRules(gd)))
      return failure();
    std::string algorithm = chooseAlgorithm(grad, gd, decls, states);

    // The chunk step and its block arguments, one per declaration.
    b.setInsertionPointToEnd(&body);
    Location loc = layer.getLoc();
    SmallVector<StringRef> names;
    for (ReadoutOp r : readouts)
      names.push_back(r.getName());
    auto step = ChunkStepOp::create(b, loc, b.getStrArrayAttr(names), algorithm);
    bool anyMaterialized = false;
    for (auto &[state, rule] : rules)
      if (rule.materialized) {
        anyMaterialized = true;
        bool perToken = rule.materialized.getUpdatePath() == UpdatePath::TokenByToken;
        InFlightDiagnostic r = emitRemark(rule.materialized->getLoc())
                               << "'" << rule.materialized->getName() << "' has no dual form: ";
        if (perToken)
          r << "token-by-token path, one token per chunk step";
        else
          r << "chunk-end path, state '" << state.getDefiningOp<StateOp>().getName()
            << "' updated once per chunk of " << C << " token" << (C == 1 ? "" : "s");
        r << ", the gradient materialised";
      }
    if (algorithm == "sequential" && exactChunk != 1 && !anyMaterialized)
      emitRemark(layer.getLoc())
          << "exact per-token updates (mini-batch 1) whose gradient is not affine in "
             "a single matrix state: sequential path, one token per chunk step";
    Block *blk = b.createBlock(&step.getBody());
    for (Operation *d : decls) {
      Type t = d->getResult(0).getType();
      int64_t rows = isa<InputOp, PositionInputOp>(d) ? C : 1;
      map.map(d->getResult(0), blk->addArgument(chunkType(t, rows, D), d->getLoc()));
    }
    valid = blk->addArgument(b.getIndexType(), loc);
    b.setInsertionPointToStart(blk);

    // Per-token preprocessing of the inputs.
    for (Operation *op : pre)
      if (!cloneChunk(op))
        return failure();

    // Retention before the step (mini-batch 1): the anchor is decayed first.
    for (auto &[state, rule] : rules)
      if (rule.decay && rule.decay.isRetentionBeforeGradient() && algorithm == "sequential") {
        Value f = map.lookup(rule.decay.getRetentionFactor());
        map.map(state, MulOp::create(b, rule.decay->getLoc(), f, map.lookup(state)).getResult());
      }

    // The whole chunk's gradients at the anchor state.
    llvm::MapVector<Value, SmallVector<Factor>> factors;
    for (Operation &op : grad.getBody().front().without_terminator()) {
      if (auto og = dyn_cast<OuterGradOp>(op)) {
        factors[og.getState()].push_back({map.lookup(og.getX()), map.lookup(og.getG())});
        continue;
      }
      if (auto vg = dyn_cast<VecGradOp>(op)) {
        factors[vg.getState()].push_back({Value(), map.lookup(vg.getG())});
        continue;
      }
      if (isa<SegmentAttentionOp>(op))
        return op.emitOpError("cannot be used in a loss");
      if (!cloneChunk(&op))
        return failure();
    }

    // Coefficients of the chunk's recurrence, per state.
    loc = gd->getLoc();
    mask = ValidMaskOp::create(b, loc, colType(), valid);
    Value lrCol = gd.getLearningRate()
                      ? MulOp::create(b, loc, map.lookup(gd.getLearningRate()), mask)
                             : mask;
    lrRow = TransposeOp::create(b, loc, lrCol);
    scaleCol = gd.getReaderScale() ? map.lookup(gd.getReaderScale()) : Value();
    Value last = arith::SubIOp::create(b, loc, valid,
                                       arith::ConstantIndexOp::create(b, loc, 1));
    DenseMap<Value, Coefficients> coeffs;
    // A rule with no dual form: the state's new value (then its auxiliary
    // states') from the chunk's materialised gradient.
    DenseMap<Value, SmallVector<Value>> materialized;
    for (StateOp s : states) {
      Value sv = s.getResult();
      if (buffers.contains(sv))
        continue;
      if (UpdateRuleOpInterface r = rules.lookup(sv).materialized) {
        FailureOr<SmallVector<Value>> next = materialize(r, sv, factors[sv], lrCol);
        if (failed(next))
          return failure();
        materialized[sv] = *next;
        continue;
      }
      coeffs[sv] = coefficients(rules.lookup(sv), last);
    }
    if (algorithm == "ut_transform")
      if (failed(utTransform(grad, factors, coeffs, last, lrCol)))
        return failure();

    // Readouts.
    SmallVector<Value> results;
    for (ReadoutOp r : readouts) {
      IRMapping rmap = map;
      bool before = r.getBeforeUpdate();
      // A materialised state: its new value (exact when the chunk is one
      // token; otherwise only readouts from before the chunk read it).
      for (auto &[sv, next] : materialized) {
        if (before)
          continue;
        bool reads = false;
        r.walk([&](Operation *op) { reads |= llvm::is_contained(op->getOperands(), sv); });
        if (reads && C != 1)
          return r.emitOpError("reads state '")
                 << sv.getDefiningOp<StateOp>().getName() << "' per token, but "
                 << rules.lookup(sv).materialized->getName()
                 << " updates it once per chunk of " << C
                 << " tokens: read it before_update, or use mini-batch 1";
        rmap.map(sv, next.front());
      }
      // Vector states, per token: beta o b0 + f o S0 - E G.
      for (StateOp s : states) {
        if (!isa<VecType>(s.getType()) || before || buffers.contains(s.getResult()) ||
            materialized.count(s.getResult()))
          continue;
        Coefficients &c = coeffs[s.getResult()];
        Value v = carried(c, map.lookup(s.getResult()), rules.lookup(s.getResult()),
                          [&](Value x) { return x; }, loc);
        for (Factor &f : factors[s.getResult()])
          v = SubOp::create(b, loc, v, MatmulOp::create(b, loc, c.E, f.g));
        rmap.map(s.getResult(), v);
      }
      for (Operation &op : r.getBody().front().without_terminator()) {
        for (Value v : op.getOperands())
          if (buffers.contains(v))
            return op.emitOpError("reads a momentum buffer; ttt-dual-form supports "
                                  "reading only the trained states");
        auto lin = dyn_cast<LinearOp>(op);
        if (!lin || !lin.getWeight().getDefiningOp<StateOp>() || before ||
            materialized.count(lin.getWeight())) {
          if (!cloneChunk(&op, rmap))
            return failure();
          continue;
        }
        if (lin.getTranspose())
          return lin.emitOpError("a transposed readout of a state is not "
                                 "supported by ttt-dual-form");
        // A W_i = beta o A W0 + f o A S0 - sum_f (E o A X^T) G
        loc = lin.getLoc();
        Value w = lin.getWeight();
        Coefficients &c = coeffs[w];
        Value a = rmap.lookup(lin.getInput());
        Value out = carried(c, map.lookup(w), rules.lookup(w),
                            [&](Value m) { return LinearOp::create(b, loc, a, m).getResult(); },
                            loc);
        for (Factor &f : factors[w]) {
          Value ax = MatmulOp::create(b, loc, a, f.x, false, true);
          Value m = MulOp::create(b, loc, c.E, ax);
          out = SubOp::create(b, loc, out, MatmulOp::create(b, loc, m, f.g));
        }
        rmap.map(lin.getResult(), out);
      }
      results.push_back(rmap.lookup(
          cast<YieldOp>(r.getBody().front().getTerminator()).getValues()[0]));
    }

    // The states after the chunk's last real token.
    loc = gd->getLoc();
    DenseMap<Value, Value> next;
    for (StateOp s : states) {
      Value sv = s.getResult();
      if (buffers.contains(sv))
        continue;
      if (auto it = materialized.find(sv); it != materialized.end()) {
        next[sv] = it->second.front();
        for (auto [aux, v] : llvm::zip(rules.lookup(sv).materialized.getAuxiliaryStates(),
                                       ArrayRef<Value>(it->second).drop_front()))
          next[aux] = v;
        continue;
      }
      Coefficients &c = coeffs[sv];
      Rule rule = rules.lookup(sv);
      // beta_last W0 + f_last S0 - X^T (e o G), e = row `last` of E.
      Value v = carried(c, map.lookup(sv), rule,
                        [&](Value x) { return x; }, loc, /*lastRow=*/true);
      next[sv] = subtractFactors(v, factors[sv], c.eRow);
      if (rule.momentum) {
        // S' = m_last S0 - X^T (eS o G), eS_s = (m_last / m_s) lr_s.
        Value buf = rule.momentum.getMomentumBuffer();
        Value sNext = MulOp::create(b, loc, c.mLast, map.lookup(buf));
        next[buf] = subtractFactors(sNext, factors[sv], c.eBufRow);
      }
    }
    for (StateOp s : states) {
      Value v = next.lookup(s.getResult());
      if (!v) // a state without gradient and rule: unchanged
        v = map.lookup(s.getResult());
      results.push_back(v);
    }
    YieldOp::create(b, loc, results);

    // The per-token description is now folded into the chunk step.
    grad.erase();
    for (Operation *r : ruleOps)
      r->erase();
    for (ReadoutOp r : readouts)
      r.erase();
    for (Operation *op : llvm::reverse(pre))
      if (op->use_empty())
        op->erase();
    layer.setHeadDim(D);
    layer.setMiniBatch(miniBatch);
    layer.setChunkSize(C);
    return success();
  }

private:
  LayerOp layer;
  int64_t D, C, miniBatch, exactChunk;
  OpBuilder b;
  IRMapping map;
  Value valid, mask, lrRow, scaleCol;
  llvm::MapVector<Value, Rule> rules;
  /// The auxiliary states of the rules (momentum buffers, ...).
  llvm::SmallPtrSet<Value, 4> buffers;
  /// Every update-rule op, the step rule first (erased once folded).
  SmallVector<Operation *> ruleOps;

  /// Records `r`: the step rule, or what it contributes to its state's rule.
  LogicalResult addRule(UpdateRuleOpInterface r, UpdateRuleOpInterface &step) {
    ruleOps.push_back(r);
    Value state = r.getUpdatedState();
    if (!state) {
      if (step)
        return r->emitOpError("a layer has one step rule; ")
               << step->getName() << " is another";
      step = r;
      return success();
    }
    Rule &rule = rules[state];
    auto once = [&](UpdateRuleOpInterface &slot) -> LogicalResult {
      if (slot)
        return r->emitOpError("a state has at most one ") << r->getName();
      slot = r;
      return success();
    };
    if (r.getUpdatePath() != UpdatePath::DualForm) {
      if (failed(once(rule.materialized)))
        return failure();
    } else {
      if (!r.getRetentionFactor() && !r.getMomentumBuffer())
        return r->emitOpError("is a dual-form update rule that gives none of the dual "
                              "form's building blocks (a retention factor or a momentum "
                              "buffer)");
      if (r.getRetentionFactor() && failed(once(rule.decay)))
        return failure();
      if (r.getMomentumBuffer() && failed(once(rule.momentum)))
        return failure();
    }
    for (Value a : r.getAuxiliaryStates()) {
      if (!a.getDefiningOp<StateOp>())
        return r->emitOpError("auxiliary states must be ttt.state values");
      buffers.insert(a);
    }
    return success();
  }


  /// Whether `v` (in the gradient region) depends on any state.
  bool dependsOnState(Value v) {
    auto it = stateDep.find(v);
    if (it != stateDep.end())
      return it->second;
    bool r = false;
    if (v.getDefiningOp<StateOp>())
      r = true;
    else if (Operation *d = v.getDefiningOp(); d && !isa<StopGradientOp>(d))
      r = llvm::any_of(d->getOperands(), [&](Value o) { return dependsOnState(o); });
    return stateDep[v] = r;
  }

  /// How the chunk is computed (see the pass description).
  std::string chooseAlgorithm(GradientOp grad, UpdateRuleOpInterface gd, ArrayRef<Operation *> decls,
                              ArrayRef<StateOp> states) {
    // A rule with no dual form: one token per chunk step at mini-batch 1,
    // or the mini-batch's chunk with its update at the chunk's end.
    for (auto &[state, rule] : rules)
      if (rule.materialized)
        return miniBatch == 1 ? "sequential" : "dual_form";
    if (miniBatch != 1)
      return "dual_form";
    // Readouts whose meaning depends on the segment (= mini-batch) length
    // keep one token per chunk.
    for (Operation &op : layer.getBodyBlock())
      if (auto r = dyn_cast<ReadoutOp>(op)) {
        bool segmentWise = r.getBeforeUpdate();
        r.walk([&](SegmentAttentionOp) { segmentWise = true; });
        if (segmentWise)
          return "sequential";
      }
    bool stateDependent = false;
    SmallVector<OuterGradOp> outer;
    int numTerms = 0;
    for (Operation &op : grad.getBody().front().without_terminator()) {
      if (auto og = dyn_cast<OuterGradOp>(op)) {
        stateDependent |= dependsOnState(og.getG()) || dependsOnState(og.getX());
        outer.push_back(og);
        ++numTerms;
      } else if (auto vg = dyn_cast<VecGradOp>(op)) {
        stateDependent |= dependsOnState(vg.getG());
        ++numTerms;
      }
    }
    bool positions = llvm::any_of(decls, [](Operation *d) { return isa<PositionInputOp>(d); });
    if (positions || gd.getReaderScale())
      return "sequential";
    if (exactChunk == 1)
      return "sequential";
    if (!stateDependent) {
      C = exactChunk;
      return "dual_form";
    }
    // UT transform: one matrix state, one term x^T g with g affine in it,
    // no momentum, no other trained state.
    if (numTerms != 1 || outer.size() != 1 || !buffers.empty())
      return "sequential";
    OuterGradOp og = outer.front();
    Value w = og.getState();
    Rule rule = rules.lookup(w);
    if (rule.momentum || (rule.decay && !rule.decay.isRetentionBeforeGradient()) ||
        dependsOnState(og.getX()))
      return "sequential";
    for (auto &[state, r] : rules)
      if (state != w)
        return "sequential";
    if (!isAffine(og.getG(), w, og.getX()))
      return "sequential";
    C = exactChunk;
    return "ut_transform";
  }

  /// g = alpha (x W) + c with alpha a per-token scalar, both independent of
  /// the states: checked structurally.
  bool isAffine(Value g, Value w, Value x) {
    if (!dependsOnState(g))
      return true;
    Operation *d = g.getDefiningOp();
    if (auto lin = dyn_cast_or_null<LinearOp>(d))
      return lin.getWeight() == w && !lin.getTranspose() && lin.getInput() == x;
    if (isa_and_nonnull<AddOp, SubOp>(d))
      return isAffine(d->getOperand(0), w, x) && isAffine(d->getOperand(1), w, x);
    if (isa_and_nonnull<NegOp>(d))
      return isAffine(d->getOperand(0), w, x);
    if (isa_and_nonnull<MulOp>(d)) {
      for (int i = 0; i < 2; ++i) {
        Value s = d->getOperand(i), o = d->getOperand(1 - i);
        if (!dependsOnState(s) && scalarOf(s) && isAffine(o, w, x))
          return true;
      }
    }
    return false;
  }

  /// A state-independent per-token scalar (f32, or a broadcast of one).
  Value scalarOf(Value s) {
    if (isa<FloatType>(s.getType()))
      return s;
    if (auto bc = s.getDefiningOp<BroadcastOp>(); bc && isa<FloatType>(bc.getInput().getType()))
      return bc.getInput();
    return {};
  }

  /// The chunk-level (alpha [C,1] or f32, c [C,m]) of g = alpha (x W) + c;
  /// null members are zero.
  std::pair<Value, Value> affineParts(Value g) {
    Location loc = g.getLoc();
    if (!dependsOnState(g))
      return {Value(), map.lookup(g)};
    Operation *d = g.getDefiningOp();
    if (isa<LinearOp>(d))
      return {cst(1.0), Value()};
    auto combine = [&](Value x, Value y, bool sub) -> Value {
      if (!y)
        return x;
      if (!x)
        return sub ? NegOp::create(b, loc, y).getResult() : y;
      return sub ? SubOp::create(b, loc, x, y).getResult() : AddOp::create(b, loc, x, y).getResult();
    };
    if (isa<AddOp, SubOp>(d)) {
      auto [a0, c0] = affineParts(d->getOperand(0));
      auto [a1, c1] = affineParts(d->getOperand(1));
      bool sub = isa<SubOp>(d);
      return {combine(a0, a1, sub), combine(c0, c1, sub)};
    }
    if (isa<NegOp>(d)) {
      auto [a, c] = affineParts(d->getOperand(0));
      return {a ? NegOp::create(b, loc, a).getResult() : a,
              c ? NegOp::create(b, loc, c).getResult() : c};
    }
    // MulOp with a scalar side.
    int si = (!dependsOnState(d->getOperand(0)) && scalarOf(d->getOperand(0))) ? 0 : 1;
    Value s = map.lookup(scalarOf(d->getOperand(si)));
    auto [a, c] = affineParts(d->getOperand(1 - si));
    return {a ? MulOp::create(b, loc, s, a).getResult() : a,
            c ? MulOp::create(b, loc, s, c).getResult() : c};
  }

  /// The UT transform of W_t = a_t W_{t-1} - b_t x_t^T g_t(a_t W_{t-1}),
  /// g_t(W) = alpha_t x_t W + c_t, over a chunk with first state S0:
  ///   (I + strict_tril(diag(b alpha) (Gamma o X X^T))) U
  ///       = -diag(b) Cc - diag(b alpha gamma) X S0,
  /// gamma_t = prod_{j<=t} a_j, Gamma_ij = gamma_i / gamma_j; then token t
  /// reads W_t = gamma_t S0 + sum_{i<=t} Gamma_ti x_i^T u_i: the dual form's
  /// readout and chunk-end update with E = Gamma, beta = gamma, G = -U.
  LogicalResult utTransform(GradientOp grad, llvm::MapVector<Value, SmallVector<Factor>> &factors,
                            DenseMap<Value, Coefficients> &coeffs, Value last, Value lrCol) {
    OuterGradOp og;
    for (Operation &op : grad.getBody().front().without_terminator())
      if (auto o = dyn_cast<OuterGradOp>(op))
        og = o;
    Value w = og.getState();
    Location loc = og.getLoc();
    auto [alpha, cc] = affineParts(og.getG());
    if (!alpha)
      return og.emitOpError("internal error: UT transform of a state-independent gradient");
    Value X = map.lookup(og.getX());
    Value S0 = map.lookup(w);
    Value bAlpha = MulOp::create(b, loc, lrCol, alpha);
    Rule rule = rules.lookup(w);
    Coefficients c;
    Value gammaCol;
    if (rule.decay) {
      Value cg = cumLog(map.lookup(rule.decay.getRetentionFactor()), loc);
      c.E = ratioMatrix(cg, loc);
      gammaCol = ExpOp::create(b, loc, cg);
      c.beta = gammaCol;
      c.betaLast = RowOp::create(b, loc, gammaCol, last);
    } else {
      Value ones = BroadcastOp::create(b, loc, RankedTensorType::get({C, C}, b.getF32Type()),
                                       cst(1.0));
      c.E = CausalMaskOp::create(b, loc, ones);
    }
    Value xx = MatmulOp::create(b, loc, X, X, false, true);
    Value a = MulOp::create(b, loc, bAlpha, MulOp::create(b, loc, c.E, xx));
    Value lower = CausalMaskOp::create(b, loc, a, /*strict=*/true);
    Value xs = LinearOp::create(b, loc, X, S0);
    Value coef = gammaCol ? MulOp::create(b, loc, bAlpha, gammaCol).getResult() : bAlpha;
    Value rhs = NegOp::create(b, loc, MulOp::create(b, loc, coef, xs));
    if (cc)
      rhs = SubOp::create(b, loc, rhs, MulOp::create(b, loc, lrCol, cc));
    Value u = TriSolveOp::create(b, loc, lower, rhs);
    c.eRow = RowOp::create(b, loc, c.E, last);
    coeffs[w] = c;
    factors[w] = {Factor{X, NegOp::create(b, loc, u)}};
    return success();
  }

  DenseMap<Value, bool> stateDep;

  LogicalResult checkRules(UpdateRuleOpInterface gd) {
    for (auto &[state, rule] : rules) {
      if (buffers.contains(state))
        return (rule.decay ? rule.decay : rule.momentum ? rule.momentum : rule.materialized)
            ->emitOpError("a momentum buffer cannot have its own decay or momentum");
      if ((rule.decay || rule.momentum) && gd.getReaderScale())
        return gd->emitOpError("a reader-side scale cannot be combined with ttt.decay or "
                               "ttt.momentum");
      if (UpdateRuleOpInterface m = rule.materialized) {
        if (rule.decay || rule.momentum)
          return m->emitOpError("has no dual form and cannot be combined with ")
                 << (rule.decay ? rule.decay : rule.momentum)->getName()
                 << " on the same state";
        if (gd.getReaderScale())
          return gd->emitOpError("a reader-side scale cannot be combined with ")
                 << m->getName();
        if (m.getUpdatePath() == UpdatePath::TokenByToken && miniBatch != 1)
          return m->emitOpError("is an exact per-token rule with no dual form: it needs "
                                "mini-batch 1, got ")
                 << C;
      }
      if (rule.decay && rule.decay.isRetentionBeforeGradient()) {
        if (miniBatch != 1)
          return rule.decay->emitOpError("retention before the gradient step (pre_gradient) "
                                        "is an exact per-token rule: it needs mini-batch 1, "
                                        "got ")
                 << C;
        if (rule.momentum)
          return rule.decay->emitOpError("pre_gradient retention cannot be combined with "
                                        "momentum");
      }
    }
    return success();
  }

  /// Lower-triangular exp(c_i - c_r) (r <= i) for a [C, 1] column c.
  Value ratioMatrix(Value c, Location loc) {
    Value d = SubOp::create(b, loc, c, TransposeOp::create(b, loc, c));
    return CausalMaskOp::create(b, loc, ExpOp::create(b, loc, d));
  }

  /// Cumulative sum of log(f) down the chunk, with padding rows' factors 1.
  Value cumLog(Value f, Location loc) {
    Value one = cst(1.0);
    Value fm = AddOp::create(b, loc, MulOp::create(b, loc, f, mask),
                             SubOp::create(b, loc, one, mask));
    Value ones = BroadcastOp::create(b, loc, RankedTensorType::get({C, C}, b.getF32Type()), one);
    return MatmulOp::create(b, loc, CausalMaskOp::create(b, loc, ones),
                            LogOp::create(b, loc, fm));
  }

  Coefficients coefficients(Rule rule, Value last) {
    Location loc = layer.getLoc();
    Coefficients c;
    // Retention before the step is retention after it when the gradient
    // does not depend on the state (the only case it reaches here with C > 1).
    bool post = rule.decay && (!rule.decay.isRetentionBeforeGradient() || C > 1);
    if (!post && !rule.momentum) {
      // Plain GD: E = tril(scale_i lr_j).
      Value s = scaleCol ? scaleCol
                         : BroadcastOp::create(b, loc, colType(), cst(1.0)).getResult();
      c.E = CausalMaskOp::create(b, loc, MulOp::create(b, loc, s, lrRow));
    } else {
      Value P;
      if (post) {
        loc = rule.decay->getLoc();
        Value cb = cumLog(map.lookup(rule.decay.getRetentionFactor()), loc);
        P = ratioMatrix(cb, loc);
        c.beta = ExpOp::create(b, loc, cb);
        c.betaLast = RowOp::create(b, loc, c.beta, last);
      } else {
        Value ones = BroadcastOp::create(b, loc, RankedTensorType::get({C, C}, b.getF32Type()),
                                         cst(1.0));
        P = CausalMaskOp::create(b, loc, ones);
      }
      Value G = P;
      if (rule.momentum) {
        loc = rule.momentum->getLoc();
        Value cm = cumLog(map.lookup(rule.momentum.getMomentumDecay()), loc);
        Value Mm = ratioMatrix(cm, loc);
        Value m = ExpOp::create(b, loc, cm);
        G = MatmulOp::create(b, loc, P, Mm);
        c.f = MatmulOp::create(b, loc, P, m);
        c.fLast = RowOp::create(b, loc, c.f, last);
        c.mLast = RowOp::create(b, loc, m, last);
        // (m_last / m_s) lr_s as a row.
        Value cmLast = RowOp::create(b, loc, cm, last);
        Value ratio = ExpOp::create(b, loc, SubOp::create(b, loc, cmLast,
                                                          TransposeOp::create(b, loc, cm)));
        c.eBufRow = MulOp::create(b, loc, ratio, lrRow);
      }
      c.E = MulOp::create(b, loc, G, lrRow);
    }
    c.eRow = RowOp::create(b, loc, c.E, last);
    return c;
  }

  /// beta o apply(W0) + f o apply(S0) (per token, or at the last token).
  template <typename Fn>
  Value carried(const Coefficients &c, Value w0, Rule rule, Fn apply, Location loc,
                bool lastRow = false) {
    Value v = apply(w0);
    Value beta = lastRow ? c.betaLast : c.beta;
    if (beta)
      v = MulOp::create(b, loc, beta, v);
    if (rule.momentum) {
      Value f = lastRow ? c.fLast : c.f;
      Value s0 = apply(map.lookup(rule.momentum.getMomentumBuffer()));
      v = AddOp::create(b, loc, v, MulOp::create(b, loc, f, s0));
    }
    return v;
  }

  /// The state's new value, then its auxiliary states', from `r`'s
  /// materialised update: the gradient sum_f X^T (mask o G) (matrix) or
  /// mask^T G (vector) at the chunk's first state.
  FailureOr<SmallVector<Value>> materialize(UpdateRuleOpInterface r, Value state,
                                            ArrayRef<Factor> fs, Value lrCol) {
    Location loc = r->getLoc();
    Value s0 = map.lookup(state);
    Value maskRow = TransposeOp::create(b, loc, mask);
    Value g;
    for (const Factor &f : fs) {
      Value d = f.x ? MatmulOp::create(b, loc, f.x, MulOp::create(b, loc, mask, f.g), true, false)
                          .getResult()
                    : MatmulOp::create(b, loc, maskRow, f.g).getResult();
      g = g ? AddOp::create(b, loc, g, d).getResult() : d;
    }
    if (!g) // the loss does not depend on the state
      g = BroadcastOp::create(b, loc, s0.getType(), cst(0.0));
    SmallVector<Value> aux;
    SmallVector<Type> types{s0.getType()};
    for (Value a : r.getAuxiliaryStates()) {
      aux.push_back(map.lookup(a));
      types.push_back(aux.back().getType());
    }
    auto lookup = [&](Value v) { return map.lookupOrNull(v); };
    MaterializedStep step{loc, s0, aux, g, lrCol, MatmulOp::create(b, loc, maskRow, mask),
                          lookup};
    FailureOr<SmallVector<Value>> next = r.buildMaterializedUpdate(b, step);
    if (failed(next))
      return failure();
    if (next->size() != types.size())
      return r->emitOpError("built ") << next->size() << " values, expected " << types.size()
                                      << " (the state, then each auxiliary state)";
    for (auto [v, t] : llvm::zip(*next, types))
      if (v.getType() != t)
        return r->emitOpError("built a value of type ") << v.getType() << ", expected " << t;
    return next;
  }

  /// v - sum_f X^T (row^T o G) (matrix) or v - row G (vector).
  Value subtractFactors(Value v, ArrayRef<Factor> fs, Value row) {
    Location loc = layer.getLoc();
    Value col = TransposeOp::create(b, loc, row);
    for (const Factor &f : fs) {
      Value d = f.x ? MatmulOp::create(b, loc, f.x, MulOp::create(b, loc, col, f.g), true, false)
                          .getResult()
                    : MatmulOp::create(b, loc, row, f.g).getResult();
      v = SubOp::create(b, loc, v, d);
    }
    return v;
  }

  Type colType() { return RankedTensorType::get({C, 1}, b.getF32Type()); }
  Value cst(double v) {
    return ConstantOp::create(b, layer.getLoc(), b.getF32FloatAttr(v));
  }
  Operation *cloneChunk(Operation *op) { return cloneChunk(op, map); }
  Operation *cloneChunk(Operation *op, IRMapping &m) {
    return cloneAtChunkLevel(b, op, m, D);
  }
};

struct TTTDualFormPass : ttt::impl::TTTDualFormBase<TTTDualFormPass> {
  using Base::Base;
  void runOnOperation() override {
    if (headDim <= 0) {
      getOperation().emitError("ttt-dual-form: head-dim must be positive");
      return signalPassFailure();
    }
    SmallVector<LayerOp> layers;
    getOperation().walk([&](LayerOp l) { layers.push_back(l); });
    for (LayerOp l : layers) {
      int64_t c = miniBatch > 0 ? int64_t(miniBatch) : int64_t(l.getMiniBatch());
      if (exactChunk <= 0) {
        l.emitError("ttt-dual-form: exact-chunk must be positive");
        return signalPassFailure();
      }
      if (failed(DualFormBuilder(l, headDim, c, exactChunk).run()))
        return signalPassFailure();
    }
  }
};
} // namespace
