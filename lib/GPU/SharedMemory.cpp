//===- SharedMemory.cpp - where a GPU program's buffers live --------------===//
//
// Part of ttt-distribute-to-threads (Distribute.h). A program's buffers are
// told apart by memory space (a view of the shared allocation, a private
// alloca, a kernel parameter); those only viewed, read and written move to
// shared memory, with rows padded against bank conflicts where every use
// indexes them, and, where they do not all fit apart, packed by live range
// so that buffers never live at the same time share bytes.
//
//===----------------------------------------------------------------------===//

#include "Distribute.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

using namespace mlir;

namespace mlir::ttt::distribution {

/// The buffer `v` is a view of: a shared buffer's memref.view, an alloca, a
/// value from outside the launch (a kernel parameter), or something else.
Value rootOf(Value v) {
  while (Operation *def = v.getDefiningOp()) {
    if (isa<memref::ViewOp>(def))
      break;
    auto view = dyn_cast<ViewLikeOpInterface>(def);
    if (!view)
      break;
    v = view.getViewSource();
  }
  return v;
}

Space spaceOf(Value root, gpu::LaunchOp launch) {
  Operation *def = root.getDefiningOp();
  if (def && isa<memref::ViewOp>(def))
    return Space::Shared;
  if (def && isa<memref::AllocaOp, memref::AllocOp>(def))
    return Space::Private;
  if (!launch.getBody().isAncestor(root.getParentRegion()))
    return Space::Global;
  return Space::Unknown;
}

/// An alloca can live in shared memory when it is only viewed, read and
/// written (not yielded, passed to calls or cast across address spaces).
/// With `indexedOnly`, every use must also index it through its layout
/// (subviews, loads, stores, linalg ops; no copies or reshaping views), so
/// that it may be given padded rows.
bool onlyAccessed(Value v, bool indexedOnly) {
  for (OpOperand &use : v.getUses()) {
    Operation *user = use.getOwner();
    if (auto view = dyn_cast<ViewLikeOpInterface>(user)) {
      if (view.getViewSource() != v || isa<memref::ViewOp>(user) ||
          (indexedOnly && !isa<memref::SubViewOp>(user)))
        return false;
      for (Value r : user->getResults())
        if (!onlyAccessed(r, indexedOnly))
          return false;
      continue;
    }
    if (isa<linalg::LinalgOp, memref::LoadOp, memref::StoreOp, memref::DimOp>(user) ||
        (!indexedOnly && isa<memref::CopyOp>(user)))
      continue;
    return false;
  }
  return true;
}

/// Gives `v` and every view derived from it the workgroup address space.
void moveToWorkgroup(Value v, Attribute space) {
  for (OpOperand &use : v.getUses()) {
    auto view = dyn_cast<ViewLikeOpInterface>(use.getOwner());
    if (!view || view.getViewSource() != v)
      continue;
    for (Value r : use.getOwner()->getResults()) {
      auto t = dyn_cast<MemRefType>(r.getType());
      if (!t || t.getMemorySpace())
        continue;
      r.setType(MemRefType::get(t.getShape(), t.getElementType(), t.getLayout(), space));
      moveToWorkgroup(r, space);
    }
  }
}

/// The elements a shared buffer's rows are padded by: shared memory has 32
/// banks of 4 bytes, and a row stride of a multiple of 32 bytes puts the same
/// column of 4 or 8 consecutive rows in one bank. Tensor-core fragments read
/// 8 rows x 4 columns (and their transposes), the row sums 8 columns of 4 rows
/// per warp: 16 more bytes per row spread them over all banks.
int64_t rowPadding(memref::AllocaOp a) {
  MemRefType t = a.getType();
  if (t.getRank() < 2 || !t.getElementType().isIntOrFloat())
    return 0;
  int64_t bytes = (t.getElementTypeBitWidth() + 7) / 8;
  int64_t rowBytes = t.getShape().back() * bytes;
  if (t.getNumElements() / t.getShape().back() < 2 || rowBytes % 32 || 16 % bytes ||
      !onlyAccessed(a.getResult(), /*indexedOnly=*/true))
    return 0;
  return 16 / bytes;
}

/// The shape a buffer is stored with: its rows padded by `pad` elements.
MemRefType paddedType(MemRefType t, int64_t pad, Attribute space) {
  SmallVector<int64_t> shape(t.getShape());
  shape.back() += pad;
  return MemRefType::get(shape, t.getElementType(), MemRefLayoutAttrInterface(), space);
}

/// Gives the subviews of `v` (and theirs) the result types their source's
/// layout implies, after `v`'s type changed (padded rows).
static void relayoutSubviews(Value v) {
  for (Operation *user : v.getUsers()) {
    auto sub = dyn_cast<memref::SubViewOp>(user);
    if (!sub || sub.getSource() != v)
      continue;
    auto t = memref::SubViewOp::inferRankReducedResultType(
        sub.getType().getShape(), cast<MemRefType>(v.getType()), sub.getMixedOffsets(),
        sub.getMixedSizes(), sub.getMixedStrides());
    if (t == sub.getType())
      continue;
    sub.getResult().setType(t);
    relayoutSubviews(sub.getResult());
  }
}

/// Replaces `a` by `v`, whose layout may differ (padded rows).
void replaceRelayout(Value a, Value v) {
  a.replaceAllUsesWith(v);
  relayoutSubviews(v);
}

int64_t bufferBytes(MemRefType t) {
  int64_t n = t.getNumElements() * ((t.getElementTypeBitWidth() + 7) / 8);
  return (n + 15) / 16 * 16;
}

/// Every op using `v` or a view of it.
static void collectUsers(Value v, SmallVectorImpl<Operation *> &users) {
  for (Operation *u : v.getUsers()) {
    users.push_back(u);
    if (auto view = dyn_cast<ViewLikeOpInterface>(u); view && view.getViewSource() == v)
      for (Value r : u->getResults())
        collectUsers(r, users);
  }
}

/// Whether `op` overwrites all of `buf` without reading it.
static bool overwritesAll(Operation *op, Value buf) {
  auto l = dyn_cast<linalg::LinalgOp>(op);
  if (!l || !l.hasPureBufferSemantics())
    return false;
  for (OpOperand *in : l.getDpsInputOperands())
    if (in->get() == buf)
      return false;
  for (OpOperand &init : l.getDpsInitsMutable()) {
    if (init.get() != buf)
      continue;
    AffineMap m = l.getMatchingIndexingMap(&init);
    return !l.payloadUsesValueFromOperand(&init) && m.isPermutation() &&
           l.getNumReductionLoops() == 0;
  }
  return false;
}

/// The live range of each buffer: one only used inside one loop, first fully
/// overwritten at the top level of its body, lives from that write to its
/// last use; any other lives for the whole program.
SmallVector<Live> liveRanges(gpu::LaunchOp launch, ArrayRef<memref::AllocaOp> bufs,
                             ArrayRef<int64_t> sizes) {
  DenseMap<Operation *, int64_t> pos;
  int64_t n = 1;
  launch.getBody().walk<WalkOrder::PreOrder>([&](Operation *op) { pos[op] = n++; });
  SmallVector<Live> live;
  for (auto [i, op] : llvm::enumerate(bufs)) {
    memref::AllocaOp a = op;
    SmallVector<Operation *> users;
    collectUsers(a, users);
    Live l{0, n, sizes[i]};
    // The loop directly in the program body holding every use.
    scf::ForOp loop;
    bool oneLoop = !users.empty();
    for (Operation *u : users) {
      Operation *top = u;
      while (top->getParentOp() != launch.getOperation())
        top = top->getParentOp();
      auto f = dyn_cast<scf::ForOp>(top);
      if (!f || (loop && loop != f))
        oneLoop = false;
      loop = f;
    }
    if (oneLoop && loop) {
      Operation *first = nullptr, *lastOp = nullptr;
      for (Operation *u : users) {
        if (!first || pos[u] < pos[first])
          first = u;
        if (!lastOp || pos[u] > pos[lastOp])
          lastOp = u;
      }
      if (first->getBlock() == loop.getBody() && overwritesAll(first, a)) {
        // The nested ops of the last user belong to its range too.
        int64_t end = pos[lastOp];
        lastOp->walk([&](Operation *o) { end = std::max(end, pos[o]); });
        l = {pos[first], end + 1, l.size};
      }
    }
    live.push_back(l);
  }
  return live;
}

/// Assigns the buffers `which` of `live` byte offsets (first fit, largest
/// first): buffers whose live ranges overlap get disjoint bytes. Returns the
/// total size.
int64_t pack(ArrayRef<Live> live, ArrayRef<unsigned> which, SmallVectorImpl<int64_t> &offsets) {
  SmallVector<unsigned> order(which.begin(), which.end());
  llvm::stable_sort(order, [&](unsigned x, unsigned y) { return live[x].size > live[y].size; });
  offsets.assign(live.size(), -1);
  int64_t total = 0;
  SmallVector<unsigned> placed;
  for (unsigned i : order) {
    SmallVector<std::pair<int64_t, int64_t>> busy;
    for (unsigned j : placed)
      if (live[i].begin < live[j].end && live[j].begin < live[i].end)
        busy.push_back({offsets[j], offsets[j] + live[j].size});
    llvm::sort(busy);
    int64_t off = 0;
    for (auto [b, e] : busy) {
      if (off + live[i].size <= b)
        break;
      off = std::max(off, e);
    }
    offsets[i] = off;
    total = std::max(total, off + live[i].size);
    placed.push_back(i);
  }
  return total;
}
} // namespace mlir::ttt::distribution
