//===- MatmulLoopOrder.cpp - (i, k, j) loop order for CPU matmuls ---------===//

#include "dialect/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::ttt {
#define GEN_PASS_DEF_TTTMATMULLOOPORDER
#include "dialect/TTTPasses.h.inc"
} // namespace mlir::ttt

using namespace mlir;

namespace {
struct TTTMatmulLoopOrderPass
    : ttt::impl::TTTMatmulLoopOrderBase<TTTMatmulLoopOrderPass> {
  void runOnOperation() override {
    SmallVector<linalg::MatmulOp> matmuls;
    getOperation().walk([&](linalg::MatmulOp m) { matmuls.push_back(m); });
    IRRewriter rw(&getContext());
    for (linalg::MatmulOp m : matmuls) {
      rw.setInsertionPoint(m);
      FailureOr<linalg::GenericOp> g = linalg::generalizeNamedOp(rw, m);
      if (failed(g)) {
        m.emitError("could not generalize matmul");
        return signalPassFailure();
      }
      // Loops (i, j, k) -> (i, k, j).
      if (failed(linalg::interchangeGenericOp(rw, *g, {0, 2, 1}))) {
        g->emitError("could not interchange matmul loops");
        return signalPassFailure();
      }
    }
  }
};
} // namespace
