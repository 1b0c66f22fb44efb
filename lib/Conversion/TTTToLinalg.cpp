//===- TTTToLinalg.cpp - chunk-level ttt ops -> linalg/tensor/arith/math --===//
//
// Matmuls stay named `linalg.matmul`s (with explicit `linalg.transpose`s)
// so that tiling, vectorisation and the GPU mapping can recognise them;
// elementwise ops with broadcasting and row reductions become
// `linalg.generic`s over static [rows, cols] shapes.
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
#include "mlir/Transforms/DialectConversion.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <limits>

namespace mlir::ttt {
#define GEN_PASS_DEF_CONVERTTTTTOLINALG
#include "dialect/TTTPasses.h.inc"
} // namespace mlir::ttt

using namespace mlir;
using namespace mlir::ttt;

namespace {
Value fconst(OpBuilder &b, Location loc, double v) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
}

/// The scalar computation of an elementwise ttt op on f32 operands.
Value emitScalar(OpBuilder &b, Location loc, Operation *op, ValueRange a) {
  auto one = [&] { return fconst(b, loc, 1.0); };
  auto zero = [&] { return fconst(b, loc, 0.0); };
  return llvm::TypeSwitch<Operation *, Value>(op)
      .Case<AddOp>([&](auto) { return arith::AddFOp::create(b, loc, a[0], a[1]); })
      .Case<SubOp>([&](auto) { return arith::SubFOp::create(b, loc, a[0], a[1]); })
      .Case<MulOp>([&](auto) { return arith::MulFOp::create(b, loc, a[0], a[1]); })
      .Case<DivOp>([&](auto) { return arith::DivFOp::create(b, loc, a[0], a[1]); })
      .Case<MaxOp>([&](auto) { return arith::MaximumFOp::create(b, loc, a[0], a[1]); })
      .Case<MinOp>([&](auto) { return arith::MinimumFOp::create(b, loc, a[0], a[1]); })
      .Case<DivOrZeroOp>([&](auto) -> Value {
        Value isZero = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, a[1], zero());
        Value safe = arith::SelectOp::create(b, loc, isZero, one(), a[1]);
        Value q = arith::DivFOp::create(b, loc, a[0], safe);
        return arith::SelectOp::create(b, loc, isZero, zero(), q);
      })
      .Case<NegOp>([&](auto) { return arith::NegFOp::create(b, loc, a[0]); })
      .Case<ExpOp>([&](auto) { return math::ExpOp::create(b, loc, a[0]); })
      .Case<LogOp>([&](auto) { return math::LogOp::create(b, loc, a[0]); })
      .Case<TanhOp>([&](auto) { return math::TanhOp::create(b, loc, a[0]); })
      .Case<SqrtOp>([&](auto) { return math::SqrtOp::create(b, loc, a[0]); })
      .Case<RsqrtOp>([&](auto) { return math::RsqrtOp::create(b, loc, a[0]); })
      .Case<SigmoidOp>([&](auto) -> Value {
        Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, a[0]));
        return arith::DivFOp::create(b, loc, one(), arith::AddFOp::create(b, loc, one(), e));
      })
      .Case<ReluOp>([&](auto) { return arith::MaximumFOp::create(b, loc, a[0], zero()); })
      .Case<StepOp>([&](auto) -> Value {
        Value pos = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, a[0], zero());
        return arith::SelectOp::create(b, loc, pos, one(), zero());
      })
      .Case<Elu1Op>([&](auto) -> Value {
        Value pos = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, a[0], zero());
        Value p = arith::AddFOp::create(b, loc, a[0], one());
        Value n = math::ExpOp::create(b, loc, a[0]);
        return arith::SelectOp::create(b, loc, pos, p, n);
      })
      .Case<GeluOp>([&](auto) -> Value {
        Value x = a[0];
        Value x3 = arith::MulFOp::create(b, loc, arith::MulFOp::create(b, loc, x, x), x);
        Value in = arith::AddFOp::create(
            b, loc, x, arith::MulFOp::create(b, loc, fconst(b, loc, 0.044715), x3));
        Value t = math::TanhOp::create(
            b, loc, arith::MulFOp::create(b, loc, fconst(b, loc, 0.7978845608028654), in));
        Value h = arith::MulFOp::create(b, loc, fconst(b, loc, 0.5), x);
        return arith::MulFOp::create(b, loc, h, arith::AddFOp::create(b, loc, one(), t));
      })
      .Case<SiluOp>([&](auto) -> Value {
        Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, a[0]));
        return arith::DivFOp::create(b, loc, a[0], arith::AddFOp::create(b, loc, one(), e));
      })
      .Case<StopGradientOp, BroadcastOp>([&](auto) { return a[0]; })
      .Default([](Operation *) { return Value(); });
}

Value emptyLike(OpBuilder &b, Location loc, RankedTensorType t) {
  return tensor::EmptyOp::create(b, loc, t.getShape(), t.getElementType());
}

Value zerosLike(OpBuilder &b, Location loc, RankedTensorType t) {
  return linalg::FillOp::create(b, loc, fconst(b, loc, 0.0), emptyLike(b, loc, t))
      .getResult(0);
}

/// Elementwise ops (and broadcast) with numpy broadcasting: one
/// linalg.generic; an all-scalar op becomes plain arith/math.
struct ElementwiseLowering : public ConversionPattern {
  ElementwiseLowering(MLIRContext *ctx)
      : ConversionPattern(MatchAnyOpTypeTag(), /*benefit=*/1, ctx) {}

  LogicalResult matchAndRewrite(Operation *op, ArrayRef<Value> operands,
                                ConversionPatternRewriter &rw) const override {
    if (!isa<AddOp, SubOp, MulOp, DivOp, MaxOp, MinOp, DivOrZeroOp, NegOp, ExpOp,
             LogOp, TanhOp, SqrtOp, RsqrtOp, SigmoidOp, ReluOp, StepOp, Elu1Op,
             GeluOp, SiluOp, StopGradientOp, BroadcastOp>(op))
      return failure();
    Location loc = op->getLoc();
    auto rt = dyn_cast<RankedTensorType>(op->getResult(0).getType());
    if (!rt) {
      rw.replaceOp(op, emitScalar(rw, loc, op, operands));
      return success();
    }
    unsigned rank = rt.getRank();
    SmallVector<AffineMap> maps;
    for (Value v : operands) {
      auto t = dyn_cast<RankedTensorType>(v.getType());
      if (!t) {
        maps.push_back(AffineMap::get(rank, 0, {}, rw.getContext()));
        continue;
      }
      SmallVector<AffineExpr> exprs;
      for (unsigned i = 0; i < rank; ++i)
        exprs.push_back(t.getDimSize(i) == 1 && rt.getDimSize(i) != 1
                            ? rw.getAffineConstantExpr(0)
                            : rw.getAffineDimExpr(i));
      maps.push_back(AffineMap::get(rank, 0, exprs, rw.getContext()));
    }
    maps.push_back(rw.getMultiDimIdentityMap(rank));
    SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
    auto g = linalg::GenericOp::create(
        rw, loc, TypeRange{rt}, operands, ValueRange{emptyLike(rw, loc, rt)}, maps, iters,
        [&](OpBuilder &b, Location l, ValueRange args) {
          linalg::YieldOp::create(b, l, emitScalar(b, l, op, args.drop_back()));
        });
    rw.replaceOp(op, g.getResults());
    return success();
  }
};

/// Row sums and means: [R, N] -> [R, 1].
template <typename OpTy>
struct ReduceLowering : public OpConversionPattern<OpTy> {
  using OpConversionPattern<OpTy>::OpConversionPattern;
  LogicalResult matchAndRewrite(OpTy op, typename OpTy::Adaptor adaptor,
                                ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    auto rt = cast<RankedTensorType>(op.getResult().getType());
    auto it = cast<RankedTensorType>(adaptor.getInput().getType());
    double scale = std::is_same<OpTy, MeanOp>::value ? 1.0 / double(it.getDimSize(1)) : 1.0;
    MLIRContext *ctx = rw.getContext();
    AffineExpr d0 = rw.getAffineDimExpr(0), d1 = rw.getAffineDimExpr(1);
    SmallVector<AffineMap> maps{AffineMap::get(2, 0, {d0, d1}, ctx),
                                AffineMap::get(2, 0, {d0, rw.getAffineConstantExpr(0)}, ctx)};
    auto g = linalg::GenericOp::create(
        rw, loc, TypeRange{rt}, ValueRange{adaptor.getInput()},
        ValueRange{zerosLike(rw, loc, rt)}, maps,
        {utils::IteratorType::parallel, utils::IteratorType::reduction},
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value x = args[0];
          if (scale != 1.0)
            x = arith::MulFOp::create(b, l, x, fconst(b, l, scale));
          linalg::YieldOp::create(b, l, Value(arith::AddFOp::create(b, l, args[1], x)));
        });
    rw.replaceOp(op, g.getResults());
    return success();
  }
};

Value transposed(OpBuilder &b, Location loc, Value v) {
  auto t = cast<RankedTensorType>(v.getType());
  auto tt = RankedTensorType::get({t.getDimSize(1), t.getDimSize(0)}, t.getElementType());
  return linalg::TransposeOp::create(b, loc, v, emptyLike(b, loc, tt),
                                     ArrayRef<int64_t>{1, 0})
      .getResult()[0];
}

Value matmul(OpBuilder &b, Location loc, Value lhs, Value rhs, RankedTensorType rt) {
  return linalg::MatmulOp::create(b, loc, TypeRange{rt}, ValueRange{lhs, rhs},
                                  ValueRange{zerosLike(b, loc, rt)})
      .getResult(0);
}

struct LinearLowering : public OpConversionPattern<LinearOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(LinearOp op, OpAdaptor a,
                                ConversionPatternRewriter &rw) const override {
    auto rt = dyn_cast<RankedTensorType>(op.getResult().getType());
    if (!rt)
      return rw.notifyMatchFailure(op, "spec-level linear");
    Value w = op.getTranspose() ? transposed(rw, op.getLoc(), a.getWeight()) : a.getWeight();
    rw.replaceOp(op, matmul(rw, op.getLoc(), a.getInput(), w, rt));
    return success();
  }
};

struct MatmulLowering : public OpConversionPattern<MatmulOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(MatmulOp op, OpAdaptor a,
                                ConversionPatternRewriter &rw) const override {
    Value l = op.getTransposeLhs() ? transposed(rw, op.getLoc(), a.getLhs()) : a.getLhs();
    Value r = op.getTransposeRhs() ? transposed(rw, op.getLoc(), a.getRhs()) : a.getRhs();
    rw.replaceOp(op, matmul(rw, op.getLoc(), l, r,
                            cast<RankedTensorType>(op.getResult().getType())));
    return success();
  }
};

struct TransposeLowering : public OpConversionPattern<TransposeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(TransposeOp op, OpAdaptor a,
                                ConversionPatternRewriter &rw) const override {
    rw.replaceOp(op, transposed(rw, op.getLoc(), a.getInput()));
    return success();
  }
};

/// Generic over the result's index space with a body computed from the
/// (row, col) indices and the input elements.
template <typename OpTy>
struct IndexedLowering : public OpConversionPattern<OpTy> {
  using OpConversionPattern<OpTy>::OpConversionPattern;
  LogicalResult matchAndRewrite(OpTy op, typename OpTy::Adaptor a,
                                ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    auto rt = cast<RankedTensorType>(op.getResult().getType());
    SmallVector<Value> ins;
    SmallVector<AffineMap> maps;
    if constexpr (std::is_same<OpTy, CausalMaskOp>::value) {
      ins.push_back(a.getInput());
      maps.push_back(rw.getMultiDimIdentityMap(2));
    }
    maps.push_back(rw.getMultiDimIdentityMap(2));
    Value valid;
    if constexpr (std::is_same<OpTy, ValidMaskOp>::value)
      valid = a.getValid();
    auto g = linalg::GenericOp::create(
        rw, loc, TypeRange{rt}, ins, ValueRange{emptyLike(rw, loc, rt)}, maps,
        {utils::IteratorType::parallel, utils::IteratorType::parallel},
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value i = linalg::IndexOp::create(b, l, 0);
          Value r;
          if constexpr (std::is_same<OpTy, CausalMaskOp>::value) {
            Value j = linalg::IndexOp::create(b, l, 1);
            Value keep = arith::CmpIOp::create(
                b, l, op.getStrict() ? arith::CmpIPredicate::ult : arith::CmpIPredicate::ule, j, i);
            r = arith::SelectOp::create(b, l, keep, args[0], fconst(b, l, 0.0));
          } else if constexpr (std::is_same<OpTy, ValidMaskOp>::value) {
            Value in = arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, i, valid);
            r = arith::SelectOp::create(b, l, in, fconst(b, l, 1.0), fconst(b, l, 0.0));
          } else {
            Value i64 = arith::IndexCastOp::create(b, l, b.getI64Type(), i);
            r = arith::SIToFPOp::create(b, l, b.getF32Type(), i64);
          }
          linalg::YieldOp::create(b, l, r);
        });
    rw.replaceOp(op, g.getResults());
    return success();
  }
};

struct RowLowering : public OpConversionPattern<RowOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(RowOp op, OpAdaptor a,
                                ConversionPatternRewriter &rw) const override {
    auto rt = cast<RankedTensorType>(op.getResult().getType());
    SmallVector<OpFoldResult> off{a.getIndex(), rw.getIndexAttr(0)};
    SmallVector<OpFoldResult> sizes{rw.getIndexAttr(1), rw.getIndexAttr(rt.getDimSize(1))};
    SmallVector<OpFoldResult> strides{rw.getIndexAttr(1), rw.getIndexAttr(1)};
    rw.replaceOpWithNewOp<tensor::ExtractSliceOp>(op, rt, a.getInput(), off, sizes, strides);
    return success();
  }
};

/// The causal softmax weights softmax_j<=i(Q K^T * scale) of a chunk, with
/// the row maximum subtracted (zero above the diagonal).
Value segmentProbs(ConversionPatternRewriter &rw, Location loc, Value q, Value k,
                   std::optional<llvm::APFloat> scaleAttr) {
    auto qt = cast<RankedTensorType>(q.getType());
    int64_t C = qt.getDimSize(0), N = qt.getDimSize(1);
    double scale = scaleAttr ? scaleAttr->convertToDouble() : 1.0 / std::sqrt(double(N));
    Type f32 = rw.getF32Type();
    auto sq = RankedTensorType::get({C, C}, f32);
    auto col = RankedTensorType::get({C, 1}, f32);
    Value s = matmul(rw, loc, q, transposed(rw, loc, k), sq);
    MLIRContext *ctx = rw.getContext();
    AffineExpr d0 = rw.getAffineDimExpr(0);
    AffineMap id = rw.getMultiDimIdentityMap(2);
    AffineMap rowMap = AffineMap::get(2, 0, {d0, rw.getAffineConstantExpr(0)}, ctx);
    auto par = utils::IteratorType::parallel, red = utils::IteratorType::reduction;
    // Scaled and causally masked scores (-inf above the diagonal).
    Value masked = linalg::GenericOp::create(
        rw, loc, TypeRange{sq}, ValueRange{s}, ValueRange{emptyLike(rw, loc, sq)},
        SmallVector<AffineMap>{id, id}, {par, par},
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value i = linalg::IndexOp::create(b, l, 0), j = linalg::IndexOp::create(b, l, 1);
          Value keep = arith::CmpIOp::create(b, l, arith::CmpIPredicate::ule, j, i);
          Value x = arith::MulFOp::create(b, l, args[0], fconst(b, l, scale));
          Value r = arith::SelectOp::create(
              b, l, keep, x, fconst(b, l, -std::numeric_limits<double>::infinity()));
          linalg::YieldOp::create(b, l, r);
        }).getResult(0);
    Value negInf = fconst(rw, loc, -std::numeric_limits<double>::infinity());
    Value maxInit = linalg::FillOp::create(rw, loc, negInf, emptyLike(rw, loc, col)).getResult(0);
    Value rowMax = linalg::GenericOp::create(
        rw, loc, TypeRange{col}, ValueRange{masked}, ValueRange{maxInit},
        SmallVector<AffineMap>{id, rowMap}, {par, red},
        [&](OpBuilder &b, Location l, ValueRange args) {
          linalg::YieldOp::create(b, l, Value(arith::MaximumFOp::create(b, l, args[0], args[1])));
        }).getResult(0);
    Value p = linalg::GenericOp::create(
        rw, loc, TypeRange{sq}, ValueRange{masked, rowMax}, ValueRange{emptyLike(rw, loc, sq)},
        SmallVector<AffineMap>{id, rowMap, id}, {par, par},
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value d = arith::SubFOp::create(b, l, args[0], args[1]);
          linalg::YieldOp::create(b, l, Value(math::ExpOp::create(b, l, d)));
        }).getResult(0);
    Value rowSum = linalg::GenericOp::create(
        rw, loc, TypeRange{col}, ValueRange{p}, ValueRange{zerosLike(rw, loc, col)},
        SmallVector<AffineMap>{id, rowMap}, {par, red},
        [&](OpBuilder &b, Location l, ValueRange args) {
          linalg::YieldOp::create(b, l, Value(arith::AddFOp::create(b, l, args[0], args[1])));
        }).getResult(0);
    Value pn = linalg::GenericOp::create(
        rw, loc, TypeRange{sq}, ValueRange{p, rowSum}, ValueRange{emptyLike(rw, loc, sq)},
        SmallVector<AffineMap>{id, rowMap, id}, {par, par},
        [&](OpBuilder &b, Location l, ValueRange args) {
          linalg::YieldOp::create(b, l, Value(arith::DivFOp::create(b, l, args[0], args[1])));
        }).getResult(0);
    return pn;
}

/// Causal softmax attention inside the chunk: its weights times V.
struct SegmentAttentionLowering : public OpConversionPattern<SegmentAttentionOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(SegmentAttentionOp op, OpAdaptor a,
                                ConversionPatternRewriter &rw) const override {
    auto qt = dyn_cast<RankedTensorType>(a.getQuery().getType());
    if (!qt || qt.getRank() != 2)
      return rw.notifyMatchFailure(op, "spec-level segment attention");
    Value p = segmentProbs(rw, op.getLoc(), a.getQuery(), a.getKey(), op.getScale());
    rw.replaceOp(op, matmul(rw, op.getLoc(), p, a.getValue(), qt));
    return success();
  }
};

struct SegmentProbsLowering : public OpConversionPattern<SegmentProbsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(SegmentProbsOp op, OpAdaptor a,
                                ConversionPatternRewriter &rw) const override {
    rw.replaceOp(op, segmentProbs(rw, op.getLoc(), a.getQuery(), a.getKey(), op.getScale()));
    return success();
  }
};

/// Forward substitution: X = 0; for i: X[i] = R[i] - A[i, :] X (rows j >= i
/// of X are still zero, and A is strictly lower triangular). Transposed
/// ((I + A)^T X = R): backward substitution, for i from C-1 down:
/// X[i] = R[i] - A[:, i]^T X (rows j <= i of X still zero).
struct TriSolveLowering : public OpConversionPattern<TriSolveOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(TriSolveOp op, OpAdaptor a,
                                ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    auto rt = cast<RankedTensorType>(op.getResult().getType());
    int64_t C = rt.getDimSize(0), M = rt.getDimSize(1);
    Type f32 = rw.getF32Type();
    Value c0 = arith::ConstantIndexOp::create(rw, loc, 0);
    Value c1 = arith::ConstantIndexOp::create(rw, loc, 1);
    Value cC = arith::ConstantIndexOp::create(rw, loc, C);
    auto one = [&](int64_t v) -> OpFoldResult { return rw.getIndexAttr(v); };
    auto loop = scf::ForOp::create(
        rw, loc, c0, cC, c1, ValueRange{zerosLike(rw, loc, rt)},
        [&](OpBuilder &b, Location l, Value k, ValueRange args) {
          auto rowT = RankedTensorType::get({1, M}, f32);
          Value i = op.getTranspose()
                        ? arith::SubIOp::create(b, l, arith::ConstantIndexOp::create(b, l, C - 1), k)
                              .getResult()
                        : k;
          Value r = tensor::ExtractSliceOp::create(b, l, rowT, a.getRhs(),
                                                   {OpFoldResult(i), one(0)}, {one(1), one(M)},
                                                   {one(1), one(1)});
          Value ai =
              op.getTranspose()
                  ? transposed(b, l,
                               tensor::ExtractSliceOp::create(
                                   b, l, RankedTensorType::get({C, 1}, f32), a.getLower(),
                                   {one(0), OpFoldResult(i)}, {one(C), one(1)}, {one(1), one(1)}))
                  : tensor::ExtractSliceOp::create(
                        b, l, RankedTensorType::get({1, C}, f32), a.getLower(),
                        {OpFoldResult(i), one(0)}, {one(1), one(C)}, {one(1), one(1)})
                        .getResult();
          Value t = matmul(b, l, ai, args[0], rowT);
          Value x = linalg::GenericOp::create(
                        b, l, TypeRange{rowT}, ValueRange{r, t},
                        ValueRange{emptyLike(b, l, rowT)},
                        SmallVector<AffineMap>(3, b.getMultiDimIdentityMap(2)),
                        {utils::IteratorType::parallel, utils::IteratorType::parallel},
                        [&](OpBuilder &bb, Location ll, ValueRange v) {
                          linalg::YieldOp::create(
                              bb, ll, Value(arith::SubFOp::create(bb, ll, v[0], v[1])));
                        })
                        .getResult(0);
          Value next = tensor::InsertSliceOp::create(b, l, x, args[0],
                                                     {OpFoldResult(i), one(0)},
                                                     {one(1), one(M)}, {one(1), one(1)});
          scf::YieldOp::create(b, l, next);
        });
    rw.replaceOp(op, loop.getResults());
    return success();
  }
};

struct ConstantLowering : public OpConversionPattern<ConstantOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(ConstantOp op, OpAdaptor,
                                ConversionPatternRewriter &rw) const override {
    rw.replaceOpWithNewOp<arith::ConstantOp>(op, op.getValueAttr());
    return success();
  }
};

struct ConvertTTTToLinalgPass
    : ttt::impl::ConvertTTTToLinalgBase<ConvertTTTToLinalgPass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    ConversionTarget target(*ctx);
    target.addLegalDialect<linalg::LinalgDialect, tensor::TensorDialect,
                           arith::ArithDialect, math::MathDialect, scf::SCFDialect,
                           func::FuncDialect>();
    target.addIllegalDialect<TTTDialect>();
    RewritePatternSet patterns(ctx);
    populateTTTToLinalgPatterns(patterns);
    if (failed(applyPartialConversion(getOperation(), target, std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace

void mlir::ttt::populateTTTToLinalgPatterns(RewritePatternSet &patterns) {
  MLIRContext *ctx = patterns.getContext();
  patterns.add<ElementwiseLowering>(ctx);
  patterns.add<ReduceLowering<SumOp>, ReduceLowering<MeanOp>, LinearLowering,
               MatmulLowering, TransposeLowering, IndexedLowering<CausalMaskOp>,
               IndexedLowering<ValidMaskOp>, IndexedLowering<PositionOp>, RowLowering,
               SegmentAttentionLowering, SegmentProbsLowering, TriSolveLowering,
               ConstantLowering>(ctx);
}
