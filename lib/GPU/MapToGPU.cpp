//===- MapToGPU.cpp - (batch, head) loops -> gpu.launch -------------------===//

#include "dialect/LayerLoops.h"
#include "dialect/GPU/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::ttt {
#define GEN_PASS_DEF_TTTMAPTOGPU
#include "dialect/GPU/Passes.h.inc"
} // namespace mlir::ttt

using namespace mlir;

namespace {
using ttt::onlyLoop;

struct TTTMapToGPUPass : ttt::impl::TTTMapToGPUBase<TTTMapToGPUPass> {
  using Base::Base;
  void runOnOperation() override {
    if (!fault.empty() && fault != "short-grid") {
      getOperation().emitError("ttt-map-to-gpu: unknown fault '") << fault << "'";
      return signalPassFailure();
    }
    bool shortGrid = fault == "short-grid";
    WalkResult r = getOperation().walk([&](func::FuncOp f) -> WalkResult {
      if (f.isExternal())
        return WalkResult::advance();
      scf::ForOp bLoop = onlyLoop(f.front());
      scf::ForOp hLoop = bLoop ? onlyLoop(*bLoop.getBody()) : scf::ForOp();
      if (!bLoop || !hLoop || bLoop.getNumResults() || hLoop.getNumResults()) {
        f.emitError("ttt-map-to-gpu expects a bufferized layer function: loops over "
                    "batches and heads without loop-carried values");
        return WalkResult::interrupt();
      }
      // Column blocks of the state (ttt-column-blocks): a third loop, the
      // grid's z.
      scf::ForOp cLoop = onlyLoop(*hLoop.getBody());
      if (cLoop && (!cLoop->hasAttr("ttt.column_blocks") || cLoop.getNumResults()))
        cLoop = {};
      OpBuilder b(bLoop);
      Location loc = bLoop.getLoc();
      Value one = arith::ConstantIndexOp::create(b, loc, 1);
      // Grid: (B, H, column blocks); loops start at 0 with step 1 (as
      // ttt-lower-layer-to-func and ttt-column-blocks build them).
      Value gridX = bLoop.getUpperBound();
      if (shortGrid)
        gridX = arith::SubIOp::create(b, loc, gridX, one);
      Value gridZ = cLoop ? b.clone(*cLoop.getUpperBound().getDefiningOp())->getResult(0) : one;
      auto launch = gpu::LaunchOp::create(b, loc, gridX, hLoop.getUpperBound(), gridZ, one,
                                          one, one);
      b.setInsertionPointToStart(&launch.getBody().front());
      IRMapping map;
      map.map(bLoop.getInductionVar(), launch.getBlockIds().x);
      map.map(hLoop.getInductionVar(), launch.getBlockIds().y);
      if (cLoop)
        map.map(cLoop.getInductionVar(), launch.getBlockIds().z);
      for (Operation &op : bLoop.getBody()->without_terminator())
        if (&op != hLoop.getOperation())
          b.clone(op, map);
      for (Operation &op : hLoop.getBody()->without_terminator())
        if (&op != cLoop.getOperation())
          b.clone(op, map);
      if (cLoop)
        for (Operation &op : cLoop.getBody()->without_terminator())
          b.clone(op, map);
      gpu::TerminatorOp::create(b, loc);
      bLoop.erase();
      // Recompute inside the kernel what it uses from the host (dimensions,
      // chunk counts, constants): its parameters are then the function's
      // buffers alone.
      Region &kernel = launch.getBody();
      Block &entry = kernel.front();
      bool changed = true;
      while (changed) {
        changed = false;
        llvm::SetVector<Value> above;
        getUsedValuesDefinedAbove(kernel, above);
        for (Value v : above) {
          Operation *def = v.getDefiningOp();
          if (!def || !isPure(def) || def->getNumRegions())
            continue;
          OpBuilder kb(&entry, entry.begin());
          Operation *c = kb.clone(*def);
          replaceAllUsesInRegionWith(v, c->getResult(cast<OpResult>(v).getResultNumber()),
                                     kernel);
          changed = true;
        }
      }
      return WalkResult::advance();
    });
    if (r.wasInterrupted())
      signalPassFailure();
  }
};
} // namespace
