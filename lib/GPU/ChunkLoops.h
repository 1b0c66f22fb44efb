//===- ChunkLoops.h - a kernel's chunk loops -------------------*- C++ -*-===//
//
// The chunk loops of a kernel body (a gpu.launch region or a gpu.func):
// its outermost scf.for ops that contain a block barrier, i.e. the loops
// over a sequence's chunks whose steps synchronize a program's threads.
//
//===----------------------------------------------------------------------===//

#ifndef TTTC_LIB_GPU_CHUNKLOOPS_H
#define TTTC_LIB_GPU_CHUNKLOOPS_H

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace mlir::ttt {
inline SmallVector<scf::ForOp> chunkLoops(Block &body) {
  SmallVector<scf::ForOp> loops;
  for (Operation &op : body)
    if (auto loop = dyn_cast<scf::ForOp>(op))
      if (loop->walk([](gpu::BarrierOp) { return WalkResult::interrupt(); }).wasInterrupted())
        loops.push_back(loop);
  return loops;
}
} // namespace mlir::ttt

#endif // TTTC_LIB_GPU_CHUNKLOOPS_H
