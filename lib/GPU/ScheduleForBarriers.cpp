//===- ScheduleForBarriers.cpp - level-order a program's chunk step -------===//
//
// A thread block runs the chunk step's ops one after another, with a
// barrier wherever an op reads or overwrites what another thread touched
// since the last one. In program order, every dependent pair in a chain
// costs a barrier even when an independent chain could have run beside it.
// Listing the ops by dependence level (ASAP) makes the barriers of the
// chains coincide: the count becomes the depth of the dependence graph.
//
//===----------------------------------------------------------------------===//

#include "dialect/GPU/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/DenseMap.h"

namespace mlir::ttt {
#define GEN_PASS_DEF_TTTSCHEDULEFORBARRIERS
#include "dialect/GPU/Passes.h.inc"
} // namespace mlir::ttt

using namespace mlir;

namespace {
/// The buffer a memref value views.
Value rootOf(Value m) { return memref::skipViewLikeOps(cast<MemrefValue>(m)); }

/// What an op (with its regions) reads and writes: (buffer, write).
struct Access {
  Value root;
  bool write;
};

/// False when some effect cannot be attributed to a buffer.
bool collectAccesses(Operation *op, SmallVectorImpl<Access> &out) {
  bool known = true;
  op->walk([&](Operation *inner) {
    auto iface = dyn_cast<MemoryEffectOpInterface>(inner);
    if (!iface) {
      if (!inner->hasTrait<OpTrait::HasRecursiveMemoryEffects>() &&
          !inner->hasTrait<OpTrait::IsTerminator>())
        known = false;
      return;
    }
    SmallVector<MemoryEffects::EffectInstance> effects;
    iface.getEffects(effects);
    for (auto &e : effects) {
      if (isa<MemoryEffects::Allocate, MemoryEffects::Free>(e.getEffect()))
        continue;
      Value v = e.getValue();
      if (!v || !isa<MemRefType>(v.getType())) {
        known = false;
        continue;
      }
      out.push_back({rootOf(v), isa<MemoryEffects::Write>(e.getEffect())});
    }
  });
  return known;
}

/// Whether `b` touches what `a` wrote (or overwrites what `a` touched) only
/// at the elements the same thread handles in both: elementwise linalg ops
/// over the same points reaching the shared buffers through the same views
/// and indexing maps.
bool sameThread(Operation *a, Operation *b, Value root) {
  auto la = dyn_cast<linalg::LinalgOp>(a), lb = dyn_cast<linalg::LinalgOp>(b);
  if (!la || !lb || la.getNumReductionLoops() || lb.getNumReductionLoops() ||
      la.getStaticLoopRanges() != lb.getStaticLoopRanges())
    return false;
  SmallVector<std::pair<Value, AffineMap>> ua, ub;
  for (OpOperand &u : a->getOpOperands())
    if (isa<MemRefType>(u.get().getType()) && rootOf(u.get()) == root)
      ua.push_back({u.get(), la.getMatchingIndexingMap(&u)});
  for (OpOperand &u : b->getOpOperands())
    if (isa<MemRefType>(u.get().getType()) && rootOf(u.get()) == root)
      ub.push_back({u.get(), lb.getMatchingIndexingMap(&u)});
  for (auto &x : ua)
    for (auto &y : ub)
      if (x != y)
        return false;
  return !ua.empty() && !ub.empty();
}

/// Reorders `block` (all but its terminator) by dependence level, each op
/// at its earliest (`asap`) or latest level; false if it left the block as
/// it was.
bool schedule(Block &block, bool asapOrder) {
  SmallVector<Operation *> ops;
  for (Operation &op : block.without_terminator())
    ops.push_back(&op);
  if (ops.size() < 3)
    return false;
  llvm::DenseMap<Operation *, unsigned> index;
  SmallVector<SmallVector<Access>> acc(ops.size());
  for (auto [i, op] : llvm::enumerate(ops)) {
    index[op] = unsigned(i);
    if (!collectAccesses(op, acc[i]))
      return false;
  }
  // Edges j -> i (j before i): weight 0 for a value or a same-thread
  // memory dependence, 1 for a memory dependence across threads (a barrier).
  SmallVector<SmallVector<std::pair<unsigned, unsigned>>> preds(ops.size());
  for (unsigned i = 0; i < ops.size(); ++i) {
    ops[i]->walk([&](Operation *inner) {
      for (Value v : inner->getOperands())
        if (Operation *def = v.getDefiningOp()) {
          Operation *top = block.findAncestorOpInBlock(*def);
          if (top && top != ops[i])
            preds[i].push_back({index[top], 0});
        }
    });
    for (unsigned j = 0; j < i; ++j)
      for (const Access &x : acc[j])
        for (const Access &y : acc[i])
          if (x.root == y.root && (x.write || y.write))
            preds[i].push_back({j, sameThread(ops[j], ops[i], x.root) ? 0u : 1u});
  }
  // ASAP levels give the depth; each op then goes as late as its users
  // allow (ALAP): the same barriers, shorter buffer lifetimes.
  SmallVector<unsigned> asap(ops.size(), 0);
  unsigned depth = 0;
  for (unsigned i = 0; i < ops.size(); ++i) {
    for (auto [j, w] : preds[i])
      asap[i] = std::max(asap[i], asap[j] + w);
    depth = std::max(depth, asap[i]);
  }
  SmallVector<unsigned> level(ops.size(), depth);
  for (unsigned i = ops.size(); i-- > 0;)
    for (auto [j, w] : preds[i])
      level[j] = std::min(level[j], level[i] - w);
  if (asapOrder)
    level = asap;
  // Loads of the layer's buffers that depend on nothing in the block go
  // first even in ALAP order: their latency then overlaps the work before
  // their first use.
  Region *kernel = block.getParent();
  while (kernel && !isa<gpu::LaunchOp>(kernel->getParentOp()))
    kernel = kernel->getParentOp()->getParentRegion();
  for (unsigned i = 0; kernel && i < ops.size(); ++i)
    if (asap[i] == 0 && llvm::any_of(acc[i], [&](Access a) {
          return !a.write && !kernel->isAncestor(a.root.getParentRegion());
        }))
      level[i] = 0;
  // ... with what they use (weight-0 predecessors: asap 0 has no others).
  for (unsigned i = ops.size(); i-- > 0;)
    for (auto [j, w] : preds[i])
      if (level[i] >= w)
        level[j] = std::min(level[j], level[i] - w);
  SmallVector<unsigned> order(ops.size());
  for (unsigned i = 0; i < ops.size(); ++i)
    order[i] = i;
  llvm::stable_sort(order, [&](unsigned x, unsigned y) { return level[x] < level[y]; });
  Operation *terminator = block.getTerminator();
  for (unsigned i : order)
    ops[i]->moveBefore(terminator);
  return true;
}

struct TTTScheduleForBarriersPass
    : ttt::impl::TTTScheduleForBarriersBase<TTTScheduleForBarriersPass> {
  using Base::Base;
  void runOnOperation() override {
    if (order != "alap" && order != "asap") {
      getOperation().emitError("ttt-schedule-for-barriers: schedule must be alap or asap, got '")
          << order << "'";
      return signalPassFailure();
    }
    getOperation().walk([&](gpu::LaunchOp launch) {
      SmallVector<Block *> bodies;
      launch.getBody().walk([&](scf::ForOp loop) { bodies.push_back(loop.getBody()); });
      for (Block *b : bodies)
        schedule(*b, order == "asap");
    });
  }
};
} // namespace
