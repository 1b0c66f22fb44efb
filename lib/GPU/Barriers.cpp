//===- Barriers.cpp - barriers between the threads of a GPU program -------===//
//
// Part of ttt-distribute-to-threads (Distribute.h). Once a program's linalg
// ops are loops over its threads, a barrier goes before each op whose shared
// or global accesses conflict with one since the last barrier, unless both
// are provably by the same thread (same points, same view, same parallel
// dimensions) or same warp (row-to-warp loops: a warp barrier suffices).
// Adjacent loops over the same points with no barrier between them then fuse.
//
//===----------------------------------------------------------------------===//

#include "Distribute.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/ADT/DenseSet.h"

using namespace mlir;

namespace mlir::ttt::distribution {
namespace {
/// An access to a shared or global buffer since the last barrier.
struct Access {
  Value root, memref;
  bool write;
  const LoopInfo *loop; // null: not in a distributed loop (every thread)
  SmallVector<int> signature;
  /// Row-to-warp loops: the index position holding the row (-1: none), and
  /// the lane: the index position holding the column, -1 for lane 0, -2 for
  /// any lane of the row's warp.
  int rowPos = -1, lane = -2;
};

/// Places the barriers of one program: walks its ops in order, keeping the
/// shared and global accesses since the last barrier (and warp barrier),
/// and puts a barrier (or a warp barrier, where the conflicting accesses
/// are in one warp) before an op whose accesses conflict with them.
struct BarrierPlacer {
  explicit BarrierPlacer(const Distributor &d)
      : d(d), launch(d.launch), loops(d.loops), extent(d.extent) {}
  const Distributor &d;
  gpu::LaunchOp launch;
  const DenseMap<Operation *, LoopInfo> &loops;
  const DenseMap<Value, std::pair<int64_t, int64_t>> &extent;

  bool overlap(Value a, Value b) const {
    if (a == b)
      return true;
    auto x = extent.find(a), y = extent.find(b);
    if (x == extent.end() || y == extent.end())
      return false;
    auto [xo, xs] = x->second;
    auto [yo, ys] = y->second;
    return xo < yo + ys && yo < xo + xs;
  }

  /// The shared and global accesses of `op` (and of the ops inside it).
  SmallVector<Access> accessesOf(Operation *op) {
    SmallVector<Access> acc;
    const LoopInfo *info = nullptr;
    if (auto it = loops.find(op); it != loops.end())
      info = &it->second;
    auto add = [&](Operation *o, Value m, bool write) {
      if (!isa<MemRefType>(m.getType()) || !d.isRelevant(m))
        return;
      Access a{rootOf(m), m, write, info, {}};
      if (info) {
        auto sig = info->signature.find(o);
        if (sig != info->signature.end())
          a.signature = sig->second;
        else
          a.loop = nullptr;
      }
      if (a.loop && a.loop->warps) {
        for (auto [pos, d] : llvm::enumerate(a.signature)) {
          if (d == 0)
            a.rowPos = a.rowPos == -1 ? int(pos) : -3;
          if (d == 1)
            a.lane = int(pos);
        }
        if (a.rowPos < 0)
          a.loop = nullptr; // not tied to a warp
        else if (a.lane == -2 && a.loop->lane0.contains(o))
          a.lane = -1;
      }
      acc.push_back(a);
    };
    op->walk([&](Operation *o) {
      if (auto l = dyn_cast<memref::LoadOp>(o))
        add(o, l.getMemRef(), false);
      else if (auto s = dyn_cast<memref::StoreOp>(o))
        add(o, s.getMemRef(), true);
      else if (auto c = dyn_cast<memref::CopyOp>(o)) {
        add(o, c.getSource(), false);
        add(o, c.getTarget(), true);
      } else if (auto l = dyn_cast<linalg::LinalgOp>(o)) {
        for (Value v : l->getOperands())
          add(o, v, false);
        for (Value v : l.getDpsInits())
          add(o, v, true);
      }
    });
    return acc;
  }

  /// Whether `a` and `b` touch each element from the same thread: two
  /// distributed loops over the same points, indexing the same view by the
  /// same parallel dimensions.
  static bool sameThread(const Access &a, const Access &b) {
    if (a.loop && b.loop && (a.loop->warps || b.loop->warps))
      return sameWarp(a, b) && a.lane >= -1 && a.lane == b.lane;
    if (!a.loop || !b.loop || !sameView(a.memref, b.memref) ||
        a.signature != b.signature || !samePoints(*a.loop, *b.loop))
      return false;
    if (a.signature.size() != size_t(llvm::count_if(a.signature, [](int d) { return d >= 0; })))
      return false;
    // Each index a distinct parallel dimension, all of them used: a point is
    // one element.
    llvm::SmallDenseSet<int> dims(a.signature.begin(), a.signature.end());
    return dims.size() == a.signature.size() && dims.size() == a.loop->sizes.size();
  }

  /// Whether `a` and `b` (in row-to-warp loops with the same warps) touch
  /// each element from the same warp: they index the same view with the
  /// loops' row at the same position.
  static bool sameWarp(const Access &a, const Access &b) {
    return a.loop && b.loop && a.loop->warps && a.loop->warps == b.loop->warps &&
           a.rowPos >= 0 && a.rowPos == b.rowPos &&
           sameView(a.memref, b.memref);
  }

  /// Accesses since the last barrier, and those since the last barrier or
  /// warp barrier (the latter orders the lanes of each warp).
  struct State {
    SmallVector<Access> all, sinceWarpSync;
    bool empty() const { return all.empty(); }
    void clear() {
      all.clear();
      sinceWarpSync.clear();
    }
  };
  enum class Sync { None, Warp, Block };

  Sync needed(const State &st, ArrayRef<Access> acc) const {
    auto conflict = [&](const Access &p, const Access &c) {
      return (p.write || c.write) && overlap(p.root, c.root) && !sameThread(p, c);
    };
    for (const Access &c : acc)
      for (const Access &p : st.all)
        if (conflict(p, c) && !sameWarp(p, c))
          return Sync::Block;
    for (const Access &c : acc)
      for (const Access &p : st.sinceWarpSync)
        if (conflict(p, c))
          return Sync::Warp;
    return Sync::None;
  }

  void barrierBefore(Operation *op, State &st) {
    OpBuilder b(op);
    gpu::BarrierOp::create(b, op->getLoc());
    st.clear();
  }

  void warpBarrierBefore(Operation *op, State &st) {
    OpBuilder b(op);
    Value all = arith::ConstantIntOp::create(b, op->getLoc(), b.getI32Type(), -1);
    NVVM::SyncWarpOp::create(b, op->getLoc(), all);
    st.sinceWarpSync.clear();
  }

  void insertBarriers(Block &block, State &st) {
    for (Operation &op : llvm::make_early_inc_range(block)) {
      bool distributed = loops.count(&op);
      bool structured = op.getNumRegions() && !distributed && !isa<linalg::LinalgOp>(op) &&
                        !accessesOf(&op).empty();
      if (structured) {
        if (!st.empty())
          barrierBefore(&op, st);
        for (Region &r : op.getRegions())
          for (Block &inner : r) {
            State in;
            insertBarriers(inner, in);
            if (!in.empty()) {
              OpBuilder b(inner.getTerminator());
              gpu::BarrierOp::create(b, op.getLoc());
            }
          }
        continue;
      }
      SmallVector<Access> acc = accessesOf(&op);
      Sync sync = needed(st, acc);
      if (sync == Sync::Block)
        barrierBefore(&op, st);
      else if (sync == Sync::Warp)
        warpBarrierBefore(&op, st);
      st.all.append(acc.begin(), acc.end());
      st.sinceWarpSync.append(acc.begin(), acc.end());
    }
  }
};
} // namespace

bool Distributor::isRelevant(Value memref) const {
  Space s = spaceOf(rootOf(memref), launch);
  return s == Space::Shared || s == Space::Global;
}

void Distributor::insertBarriers() {
  BarrierPlacer p(*this);
  BarrierPlacer::State st;
  p.insertBarriers(launch.getBody().front(), st);
}

/// Merges distributed loops over the same points that follow each other with
/// no barrier between them: point p of the second runs right after point p
/// of the first, in the same thread. Sound because the barrier placement
/// already proved that whatever both touch, they touch at the same point in
/// the same thread (else a barrier would separate them).
void fuseAdjacentLoops(gpu::LaunchOp launch, Distributor &dist) {
  auto fusable = [&](Operation *op) -> const LoopInfo * {
    auto it = dist.loops.find(op);
    if (it == dist.loops.end() || !it->second.total)
      return nullptr;
    return &it->second;
  };
  SmallVector<Block *> blocks;
  launch.getBody().walk([&](Block *b) { blocks.push_back(b); });
  for (Block *block : blocks) {
    scf::ForOp first;
    const LoopInfo *firstInfo = nullptr;
    SmallVector<Operation *> between;
    for (Operation &op : llvm::make_early_inc_range(*block)) {
      const LoopInfo *info = fusable(&op);
      if (!info) {
        // Pure ops between two loops (constants, views) move before the
        // first; anything else ends the run.
        if (first && isPure(&op) && !op.getNumRegions())
          between.push_back(&op);
        else
          first = nullptr;
        continue;
      }
      auto loop = cast<scf::ForOp>(op);
      bool same = first && info->warps == firstInfo->warps &&
                  sameIndex(info->total, firstInfo->total) &&
                  info->sizes.size() == firstInfo->sizes.size() &&
                  llvm::all_of(llvm::zip(info->sizes, firstInfo->sizes),
                               [](auto p) { return sameIndex(std::get<0>(p), std::get<1>(p)); }) &&
                  sameIndex(loop.getLowerBound(), first.getLowerBound()) &&
                  sameIndex(loop.getUpperBound(), first.getUpperBound()) &&
                  sameIndex(loop.getStep(), first.getStep());
      if (!same) {
        first = loop;
        firstInfo = info;
        between.clear();
        continue;
      }
      for (Operation *b : between)
        b->moveBefore(first);
      between.clear();
      // The second body after the first's, on the first's induction variable.
      Block *dst = first.getBody(), *src = loop.getBody();
      loop.getInductionVar().replaceAllUsesWith(first.getInductionVar());
      dst->getOperations().splice(Block::iterator(dst->getTerminator()), src->getOperations(),
                                  src->begin(), Block::iterator(src->getTerminator()));
      dist.loops.erase(loop);
      loop.erase();
    }
  }
}
} // namespace mlir::ttt::distribution
