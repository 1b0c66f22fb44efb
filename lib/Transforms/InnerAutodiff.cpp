//===- InnerAutodiff.cpp - reverse-mode gradients of the inner loss -------===//
//
// Turns `ttt.loss` into `ttt.gradient`: the loss's forward ops (evaluated at
// the anchor state), then the reverse pass built from one derivative rule per
// core primitive, then the factored per-token gradient terms:
//   ttt.outer_grad %W, %x, %g   for each `ttt.linear %x, %W` (dW = x^T g),
//   ttt.vec_grad %b, %g         for each vector state (db = g).
// No per-token matrix gradient is formed; the dual-form pass consumes the
// factors as chunk matrices X and G.
//
//===----------------------------------------------------------------------===//

#include "dialect/Passes.h"
#include "dialect/TTTOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mlir::ttt {
#define GEN_PASS_DEF_TTTINNERAUTODIFF
#include "dialect/TTTPasses.h.inc"
} // namespace mlir::ttt

using namespace mlir;
using namespace mlir::ttt;

namespace {
class Differentiator {
public:
  Differentiator(OpBuilder &b) : b(b) {}

  /// Differentiates the ops of `block` (forward order) w.r.t. the states.
  LogicalResult run(Block &block, Value loss) {
    // Activity: values that depend on a state.
    for (Operation &op : block.without_terminator()) {
      if (isa<StopGradientOp>(op))
        continue;
      for (Value v : op.getOperands())
        if (isActive(v)) {
          for (Value r : op.getResults())
            active.insert(r);
          break;
        }
    }
    if (!isActive(loss))
      return emitError(loss.getLoc()) << "the loss does not depend on any state";
    b.setInsertionPoint(block.getTerminator());
    loc = loss.getLoc();
    grads[loss] = cst(1.0);
    SmallVector<Operation *> ops;
    for (Operation &op : block.without_terminator())
      ops.push_back(&op);
    for (Operation *op : llvm::reverse(ops)) {
      if (op->getNumResults() != 1)
        continue;
      auto it = grads.find(op->getResult(0));
      if (it == grads.end())
        continue;
      loc = op->getLoc();
      if (failed(backward(op, it->second)))
        return failure();
    }
    // Vector states: one term with the accumulated gradient.
    for (auto &[v, g] : grads)
      if (auto s = v.getDefiningOp<StateOp>())
        VecGradOp::create(b, s.getLoc(), v, g);
    return success();
  }

private:
  OpBuilder &b;
  Location loc = UnknownLoc::get(b.getContext());
  llvm::SmallPtrSet<Value, 32> active;
  llvm::MapVector<Value, Value> grads;

  bool isActive(Value v) {
    return v.getDefiningOp<StateOp>() || active.contains(v);
  }
  Value cst(double v) { return ConstantOp::create(b, loc, b.getF32FloatAttr(v)); }
  Value add(Value x, Value y) { return AddOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return MulOp::create(b, loc, x, y); }
  Value div(Value x, Value y) { return DivOp::create(b, loc, x, y); }
  Value neg(Value x) { return NegOp::create(b, loc, x); }

  /// Sums a gradient over the broadcast dimensions of `like`.
  Value unbroadcast(Value g, Value like) {
    if (g.getType() == like.getType())
      return g;
    return SumOp::create(b, loc, g);
  }
  void accumulate(Value x, Value g) {
    if (!isActive(x))
      return;
    g = unbroadcast(g, x);
    auto it = grads.find(x);
    if (it == grads.end())
      grads[x] = g;
    else
      it->second = add(it->second, g);
  }

  LogicalResult backward(Operation *op, Value g) {
    Value out = op->getResult(0);
    auto x = [&](unsigned i) { return op->getOperand(i); };
    return llvm::TypeSwitch<Operation *, LogicalResult>(op)
        .Case<AddOp>([&](auto) {
          accumulate(x(0), g);
          accumulate(x(1), g);
          return success();
        })
        .Case<SubOp>([&](auto) {
          accumulate(x(0), g);
          if (isActive(x(1)))
            accumulate(x(1), neg(g));
          return success();
        })
        .Case<MulOp>([&](auto) {
          if (isActive(x(0)))
            accumulate(x(0), mul(g, x(1)));
          if (isActive(x(1)))
            accumulate(x(1), mul(g, x(0)));
          return success();
        })
        .Case<DivOp>([&](auto) {
          if (isActive(x(0)))
            accumulate(x(0), div(g, x(1)));
          if (isActive(x(1)))
            accumulate(x(1), neg(div(mul(g, out), x(1))));
          return success();
        })
        .Case<DivOrZeroOp>([&](auto) {
          if (isActive(x(0)))
            accumulate(x(0), DivOrZeroOp::create(b, loc, g, x(1)));
          if (isActive(x(1)))
            accumulate(x(1), neg(DivOrZeroOp::create(b, loc, mul(g, out), x(1))));
          return success();
        })
        .Case<NegOp>([&](auto) { accumulate(x(0), neg(g)); return success(); })
        .Case<ExpOp>([&](auto) { accumulate(x(0), mul(g, out)); return success(); })
        .Case<LogOp>([&](auto) { accumulate(x(0), div(g, x(0))); return success(); })
        .Case<TanhOp>([&](auto) {
          accumulate(x(0), mul(g, SubOp::create(b, loc, cst(1.0), mul(out, out))));
          return success();
        })
        .Case<SigmoidOp>([&](auto) {
          accumulate(x(0), mul(g, mul(out, SubOp::create(b, loc, cst(1.0), out))));
          return success();
        })
        .Case<ReluOp>([&](auto) {
          accumulate(x(0), mul(g, StepOp::create(b, loc, x(0))));
          return success();
        })
        .Case<MaxOp, MinOp>([&](auto) {
          // The selected operand gets the cotangent; at a tie each gets
          // half (as torch.maximum / jnp.maximum do), so max(x, x) has
          // derivative 1. w = 1 where x0 is selected strictly, 0 where x1
          // is, 1/2 at a tie.
          Value d = isa<MaxOp>(op) ? SubOp::create(b, loc, x(0), x(1))
                                   : SubOp::create(b, loc, x(1), x(0));
          Value w = mul(cst(0.5), add(cst(1.0), SubOp::create(b, loc, StepOp::create(b, loc, d),
                                                              StepOp::create(b, loc, neg(d)))));
          if (isActive(x(0)))
            accumulate(x(0), mul(g, w));
          if (isActive(x(1)))
            accumulate(x(1), mul(g, SubOp::create(b, loc, cst(1.0), w)));
          return success();
        })
        .Case<StepOp, StopGradientOp>([&](auto) { return success(); })
        .Case<Elu1Op>([&](auto) {
          // d/dx: 1 for x > 0 (where out > 1), exp(x) = out otherwise.
          accumulate(x(0), mul(g, MinOp::create(b, loc, out, cst(1.0))));
          return success();
        })
        .Case<SqrtOp>([&](auto) {
          accumulate(x(0), div(mul(g, cst(0.5)), out));
          return success();
        })
        .Case<RsqrtOp>([&](auto) {
          // d/dx x^-1/2 = -1/2 x^-3/2 = -1/2 out^3
          accumulate(x(0), mul(g, mul(cst(-0.5), mul(out, mul(out, out)))));
          return success();
        })
        .Case<SumOp>([&](auto) {
          accumulate(x(0), BroadcastOp::create(b, loc, x(0).getType(), g));
          return success();
        })
        .Case<MeanOp>([&](auto) {
          Value n = DimSizeOp::create(b, loc, x(0));
          accumulate(x(0), BroadcastOp::create(b, loc, x(0).getType(), div(g, n)));
          return success();
        })
        .Case<BroadcastOp>([&](auto) {
          accumulate(x(0), SumOp::create(b, loc, g));
          return success();
        })
        .Case<LinearOp>([&](LinearOp lin) -> LogicalResult {
          if (lin.getTranspose())
            return lin.emitOpError("a transposed use of a state in the loss is "
                                   "not differentiable by ttt-inner-autodiff");
          OuterGradOp::create(b, loc, lin.getWeight(), lin.getInput(), g);
          if (isActive(lin.getInput()))
            accumulate(lin.getInput(),
                       LinearOp::create(b, loc, g, lin.getWeight(), /*transpose=*/true));
          return success();
        })
        .Default([&](Operation *op) {
          return op->emitOpError("has no derivative rule in ttt-inner-autodiff "
                                 "(run ttt-decompose first, or wrap the value "
                                 "in ttt.stop_gradient)");
        });
  }
};

/// Removes pure ops whose results are unused (the loss value itself, and
/// forward values only the loss needed).
void eraseDeadOps(Block &block) {
  bool changed = true;
  while (changed) {
    changed = false;
    for (Operation &op : llvm::make_early_inc_range(llvm::reverse(block))) {
      if (op.hasTrait<OpTrait::IsTerminator>() || !op.use_empty() ||
          isa<OuterGradOp, VecGradOp>(op))
        continue;
      op.erase();
      changed = true;
    }
  }
}

struct TTTInnerAutodiffPass
    : ttt::impl::TTTInnerAutodiffBase<TTTInnerAutodiffPass> {
  void runOnOperation() override {
    SmallVector<LossOp> losses;
    getOperation().walk([&](LossOp l) { losses.push_back(l); });
    for (LossOp loss : losses) {
      if (!loss->getParentOfType<LayerOp>().walk([](CallModelOp) {
            return WalkResult::interrupt();
          }).wasInterrupted()) {
      } else {
        loss.emitOpError("run ttt-decompose before ttt-inner-autodiff "
                         "(model calls are still present)");
        return signalPassFailure();
      }
      OpBuilder b(loss);
      auto grad = GradientOp::create(b, loss.getLoc());
      Block *body = b.createBlock(&grad.getBody());
      b.setInsertionPointToStart(body);
      IRMapping map;
      Block &lb = loss.getBody().front();
      for (Operation &op : lb.without_terminator())
        b.clone(op, map);
      Value lossValue = map.lookup(cast<YieldOp>(lb.getTerminator()).getValues()[0]);
      auto yield = YieldOp::create(b, loss.getLoc());
      (void)yield;
      Differentiator d(b);
      if (failed(d.run(*body, lossValue)))
        return signalPassFailure();
      eraseDeadOps(*body);
      loss.erase();
    }
  }
};
} // namespace
