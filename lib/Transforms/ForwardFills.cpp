//===- ForwardFills.cpp - copies of filled buffers become fills -----------===//
//
// Bufferization materialises each use of a shared constant tile (the zero
// chunk that inputs are padded into, the zero accumulators of matmuls and
// row sums) as a fill of one buffer and a copy of it into every user's
// buffer. A copy from a buffer whose last write is a fill is that fill:
// writing the constant directly saves a read per element, and the source
// buffer (and its fill) go away once nothing reads it.
//
//===----------------------------------------------------------------------===//

#include "dialect/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::ttt {
#define GEN_PASS_DEF_TTTFORWARDFILLS
#include "dialect/TTTPasses.h.inc"
} // namespace mlir::ttt

using namespace mlir;

namespace {
/// Whether `op` (or anything nested in it) may write `buf`: an effect on a
/// value whose view source is `buf`, or an effect on no value at all.
bool mayWrite(Operation *op, Value buf) {
  bool writes = false;
  op->walk([&](Operation *inner) {
    auto iface = dyn_cast<MemoryEffectOpInterface>(inner);
    if (!iface) {
      if (!inner->hasTrait<OpTrait::HasRecursiveMemoryEffects>())
        writes = true;
      return;
    }
    SmallVector<MemoryEffects::EffectInstance> effects;
    iface.getEffects(effects);
    for (auto &e : effects) {
      if (!isa<MemoryEffects::Write>(e.getEffect()))
        continue;
      Value v = e.getValue();
      while (v && v.getDefiningOp<ViewLikeOpInterface>())
        v = v.getDefiningOp<ViewLikeOpInterface>().getViewSource();
      if (!v || v == buf)
        writes = true;
    }
  });
  return writes;
}

struct TTTForwardFillsPass : ttt::impl::TTTForwardFillsBase<TTTForwardFillsPass> {
  void runOnOperation() override {
    SmallVector<linalg::CopyOp> copies;
    getOperation().walk([&](linalg::CopyOp c) { copies.push_back(c); });
    for (linalg::CopyOp copy : copies) {
      Value src = copy.getInputs()[0];
      if (!src.getDefiningOp<memref::AllocaOp>() && !src.getDefiningOp<memref::AllocOp>())
        continue;
      // The last write to the source before the copy, in the same block.
      linalg::FillOp fill;
      for (Operation *op = copy->getPrevNode(); op; op = op->getPrevNode()) {
        if (!mayWrite(op, src))
          continue;
        auto f = dyn_cast<linalg::FillOp>(op);
        if (f && f.getOutputs()[0] == src)
          fill = f;
        break;
      }
      if (!fill)
        continue;
      OpBuilder b(copy);
      linalg::FillOp::create(b, copy.getLoc(), fill.getInputs()[0], copy.getOutputs()[0]);
      copy.erase();
    }
    // Buffers only ever filled: the fills and the buffers go.
    SmallVector<Operation *> dead;
    getOperation().walk([&](Operation *a) {
      if (!isa<memref::AllocaOp, memref::AllocOp>(a))
        return;
      bool onlyFilled = llvm::all_of(a->getResult(0).getUsers(), [&](Operation *u) {
        auto f = dyn_cast<linalg::FillOp>(u);
        return f && f.getOutputs()[0] == a->getResult(0);
      });
      if (!onlyFilled)
        return;
      for (Operation *u : a->getResult(0).getUsers())
        dead.push_back(u);
      dead.push_back(a);
    });
    for (Operation *op : dead)
      op->erase();
  }
};
} // namespace
