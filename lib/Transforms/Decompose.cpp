//===- Decompose.cpp - inline model calls, expand composite primitives ----===//
//
// After this pass a layer's regions contain only the core primitives whose
// derivative rules ttt-inner-autodiff knows: layer_norm, rms_norm, l2_norm,
// sum_sq, dot, gelu and silu are expressed through them, so (for instance)
// the layer-norm backward is derived by the chain rule, not written by hand.
//
//===----------------------------------------------------------------------===//

#include "dialect/Passes.h"
#include "dialect/TTTOps.h"

#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir::ttt {
#define GEN_PASS_DEF_TTTDECOMPOSE
#include "dialect/TTTPasses.h.inc"
} // namespace mlir::ttt

using namespace mlir;
using namespace mlir::ttt;

namespace {
struct Builder {
  OpBuilder &b;
  Location loc;
  Value c(double v) { return ConstantOp::create(b, loc, b.getF32FloatAttr(v)); }
  Value add(Value x, Value y) { return AddOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return SubOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return MulOp::create(b, loc, x, y); }
  Value sum(Value x) { return SumOp::create(b, loc, x); }
  Value mean(Value x) { return MeanOp::create(b, loc, x); }
  Value rsqrt(Value x) { return RsqrtOp::create(b, loc, x); }
};

/// Expands one composite op; returns the replacement value or null.
Value expand(Operation *op, OpBuilder &ob) {
  Builder b{ob, op->getLoc()};
  ob.setInsertionPoint(op);
  if (auto ln = dyn_cast<LayerNormOp>(op)) {
    Value x = ln.getInput();
    Value xc = b.sub(x, b.mean(x));
    Value var = b.mean(b.mul(xc, xc));
    Value n = b.mul(xc, b.rsqrt(b.add(var, b.c(ln.getEps().convertToDouble()))));
    return b.add(b.mul(n, ln.getScale()), ln.getShift());
  }
  if (auto rn = dyn_cast<RMSNormOp>(op)) {
    Value x = rn.getInput();
    Value ms = b.mean(b.mul(x, x));
    Value r = b.rsqrt(b.add(ms, b.c(rn.getEps().convertToDouble())));
    return b.mul(b.mul(x, r), rn.getScale());
  }
  if (auto l2 = dyn_cast<L2NormOp>(op)) {
    Value x = l2.getInput();
    Value s = b.sum(b.mul(x, x));
    return b.mul(x, b.rsqrt(b.add(s, b.c(l2.getEps().convertToDouble()))));
  }
  if (auto ss = dyn_cast<SumSqOp>(op)) {
    Value x = ss.getInput();
    Value s = b.sum(b.mul(x, x));
    double scale = ss.getScale().convertToDouble();
    return scale == 1.0 ? s : b.mul(b.c(scale), s);
  }
  if (auto d = dyn_cast<DotOp>(op))
    return b.sum(b.mul(d.getLhs(), d.getRhs()));
  if (auto g = dyn_cast<GeluOp>(op)) {
    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    Value x = g.getInput();
    Value x3 = b.mul(b.mul(x, x), x);
    Value inner = b.mul(b.c(0.7978845608028654), b.add(x, b.mul(b.c(0.044715), x3)));
    Value t = TanhOp::create(ob, b.loc, inner);
    return b.mul(b.mul(b.c(0.5), x), b.add(b.c(1.0), t));
  }
  if (auto s = dyn_cast<SiluOp>(op))
    return b.mul(s.getInput(), SigmoidOp::create(ob, b.loc, s.getInput()));
  return {};
}

struct TTTDecomposePass : ttt::impl::TTTDecomposeBase<TTTDecomposePass> {
  void runOnOperation() override {
    WalkResult wr = getOperation().walk([&](LayerOp layer) -> WalkResult {
      // 1. Inline every model call.
      ModelOp model;
      for (Operation &op : layer.getBodyBlock())
        if (auto m = dyn_cast<ModelOp>(op))
          model = m;
      SmallVector<CallModelOp> calls;
      layer.walk([&](CallModelOp c) { calls.push_back(c); });
      if (!calls.empty() && !model) {
        calls.front().emitOpError("needs a ttt.model in the layer");
        return WalkResult::interrupt();
      }
      for (CallModelOp call : calls) {
        OpBuilder b(call);
        IRMapping map;
        Block &mb = model.getBody().front();
        map.map(mb.getArgument(0), call.getInput());
        for (Operation &op : mb.without_terminator())
          b.clone(op, map);
        Value out = map.lookup(cast<YieldOp>(mb.getTerminator()).getValues()[0]);
        call.replaceAllUsesWith(out);
        call.erase();
      }
      if (model)
        model.erase();

      // 2. Expand composites (post-order: nested composites are fine since
      // expansions only produce core ops).
      SmallVector<Operation *> composites;
      layer.walk([&](Operation *op) {
        if (isa<LayerNormOp, RMSNormOp, L2NormOp, SumSqOp, DotOp, GeluOp, SiluOp>(op))
          composites.push_back(op);
      });
      OpBuilder b(&getContext());
      for (Operation *op : composites) {
        Value v = expand(op, b);
        op->getResult(0).replaceAllUsesWith(v);
        op->erase();
      }
      return WalkResult::advance();
    });
    if (wr.wasInterrupted())
      signalPassFailure();
  }
};
} // namespace
