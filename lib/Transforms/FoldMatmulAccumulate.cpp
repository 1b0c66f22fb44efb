//===- FoldMatmulAccumulate.cpp - c + a b as one accumulating matmul ------===//
//
// The dual form updates its states as C - A B or C + A B: a matmul into a
// zero-filled tensor, then an elementwise pass over the product. A matmul
// accumulates into its init anyway, so
//
//   C + matmul(A, B, zeros)  ->  matmul(A, B, C)
//   C - matmul(A, B, zeros)  ->  matmul(A, -B, C)  (or matmul(-A, B, C))
//
// (the negation, elementwise, fuses into the operand's producer), which drops
// the fill and the pass over the product, and with the state as the init
// the product accumulates straight into the state's buffer.
//
//===----------------------------------------------------------------------===//

#include "dialect/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::ttt {
#define GEN_PASS_DEF_TTTFOLDMATMULACCUMULATE
#include "dialect/TTTPasses.h.inc"
} // namespace mlir::ttt

using namespace mlir;

namespace {
/// Whether `v` is the result of a linalg.fill with a zero constant.
bool isZeroFill(Value v) {
  auto fill = v.getDefiningOp<linalg::FillOp>();
  return fill && matchPattern(fill.value(), m_AnyZeroFloat());
}

struct FoldMatmulAccumulate : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::GenericOp g, PatternRewriter &rw) const override {
    // An elementwise op of two same-shaped tensors, identity maps, whose
    // payload is one addf or subf of its two inputs.
    if (!g.hasPureTensorSemantics() || g.getNumDpsInputs() != 2 || g.getNumDpsInits() != 1 ||
        g.getNumParallelLoops() != g.getNumLoops() ||
        !llvm::all_of(g.getIndexingMapsArray(), [](AffineMap m) { return m.isIdentity(); }))
      return failure();
    Block &body = g.getRegion().front();
    if (body.getOperations().size() != 2)
      return failure();
    Operation *op = &body.front();
    auto yield = cast<linalg::YieldOp>(body.getTerminator());
    if (yield.getNumOperands() != 1 || yield.getOperand(0) != op->getResult(0) ||
        !isa<arith::AddFOp, arith::SubFOp>(op))
      return failure();
    auto argNo = [&](Value v) -> int {
      auto a = dyn_cast<BlockArgument>(v);
      return a && a.getOwner() == &body && a.getArgNumber() < 2 ? int(a.getArgNumber()) : -1;
    };
    int lhs = argNo(op->getOperand(0)), rhs = argNo(op->getOperand(1));
    if (lhs < 0 || rhs < 0 || lhs == rhs)
      return failure();
    bool sub = isa<arith::SubFOp>(op);
    // The product: the subtrahend of a subf, either operand of an addf.
    for (int prodSide : {rhs, lhs}) {
      if (sub && prodSide != rhs)
        break;
      Value prod = g.getDpsInputOperand(prodSide)->get();
      Value acc = g.getDpsInputOperand(1 - prodSide)->get();
      auto mm = prod.getDefiningOp<linalg::MatmulOp>();
      if (!mm || !mm->hasOneUse() || !mm.hasPureTensorSemantics() ||
          !isZeroFill(mm.getDpsInitOperand(0)->get()) || acc.getType() != prod.getType() ||
          g.getResult(0).getType() != acc.getType())
        continue;
      // The matmul must be a plain sum of products (no casts in its body).
      Value ops[2] = {mm.getDpsInputOperand(0)->get(), mm.getDpsInputOperand(1)->get()};
      auto t0 = cast<RankedTensorType>(ops[0].getType()),
           t1 = cast<RankedTensorType>(ops[1].getType());
      if (!isa<Float32Type>(t0.getElementType()) || t0.getElementType() != t1.getElementType())
        continue;
      Location loc = g.getLoc();
      // The operand to negate: one whose producer is an elementwise op used
      // only here (fusion then folds the negation into it), else the one
      // with fewer elements (static shapes), else B.
      int neg = 1;
      if (sub) {
        auto fusable = [&](Value v) {
          auto p = v.getDefiningOp<linalg::GenericOp>();
          return p && p->hasOneUse() && p.getNumParallelLoops() == p.getNumLoops();
        };
        if (fusable(ops[0]) != fusable(ops[1]))
          neg = fusable(ops[0]) ? 0 : 1;
        else if (t0.hasStaticShape() && t1.hasStaticShape() &&
                 t0.getNumElements() < t1.getNumElements())
          neg = 0;
        auto type = cast<RankedTensorType>(ops[neg].getType());
        SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(rw, loc, ops[neg]);
        Value init = tensor::EmptyOp::create(rw, loc, sizes, type.getElementType());
        AffineMap id = rw.getMultiDimIdentityMap(type.getRank());
        SmallVector<utils::IteratorType> par(type.getRank(), utils::IteratorType::parallel);
        ops[neg] = linalg::GenericOp::create(
                       rw, loc, type, ValueRange{ops[neg]}, ValueRange{init},
                       ArrayRef<AffineMap>{id, id}, par,
                       [](OpBuilder &nb, Location l, ValueRange args) {
                         Value n = arith::NegFOp::create(nb, l, args[0]);
                         linalg::YieldOp::create(nb, l, n);
                       })
                       .getResult(0);
      }
      // The same matmul (maps, attributes) with the accumulator as its init.
      Operation *folded = rw.clone(*mm);
      folded->setOperand(0, ops[0]);
      folded->setOperand(1, ops[1]);
      folded->setOperand(2, acc);
      rw.replaceOp(g, folded->getResults());
      rw.eraseOp(mm);
      return success();
    }
    return failure();
  }
};

struct TTTFoldMatmulAccumulatePass
    : ttt::impl::TTTFoldMatmulAccumulateBase<TTTFoldMatmulAccumulatePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FoldMatmulAccumulate>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
