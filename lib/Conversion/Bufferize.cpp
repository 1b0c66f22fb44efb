//===- Bufferize.cpp - one-shot bufferization for compiled layers ---------===//

#include "dialect/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/Transforms/OneShotAnalysis.h"
#include "mlir/Dialect/Bufferization/Transforms/OneShotModuleBufferize.h"
#include "mlir/Dialect/Bufferization/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::ttt {
#define GEN_PASS_DEF_TTTBUFFERIZE
#include "dialect/TTTPasses.h.inc"
} // namespace mlir::ttt

using namespace mlir;

namespace {
/// Drops the results of a function that returns only its own arguments.
void dropArgumentResults(func::FuncOp f) {
  if (f.isExternal() || f.isPrivate()) // private: called, its results used
    return;
  SmallVector<func::ReturnOp> returns;
  f.walk([&](func::ReturnOp r) { returns.push_back(r); });
  for (func::ReturnOp r : returns)
    for (Value v : r.getOperands())
      if (!isa<BlockArgument>(v) || cast<BlockArgument>(v).getOwner() != &f.front())
        return;
  for (func::ReturnOp r : returns)
    r->setOperands({});
  f.setType(FunctionType::get(f.getContext(), f.getArgumentTypes(), {}));
}

struct TTTBufferizePass : ttt::impl::TTTBufferizeBase<TTTBufferizePass> {
  using Base::Base;
  void runOnOperation() override {
    bufferization::OneShotBufferizationOptions opts;
    opts.bufferizeFunctionBoundaries = true;
    opts.setFunctionBoundaryTypeConversion(
        bufferization::LayoutMapOption::IdentityLayoutMap);
    opts.allowReturnAllocsFromLoops = true;
    opts.memCpyFn = [](OpBuilder &b, Location loc, Value from, Value to) {
      linalg::CopyOp::create(b, loc, from, to);
      return success();
    };
    // A chunk loop's next states are copied over the carried ones (a copy
    // that bufferizes in place): the ops computing them write the carried
    // buffers instead of fresh ones (their tensor.empty inits replaced by
    // the copies' destinations, where the analysis finds that safe), so a
    // step neither copies its states nor holds a second buffer of each.
    IRRewriter rw(&getContext());
    if (statesInPlace && failed(bufferization::eliminateEmptyTensors(rw, getOperation())))
      return signalPassFailure();
    bufferization::BufferizationState state;
    if (failed(bufferization::runOneShotModuleBufferize(getOperation(), opts, state)))
      return signalPassFailure();

    RewritePatternSet patterns(&getContext());
    scf::ForOp::getCanonicalizationPatterns(patterns, &getContext());
    scf::IfOp::getCanonicalizationPatterns(patterns, &getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    getOperation().walk(dropArgumentResults);
  }
};
} // namespace
