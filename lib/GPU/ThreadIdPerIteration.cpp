//===- ThreadIdPerIteration.cpp - thread ids re-read in each chunk step ---===//
//
// LLVM's loop-invariant code motion hoists everything computed from the
// thread id out of a kernel's chunk loop: each buffer's per-thread address
// then lives in registers for the whole kernel, which at 512 threads costs
// the second block per SM or spills (static rounds and row-to-warp loops,
// whose thread parts are loop-invariant, doubled TTT-Linear's registers).
// Reading the thread id once per iteration, with an instruction LLVM must
// not move, keeps those values inside the iteration: recomputed per chunk
// (a few instructions) instead of held across it.
//
//===----------------------------------------------------------------------===//

#include "dialect/GPU/Passes.h"
#include "ChunkLoops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace mlir::ttt {
#define GEN_PASS_DEF_TTTTHREADIDPERITERATION
#include "dialect/GPU/Passes.h.inc"
} // namespace mlir::ttt

using namespace mlir;

namespace {
struct TTTThreadIdPerIterationPass
    : ttt::impl::TTTThreadIdPerIterationBase<TTTThreadIdPerIterationPass> {
  void runOnOperation() override {
    getOperation().walk([&](gpu::GPUFuncOp kernel) {
      if (!kernel.isKernel())
        return;
      SmallVector<gpu::ThreadIdOp> ids;
      kernel.walk([&](gpu::ThreadIdOp t) {
        if (t.getDimension() == gpu::Dimension::x)
          ids.push_back(t);
      });
      for (scf::ForOp loop : ttt::chunkLoops(kernel.getBody().front())) {
        OpBuilder b = OpBuilder::atBlockBegin(loop.getBody());
        Location loc = loop.getLoc();
        auto asmOp = LLVM::InlineAsmOp::create(
            b, loc, b.getI32Type(), ValueRange{}, "mov.u32 $0, %tid.x;", "=r",
            /*has_side_effects=*/true, /*is_align_stack=*/false,
            LLVM::tailcallkind::TailCallKind::None, LLVM::AsmDialectAttr(), ArrayAttr());
        Value tid = asmOp.getResult(0);
        // Its range, which LLVM no longer sees (loops over a thread's rows
        // or rounds then keep static trip counts): below a known block
        // size that is a power of two.
        if (std::optional<ArrayRef<int32_t>> known = kernel.getKnownBlockSize()) {
          int64_t n = known->empty() ? 0 : (*known)[0];
          if (n > 0 && (n & (n - 1)) == 0)
            tid = arith::AndIOp::create(
                b, loc, tid, arith::ConstantIntOp::create(b, loc, b.getI32Type(), n - 1));
        }
        tid = arith::IndexCastUIOp::create(b, loc, b.getIndexType(), tid);
        for (gpu::ThreadIdOp t : ids)
          t.getResult().replaceUsesWithIf(tid, [&](OpOperand &use) {
            return loop->isAncestor(use.getOwner());
          });
      }
    });
  }
};
} // namespace
