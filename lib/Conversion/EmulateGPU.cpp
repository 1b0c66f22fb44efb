//===- EmulateGPU.cpp - gpu.launch -> CPU loops ---------------------------===//
//
// The kernel IR exactly as mapped for the GPU (block and thread ids, grid
// and block sizes) runs on the CPU: each launch becomes six nested loops.
//
//===----------------------------------------------------------------------===//

#include "dialect/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::ttt {
#define GEN_PASS_DEF_TTTEMULATEGPU
#include "dialect/TTTPasses.h.inc"
} // namespace mlir::ttt

using namespace mlir;

namespace {
struct TTTEmulateGPUPass : ttt::impl::TTTEmulateGPUBase<TTTEmulateGPUPass> {
  void runOnOperation() override {
    SmallVector<gpu::LaunchOp> launches;
    getOperation().walk([&](gpu::LaunchOp l) { launches.push_back(l); });
    for (gpu::LaunchOp launch : launches) {
      bool barrier = false;
      launch.walk([&](gpu::BarrierOp) { barrier = true; });
      gpu::KernelDim3 bs = launch.getBlockSizeOperandValues();
      auto isOne = [](Value v) {
        auto c = v.getDefiningOp<arith::ConstantIndexOp>();
        return c && c.value() == 1;
      };
      if (barrier && !(isOne(bs.x) && isOne(bs.y) && isOne(bs.z))) {
        launch.emitError("ttt-emulate-gpu runs threads one after the other: a kernel "
                         "with gpu.barrier is emulated only with one thread per block");
        return signalPassFailure();
      }
      OpBuilder b(launch);
      Location loc = launch.getLoc();
      Value zero = arith::ConstantIndexOp::create(b, loc, 0);
      Value one = arith::ConstantIndexOp::create(b, loc, 1);
      gpu::KernelDim3 gs = launch.getGridSizeOperandValues();
      SmallVector<Value> bounds = {gs.z, gs.y, gs.x, bs.z, bs.y, bs.x};
      SmallVector<Value> ivs;
      for (Value ub : bounds) {
        auto loop = scf::ForOp::create(b, loc, zero, ub, one);
        ivs.push_back(loop.getInductionVar());
        b.setInsertionPointToStart(loop.getBody());
      }
      IRMapping map;
      Block &body = launch.getBody().front();
      gpu::KernelDim3 bid = launch.getBlockIds(), tid = launch.getThreadIds(),
                      gsz = launch.getGridSize(), bsz = launch.getBlockSize();
      map.map(bid.z, ivs[0]);
      map.map(bid.y, ivs[1]);
      map.map(bid.x, ivs[2]);
      map.map(tid.z, ivs[3]);
      map.map(tid.y, ivs[4]);
      map.map(tid.x, ivs[5]);
      map.map(gsz.z, gs.z);
      map.map(gsz.y, gs.y);
      map.map(gsz.x, gs.x);
      map.map(bsz.z, bs.z);
      map.map(bsz.y, bs.y);
      map.map(bsz.x, bs.x);
      // A program's thread-local (stack) buffers become heap buffers on the
      // CPU (a CPU thread's stack is much smaller than the GPU's local
      // memory); the deallocation pipeline frees them when the program ends.
      for (Operation &op : body) {
        if (isa<gpu::TerminatorOp, gpu::BarrierOp>(op))
          continue;
        if (auto a = dyn_cast<memref::AllocaOp>(op)) {
          SmallVector<Value> sizes;
          for (Value v : a.getDynamicSizes())
            sizes.push_back(map.lookupOrDefault(v));
          auto alloc = memref::AllocOp::create(b, a.getLoc(), a.getType(), sizes,
                                               a.getAlignmentAttr());
          map.map(a.getResult(), alloc.getResult());
          continue;
        }
        b.clone(op, map);
      }
      launch.erase();
    }
  }
};
} // namespace
