//===- CheckGPULocalMemory.cpp - per-thread buffers a GPU can hold --------===//

#include "dialect/GPU/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace mlir::ttt {
#define GEN_PASS_DEF_TTTCHECKGPULOCALMEMORY
#include "dialect/GPU/Passes.h.inc"
} // namespace mlir::ttt

using namespace mlir;

namespace {
struct TTTCheckGPULocalMemoryPass
    : ttt::impl::TTTCheckGPULocalMemoryBase<TTTCheckGPULocalMemoryPass> {
  using Base::Base;
  void runOnOperation() override {
    WalkResult r = getOperation().walk([&](gpu::LaunchOp launch) -> WalkResult {
      // A heap buffer inside a kernel is a device malloc per program (per
      // chunk, in the chunk loop): slow, and it fails once the device heap
      // (8 MB by default) is spent. Every buffer of a kernel must have a
      // static shape, so that it lives in shared memory, scratch or registers.
      int64_t bytes = 0;
      WalkResult heap = launch.walk([&](Operation *op) -> WalkResult {
        if (!isa<memref::AllocOp, memref::AllocaOp>(op))
          return WalkResult::advance();
        auto t = cast<MemRefType>(op->getResult(0).getType());
        if (isa<memref::AllocaOp>(op) && t.hasStaticShape()) {
          bytes += t.getNumElements() * ((t.getElementTypeBitWidth() + 7) / 8);
          return WalkResult::advance();
        }
        op->emitError("a GPU kernel cannot allocate ")
            << t << " here: " << (t.hasStaticShape() ? "a heap" : "a dynamically sized")
            << " buffer in a kernel would be a device-heap allocation per program "
               "(internal error: the buffer should have been given a static shape)";
        return WalkResult::interrupt();
      });
      if (heap.wasInterrupted())
        return heap;
      if (bytes > int64_t(maxKB) * 1024) {
        launch.emitError("the GPU kernel needs ")
            << (bytes + 1023) / 1024 << " KB of thread-local buffers per program, more than "
            << int64_t(maxKB) << " KB (the driver reserves them for every resident thread): "
            << "use a smaller head dimension or mini-batch, or the CPU target";
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (r.wasInterrupted())
      signalPassFailure();
  }
};
} // namespace
