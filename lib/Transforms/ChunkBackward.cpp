//===- ChunkBackward.cpp - reverse mode over one chunk of the dual form ---===//
//
// Adds to each chunked layer a `ttt.chunk_backward` beside its
// `ttt.chunk_step`: the chunk's forward recomputed from its inputs and
// starting states, then the reverse pass, one derivative rule per
// chunk-level primitive (elementwise ops with numpy broadcasting, row
// reductions, matmuls, masks, the triangular solve of the UT transform).
// Given a cotangent for every value the step yields (readouts, states at the
// chunk's end) it yields the cotangent of every declaration's chunk-level
// value (inputs, gates, position inputs, parameters, states at the chunk's
// start). The forward contains the inner gradient, so this differentiates
// the inner autodiff's output too: nothing here knows which parts of the
// step came from where. `ttt-lower-layer-to-func` reverses the chunk loop.
//
//===----------------------------------------------------------------------===//

#include "dialect/Passes.h"
#include "dialect/TTTOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

namespace mlir::ttt {
#define GEN_PASS_DEF_TTTCHUNKBACKWARD
#include "dialect/TTTPasses.h.inc"
} // namespace mlir::ttt

using namespace mlir;
using namespace mlir::ttt;

namespace {
class ChunkDifferentiator {
public:
  explicit ChunkDifferentiator(OpBuilder &b) : b(b) {}

  /// `body`: the recomputed forward ops, then (at the insertion point) the
  /// reverse pass. `seeds`: (value, cotangent) pairs; `wrt`: the values
  /// whose cotangents are returned (zeros where nothing flows).
  FailureOr<SmallVector<Value>> run(Block &body, ArrayRef<Value> inputs,
                                    ArrayRef<std::pair<Value, Value>> seeds,
                                    ArrayRef<Value> wrt) {
    for (Value v : inputs)
      if (isa<RankedTensorType>(v.getType()))
        active.insert(v);
    SmallVector<Operation *> ops;
    for (Operation &op : body) {
      if (op.hasTrait<OpTrait::IsTerminator>())
        continue;
      ops.push_back(&op);
      if (isa<ValidMaskOp, PositionOp, ConstantOp>(op))
        continue;
      if (llvm::any_of(op.getOperands(), [&](Value v) { return active.contains(v); }))
        for (Value r : op.getResults())
          if (isa<RankedTensorType>(r.getType()))
            active.insert(r);
    }
    for (auto [v, g] : seeds)
      accumulate(v, g);
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
    SmallVector<Value> result;
    for (Value v : wrt) {
      auto it = grads.find(v);
      result.push_back(it != grads.end() ? it->second
                                         : BroadcastOp::create(b, v.getLoc(), v.getType(), cst(0.0))
                                               .getResult());
    }
    return result;
  }

private:
  OpBuilder &b;
  Location loc = UnknownLoc::get(b.getContext());
  llvm::SmallPtrSet<Value, 32> active;
  llvm::MapVector<Value, Value> grads;

  Value cst(double v) { return ConstantOp::create(b, loc, b.getF32FloatAttr(v)); }
  Value add(Value x, Value y) { return AddOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return SubOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return MulOp::create(b, loc, x, y); }
  Value div(Value x, Value y) { return DivOp::create(b, loc, x, y); }
  Value neg(Value x) { return NegOp::create(b, loc, x); }
  Value transpose(Value x) { return TransposeOp::create(b, loc, x); }
  Value matmul(Value x, Value y, bool tx, bool ty) {
    return MatmulOp::create(b, loc, x, y, tx, ty);
  }

  /// Sums a cotangent over the dimensions `like` was broadcast along
  /// (columns: a row sum; rows: the same on the transpose).
  Value unbroadcast(Value g, Value like) {
    auto gt = cast<RankedTensorType>(g.getType());
    auto lt = cast<RankedTensorType>(like.getType());
    if (gt == lt)
      return g;
    if (lt.getDimSize(1) == 1 && gt.getDimSize(1) != 1)
      g = SumOp::create(b, loc, g);
    if (lt.getDimSize(0) == 1 && gt.getDimSize(0) != 1)
      g = transpose(SumOp::create(b, loc, transpose(g)));
    return g;
  }
  void accumulate(Value x, Value g) {
    if (!active.contains(x))
      return;
    g = unbroadcast(g, x);
    auto it = grads.find(x);
    if (it == grads.end())
      grads[x] = g;
    else
      it->second = add(it->second, g);
  }
  bool isActive(Value v) { return active.contains(v); }

  /// Weight of the first operand of max(x0, x1) (min: of the smaller): 1
  /// where it is selected strictly, 0 where the other is, 1/2 at a tie
  /// (as ttt-inner-autodiff and torch.maximum).
  Value selectWeight(Operation *op) {
    Value d = isa<MaxOp>(op) ? sub(op->getOperand(0), op->getOperand(1))
                             : sub(op->getOperand(1), op->getOperand(0));
    return mul(cst(0.5),
               add(cst(1.0), sub(StepOp::create(b, loc, d), StepOp::create(b, loc, neg(d)))));
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
        .Case<MaxOp, MinOp>([&](auto) {
          Value w = selectWeight(op);
          if (isActive(x(0)))
            accumulate(x(0), mul(g, w));
          if (isActive(x(1)))
            accumulate(x(1), mul(g, sub(cst(1.0), w)));
          return success();
        })
        .Case<NegOp>([&](auto) { accumulate(x(0), neg(g)); return success(); })
        .Case<ExpOp>([&](auto) { accumulate(x(0), mul(g, out)); return success(); })
        .Case<LogOp>([&](auto) { accumulate(x(0), div(g, x(0))); return success(); })
        .Case<TanhOp>([&](auto) {
          accumulate(x(0), mul(g, sub(cst(1.0), mul(out, out))));
          return success();
        })
        .Case<SigmoidOp>([&](auto) {
          accumulate(x(0), mul(g, mul(out, sub(cst(1.0), out))));
          return success();
        })
        .Case<ReluOp>([&](auto) {
          accumulate(x(0), mul(g, StepOp::create(b, loc, x(0))));
          return success();
        })
        .Case<StepOp>([&](auto) { return success(); })
        // An inner-loop constant (the inner gradient, already derived, did
        // not flow through it); the outer loop differentiates the forward as
        // it computes, where it is the identity.
        .Case<StopGradientOp>([&](auto) { accumulate(x(0), g); return success(); })
        .Case<Elu1Op>([&](auto) {
          accumulate(x(0), mul(g, MinOp::create(b, loc, out, cst(1.0))));
          return success();
        })
        .Case<SqrtOp>([&](auto) {
          accumulate(x(0), div(mul(g, cst(0.5)), out));
          return success();
        })
        .Case<RsqrtOp>([&](auto) {
          accumulate(x(0), mul(g, mul(cst(-0.5), mul(out, mul(out, out)))));
          return success();
        })
        .Case<SumOp>([&](auto) {
          accumulate(x(0), BroadcastOp::create(b, loc, x(0).getType(), g));
          return success();
        })
        .Case<MeanOp>([&](auto) {
          double n = double(cast<RankedTensorType>(x(0).getType()).getDimSize(1));
          accumulate(x(0), BroadcastOp::create(b, loc, x(0).getType(), mul(g, cst(1.0 / n))));
          return success();
        })
        .Case<BroadcastOp>([&](auto) {
          accumulate(x(0), g);
          return success();
        })
        .Case<LinearOp>([&](LinearOp lin) {
          matmulRule(lin.getInput(), lin.getWeight(), false, lin.getTranspose(), g);
          return success();
        })
        .Case<MatmulOp>([&](MatmulOp mm) {
          matmulRule(mm.getLhs(), mm.getRhs(), mm.getTransposeLhs(), mm.getTransposeRhs(), g);
          return success();
        })
        .Case<TransposeOp>([&](auto) { accumulate(x(0), transpose(g)); return success(); })
        .Case<CausalMaskOp>([&](CausalMaskOp m) {
          accumulate(x(0), CausalMaskOp::create(b, loc, g, m.getStrict()));
          return success();
        })
        .Case<RowOp>([&](RowOp r) {
          // d X = e_i g: the one-hot column of row i times the row cotangent.
          auto xt = cast<RankedTensorType>(r.getInput().getType());
          auto colT = RankedTensorType::get({xt.getDimSize(0), 1}, xt.getElementType());
          Value next = arith::AddIOp::create(b, loc, r.getIndex(),
                                             arith::ConstantIndexOp::create(b, loc, 1));
          Value oneHot = sub(ValidMaskOp::create(b, loc, colT, next),
                             ValidMaskOp::create(b, loc, colT, r.getIndex()));
          accumulate(r.getInput(), mul(oneHot, g));
          return success();
        })
        .Case<TriSolveOp>([&](TriSolveOp s) -> LogicalResult {
          if (s.getTranspose())
            return s.emitOpError("a transposed triangular solve has no derivative "
                                 "rule in ttt-chunk-backward");
          // X = (I + A)^-1 R: dR = (I + A)^-T g, dA = -dR X^T below the diagonal.
          Value dR = TriSolveOp::create(b, loc, s.getLower(), g, /*transpose=*/true);
          accumulate(s.getRhs(), dR);
          if (isActive(s.getLower()))
            accumulate(s.getLower(),
                       CausalMaskOp::create(b, loc, neg(matmul(dR, out, false, true)), true));
          return success();
        })
        .Case<SegmentAttentionOp>([&](SegmentAttentionOp a) {
          // O = P V, P = causal softmax(S), S = scale Q K^T:
          // dV = P^T g, dS = P o (g V^T - rowsum(P o g V^T)), dQ = scale dS K,
          // dK = scale dS^T Q.
          Value q = a.getQuery(), k = a.getKey(), v = a.getValue();
          int64_t n = cast<RankedTensorType>(q.getType()).getDimSize(1);
          double scale = a.getScale() ? a.getScale()->convertToDouble() : 1.0 / std::sqrt(double(n));
          int64_t C = cast<RankedTensorType>(q.getType()).getDimSize(0);
          Value p = SegmentProbsOp::create(b, loc, RankedTensorType::get({C, C}, b.getF32Type()), q,
                                           k, a.getScaleAttr());
          if (isActive(v))
            accumulate(v, matmul(p, g, true, false));
          if (isActive(q) || isActive(k)) {
            Value dp = matmul(g, v, false, true);
            Value ds = mul(p, sub(dp, SumOp::create(b, loc, mul(p, dp))));
            if (isActive(q))
              accumulate(q, mul(cst(scale), matmul(ds, k, false, false)));
            if (isActive(k))
              accumulate(k, mul(cst(scale), matmul(ds, q, true, false)));
          }
          return success();
        })
        .Default([&](Operation *op) {
          return op->emitOpError("has no derivative rule in ttt-chunk-backward "
                                 "(the layer's outer-loop backward cannot be derived)");
        });
  }

  /// Y = op(A) op(B): dop(A) = g op(B)^T, dop(B) = op(A)^T g.
  void matmulRule(Value A, Value B, bool tA, bool tB, Value g) {
    if (isActive(A))
      accumulate(A, tA ? matmul(B, g, tB, true) : matmul(g, B, false, !tB));
    if (isActive(B))
      accumulate(B, tB ? matmul(g, A, true, tA) : matmul(A, g, !tA, false));
  }
};

/// Erases the recomputed forward values the reverse pass does not need.
void eraseDeadOps(Block &block) {
  for (Operation &op : llvm::make_early_inc_range(llvm::reverse(block)))
    if (!op.hasTrait<OpTrait::IsTerminator>() && op.use_empty() && isPure(&op))
      op.erase();
}

LogicalResult addBackward(ChunkStepOp step) {
  OpBuilder b(step->getContext());
  b.setInsertionPointAfter(step);
  Location loc = step.getLoc();
  auto bwd = ChunkBackwardOp::create(b, loc);
  Block &sb = step.getBody().front();
  auto yield = cast<YieldOp>(sb.getTerminator());
  SmallVector<Type> argTypes(sb.getArgumentTypes());
  SmallVector<Location> argLocs(sb.getNumArguments(), loc);
  for (Value v : yield.getValues()) {
    argTypes.push_back(v.getType());
    argLocs.push_back(v.getLoc());
  }
  Block *body = b.createBlock(&bwd.getBody(), {}, argTypes, argLocs);
  IRMapping map;
  for (unsigned i = 0; i < sb.getNumArguments(); ++i)
    map.map(sb.getArgument(i), body->getArgument(i));
  for (Operation &op : sb.without_terminator())
    b.clone(op, map);
  auto term = YieldOp::create(b, loc, ValueRange{});
  b.setInsertionPoint(term);

  // The declarations' values (every block argument but `valid`).
  SmallVector<Value> decls;
  for (unsigned i = 0; i + 1 < sb.getNumArguments(); ++i)
    decls.push_back(body->getArgument(i));
  SmallVector<std::pair<Value, Value>> seeds;
  for (auto [i, v] : llvm::enumerate(yield.getValues()))
    seeds.push_back({map.lookupOrDefault(v), body->getArgument(sb.getNumArguments() + i)});
  ChunkDifferentiator d(b);
  FailureOr<SmallVector<Value>> cot = d.run(*body, decls, seeds, decls);
  if (failed(cot))
    return failure();
  term->setOperands(*cot);
  eraseDeadOps(*body);
  return success();
}

struct TTTChunkBackwardPass : ttt::impl::TTTChunkBackwardBase<TTTChunkBackwardPass> {
  void runOnOperation() override {
    SmallVector<ChunkStepOp> steps;
    getOperation().walk([&](ChunkStepOp s) { steps.push_back(s); });
    if (steps.empty()) {
      getOperation().emitError("ttt-chunk-backward: no ttt.chunk_step (run ttt-dual-form first)");
      return signalPassFailure();
    }
    for (ChunkStepOp s : steps) {
      bool done = false;
      for (Operation &op : s->getBlock()->getOperations())
        done |= isa<ChunkBackwardOp>(op);
      if (!done && failed(addBackward(s)))
        return signalPassFailure();
    }
  }
};
} // namespace
