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

class DualFormBuilder {
public:
  DualFormBuilder(LayerOp layer, int64_t headDim, int64_t chunk)
      : layer(layer), D(headDim), C(chunk), b(layer.getContext()) {}

  LogicalResult run() {
    Block &body = layer.getBodyBlock();
    GradientOp grad;
    GDOp gd;
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
      } else if (auto g = dyn_cast<GDOp>(op)) {
        gd = g;
      } else if (auto r = dyn_cast<ReadoutOp>(op)) {
        readouts.push_back(r);
      } else if (isa<LossOp, ModelOp>(op)) {
        return op.emitOpError("run ttt-decompose and ttt-inner-autodiff before "
                              "ttt-dual-form");
      } else if (isa<DecayOp, MomentumOp>(op)) {
        return op.emitOpError("retention and momentum are not supported by "
                              "ttt-dual-form yet");
      } else if (isPrimitive(&op)) {
        pre.push_back(&op);
      } else {
        return op.emitOpError("unexpected in ttt-dual-form");
      }
    }
    if (!grad || !gd)
      return layer.emitOpError("needs a ttt.gradient and a ttt.gd for ttt-dual-form");

    // The chunk step and its block arguments, one per declaration.
    b.setInsertionPointToEnd(&body);
    Location loc = layer.getLoc();
    SmallVector<StringRef> names;
    for (ReadoutOp r : readouts)
      names.push_back(r.getName());
    auto step = ChunkStepOp::create(b, loc, b.getStrArrayAttr(names));
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

    // E = tril(scale_i * lr_j), padding columns zeroed.
    loc = gd.getLoc();
    Value mask = ValidMaskOp::create(b, loc, colType(), valid);
    Value lrCol = gd.getLr() ? MulOp::create(b, loc, map.lookup(gd.getLr()), mask)
                             : mask;
    Value lrRow = TransposeOp::create(b, loc, lrCol);
    Value scaleCol = gd.getScale()
                         ? map.lookup(gd.getScale())
                         : BroadcastOp::create(b, loc, colType(), cst(1.0)).getResult();
    Value eta = CausalMaskOp::create(b, loc, MulOp::create(b, loc, scaleCol, lrRow));

    // Readouts.
    SmallVector<Value> results;
    for (ReadoutOp r : readouts) {
      IRMapping rmap = map;
      bool before = r.getBeforeUpdate();
      // Vector states, per token.
      for (StateOp s : states) {
        if (!isa<VecType>(s.getType()) || before)
          continue;
        Value v = map.lookup(s.getResult());
        for (Factor &f : factors[s.getResult()])
          v = SubOp::create(b, loc, v, MatmulOp::create(b, loc, eta, f.g));
        rmap.map(s.getResult(), v);
      }
      for (Operation &op : r.getBody().front().without_terminator()) {
        auto lin = dyn_cast<LinearOp>(op);
        if (!lin || !lin.getWeight().getDefiningOp<StateOp>() || before) {
          if (!cloneChunk(&op, rmap))
            return failure();
          continue;
        }
        if (lin.getTranspose())
          return lin.emitOpError("a transposed readout of a state is not "
                                 "supported by ttt-dual-form");
        // A W_i = A W0 - sum_f (E o A X^T) G
        loc = lin.getLoc();
        Value a = rmap.lookup(lin.getInput());
        Value out = LinearOp::create(b, loc, a, rmap.lookup(lin.getWeight()));
        for (Factor &f : factors[lin.getWeight()]) {
          Value ax = MatmulOp::create(b, loc, a, f.x, false, true);
          Value m = MulOp::create(b, loc, eta, ax);
          out = SubOp::create(b, loc, out, MatmulOp::create(b, loc, m, f.g));
        }
        rmap.map(lin.getResult(), out);
      }
      results.push_back(rmap.lookup(
          cast<YieldOp>(r.getBody().front().getTerminator()).getValues()[0]));
    }

    // The states after the chunk's last real token.
    loc = gd.getLoc();
    Value last = arith::SubIOp::create(b, loc, valid,
                                       arith::ConstantIndexOp::create(b, loc, 1));
    Value eRow = RowOp::create(b, loc, eta, last);
    Value eCol = TransposeOp::create(b, loc, eRow);
    for (StateOp s : states) {
      Value v = map.lookup(s.getResult());
      for (Factor &f : factors[s.getResult()]) {
        Value d = f.x ? MatmulOp::create(b, loc, f.x, MulOp::create(b, loc, eCol, f.g),
                                         true, false)
                            .getResult()
                      : MatmulOp::create(b, loc, eRow, f.g).getResult();
        v = SubOp::create(b, loc, v, d);
      }
      results.push_back(v);
    }
    YieldOp::create(b, loc, results);

    // The per-token description is now folded into the chunk step.
    grad.erase();
    gd.erase();
    for (ReadoutOp r : readouts)
      r.erase();
    for (Operation *op : llvm::reverse(pre))
      if (op->use_empty())
        op->erase();
    layer.setHeadDim(D);
    layer.setMiniBatch(C);
    return success();
  }

private:
  LayerOp layer;
  int64_t D, C;
  OpBuilder b;
  IRMapping map;
  Value valid;

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
      if (failed(DualFormBuilder(l, headDim, c).run()))
        return signalPassFailure();
    }
  }
};
} // namespace
