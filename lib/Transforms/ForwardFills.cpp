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

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::ttt {
#define GEN_PASS_DEF_TTTFORWARDFILLS
#include "dialect/TTTPasses.h.inc"
} // namespace mlir::ttt

using namespace mlir;

namespace {
/// The buffer a memref value views.
Value rootOf(Value v) { return memref::skipViewLikeOps(cast<MemrefValue>(v)); }

/// Whether `op` (or anything nested in it) may write `buf` (or, unless
/// `writesOnly`, read it): an effect on a value whose view source is `buf`,
/// or an effect on no value at all.
bool mayTouch(Operation *op, Value buf, bool writesOnly) {
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
      if (isa<MemoryEffects::Allocate, MemoryEffects::Free>(e.getEffect()) ||
          (writesOnly && !isa<MemoryEffects::Write>(e.getEffect())))
        continue;
      Value v = e.getValue();
      if (!v || !isa<MemRefType>(v.getType()) || rootOf(v) == buf)
        writes = true;
    }
  });
  return writes;
}

/// The last op before `op` in its block that writes `buf`, if it is a fill
/// of `buf` itself and nothing between them (or, with `untouched`, nothing
/// at all) touches `buf`.
linalg::FillOp lastFill(Operation *op, Value buf, bool untouched) {
  for (Operation *p = op->getPrevNode(); p; p = p->getPrevNode()) {
    auto f = dyn_cast<linalg::FillOp>(p);
    if (f && f.getOutputs()[0] == buf)
      return f;
    if (mayTouch(p, buf, !untouched))
      return {};
  }
  return {};
}

/// A view of the leading rows of `buf`, the rest whole: offsets 0, unit
/// strides, every size past the first the buffer's (or a dropped unit).
bool isLeadingRows(memref::SubViewOp sv, MemRefType bufType) {
  if (!llvm::all_of(sv.getStaticOffsets(), [](int64_t o) { return o == 0; }) ||
      !llvm::all_of(sv.getStaticStrides(), [](int64_t s) { return s == 1; }))
    return false;
  ArrayRef<int64_t> sizes = sv.getStaticSizes();
  for (unsigned d = 1; d < sizes.size(); ++d)
    if (sizes[d] != bufType.getDimSize(d))
      return false;
  return !sv.getDroppedDims().test(0);
}

/// fill(buf, c); copy(src -> leading n rows of buf), src a view of the
/// layer's arguments and nothing else touching buf between them: one op
/// writing every element once, buf[i, ...] = i < n ? src[i, ...] : c (the
/// padding of a partial chunk without a separate pass, or the barrier
/// between the two on a GPU).
bool maskCopy(linalg::CopyOp copy) {
  auto sv = copy.getOutputs()[0].getDefiningOp<memref::SubViewOp>();
  Value src = copy.getInputs()[0];
  auto arg = dyn_cast<BlockArgument>(rootOf(src));
  if (!sv || !arg || !isa<func::FuncOp>(arg.getOwner()->getParentOp()))
    return false;
  Value buf = sv.getSource();
  auto bufType = dyn_cast<MemRefType>(buf.getType());
  if (!bufType || !bufType.hasStaticShape() || !isLeadingRows(sv, bufType) ||
      !(buf.getDefiningOp<memref::AllocaOp>() || buf.getDefiningOp<memref::AllocOp>()))
    return false;
  linalg::FillOp fill = lastFill(copy, buf, /*untouched=*/true);
  if (!fill)
    return false;
  OpBuilder b(copy);
  Location loc = copy.getLoc();
  Value rows = getValueOrCreateConstantIndexOp(b, loc, sv.getMixedSizes()[0]);
  Value pad = fill.getInputs()[0];
  llvm::SmallBitVector dropped = sv.getDroppedDims();
  unsigned rank = bufType.getRank();
  auto id = b.getMultiDimIdentityMap(rank);
  SmallVector<utils::IteratorType> its(rank, utils::IteratorType::parallel);
  linalg::GenericOp::create(
      b, loc, TypeRange{}, ValueRange{}, ValueRange{buf}, ArrayRef<AffineMap>{id}, its,
      [&](OpBuilder &nb, Location nl, ValueRange) {
        SmallVector<Value> idx, srcIdx;
        for (unsigned d = 0; d < rank; ++d) {
          idx.push_back(linalg::IndexOp::create(nb, nl, d));
          if (!dropped.test(d))
            srcIdx.push_back(idx.back());
        }
        Value in = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::ult, idx[0], rows);
        auto iff = scf::IfOp::create(
            nb, nl, in,
            [&](OpBuilder &tb, Location tl) {
              scf::YieldOp::create(tb, tl,
                                   ValueRange{memref::LoadOp::create(tb, tl, src, srcIdx)});
            },
            [&](OpBuilder &eb, Location el) { scf::YieldOp::create(eb, el, ValueRange{pad}); });
        linalg::YieldOp::create(nb, nl, iff.getResult(0));
      });
  copy.erase();
  fill.erase();
  return true;
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
      linalg::FillOp fill = lastFill(copy, src, /*untouched=*/false);
      if (!fill)
        continue;
      OpBuilder b(copy);
      linalg::FillOp::create(b, copy.getLoc(), fill.getInputs()[0], copy.getOutputs()[0]);
      copy.erase();
    }
    // Then partial copies into freshly filled buffers: one masked op.
    copies.clear();
    getOperation().walk([&](linalg::CopyOp c) { copies.push_back(c); });
    for (linalg::CopyOp copy : copies)
      maskCopy(copy);
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
