//===- DistributeToThreads.cpp - one-thread programs -> thread blocks -----===//
//
// A program of a gpu.launch (one (batch, head) pair, looping over chunks)
// runs on a block of threads: its buffers move to shared memory, its linalg
// ops become loops over their parallel points strided by the block size, and
// barriers separate what one thread writes from what another reads.
//
//===----------------------------------------------------------------------===//

#include "dialect/GPU/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "llvm/ADT/DenseSet.h"

#include <limits>

namespace mlir::ttt {
#define GEN_PASS_DEF_TTTDISTRIBUTETOTHREADS
#include "dialect/GPU/Passes.h.inc"
} // namespace mlir::ttt

using namespace mlir;

namespace {
constexpr llvm::StringLiteral kDistributed = "ttt.distributed";

enum class Space { Shared, Private, Global, Unknown };

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
bool onlyAccessed(Value v, bool indexedOnly = false) {
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
void relayoutSubviews(Value v) {
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

Value applyResult(OpBuilder &b, Location loc, AffineMap map, unsigned i,
                  ArrayRef<Value> iv) {
  AffineExpr e = map.getResult(i);
  if (auto d = dyn_cast<AffineDimExpr>(e))
    return iv[d.getPosition()];
  if (auto c = dyn_cast<AffineConstantExpr>(e))
    return arith::ConstantIndexOp::create(b, loc, c.getValue());
  return affine::AffineApplyOp::create(b, loc, map.getSubMap({i}), iv);
}

SmallVector<Value> applyMap(OpBuilder &b, Location loc, AffineMap map, ArrayRef<Value> iv) {
  SmallVector<Value> r;
  for (unsigned i = 0; i < map.getNumResults(); ++i)
    r.push_back(applyResult(b, loc, map, i, iv));
  return r;
}

/// Which thread touches which element in a distributed loop: the loop's
/// point space (its trip count and the sizes it is delinearized by) and, per
/// access, which parallel dimension each index is (-1: something else).
struct LoopInfo {
  Value total;
  SmallVector<Value> sizes;
  DenseMap<Operation *, SmallVector<int>> signature; // load/store -> dims
  /// Row-to-warp mappings (0: points strided over the threads). With W
  /// warps, row r (dimension 0) belongs to warp r mod W; dimension 1 (the
  /// columns, or a split sum's terms) to lane c mod 32 where an index uses
  /// it, else to lane 0 for the accesses in `lane0` and to any lane of the
  /// warp for the others (a row's value read by all its lanes).
  int64_t warps = 0;
  DenseSet<Operation *> lane0;
};

bool sameIndex(Value a, Value b) {
  if (a == b)
    return true;
  std::optional<int64_t> x = getConstantIntValue(a), y = getConstantIntValue(b);
  return x && y && *x == *y;
}

/// Whether point p of `a` and point p of `b` are the same tuple of parallel
/// indices: p is delinearized by all but the outermost size, so only those
/// must agree (the trip counts may differ: one loop may cover a prefix of the
/// other's points, e.g. the real rows of a chunk).
bool samePoints(const LoopInfo &a, const LoopInfo &b) {
  if (a.sizes.size() != b.sizes.size())
    return false;
  for (size_t i = 1; i < a.sizes.size(); ++i)
    if (!sameIndex(a.sizes[i], b.sizes[i]))
      return false;
  return true;
}

/// `m` through subviews that keep its indexing (zero offsets, unit strides,
/// same rank): the same indices address the same element.
Value sameIndexing(Value m) {
  while (auto sv = m.getDefiningOp<memref::SubViewOp>()) {
    if (sv.getSourceType().getRank() != sv.getType().getRank() ||
        !llvm::all_of(sv.getMixedOffsets(), [](OpFoldResult o) { return isZeroInteger(o); }) ||
        !llvm::all_of(sv.getMixedStrides(), [](OpFoldResult s) { return isOneInteger(s); }))
      break;
    m = sv.getSource();
  }
  return m;
}

/// Records which dimension each index of the loads and stores in `loop`
/// is (`dimOf`; -1: anything else), and which of them `lane0` says run on
/// lane 0 alone.
void recordSignatures(scf::ForOp loop, LoopInfo &info, const DenseMap<Value, int> &dimOf,
                      llvm::function_ref<bool(Operation *)> lane0 = nullptr) {
  loop.getBody()->walk([&](Operation *op) {
    ValueRange idx;
    if (auto l = dyn_cast<memref::LoadOp>(op))
      idx = l.getIndices();
    else if (auto st = dyn_cast<memref::StoreOp>(op))
      idx = st.getIndices();
    else
      return;
    SmallVector<int> sig;
    for (Value i : idx) {
      auto it = dimOf.find(i);
      sig.push_back(it == dimOf.end() ? -1 : it->second);
    }
    info.signature[op] = sig;
    if (lane0 && lane0(op))
      info.lane0.insert(op);
  });
}

/// Whether the same indices of `a` and `b` address the same element: the
/// same view (through subviews that keep the indexing), or two views of one
/// buffer at the same byte offset with the same type (buffers that share
/// bytes in turn, e.g. a layer norm's mean and variance sums).
bool sameView(Value a, Value b) {
  a = sameIndexing(a);
  b = sameIndexing(b);
  if (a == b)
    return true;
  auto va = a.getDefiningOp<memref::ViewOp>(), vb = b.getDefiningOp<memref::ViewOp>();
  return va && vb && va.getSource() == vb.getSource() && va.getType() == vb.getType() &&
         va.getSizes().empty() && vb.getSizes().empty() &&
         sameIndex(va.getByteShift(), vb.getByteShift());
}

/// Clones `g`'s payload for the point `iv` at `b`: its inputs loaded at their
/// indexing maps, its output arguments bound to `outs` (none or null: unused),
/// `linalg.index` to `iv`, every op but the terminator and `skip`. Returns the
/// mapping (the yielded values are looked up in it).
IRMapping clonePayload(OpBuilder &b, Location loc, linalg::GenericOp g, ArrayRef<Value> iv,
                       ArrayRef<Value> outs, Operation *skip = nullptr) {
  IRMapping m;
  for (OpOperand *in : g.getDpsInputOperands()) {
    BlockArgument arg = g.getMatchingBlockArgument(in);
    if (arg.use_empty())
      continue;
    if (!isa<MemRefType>(in->get().getType())) {
      m.map(arg, in->get());
      continue;
    }
    m.map(arg, memref::LoadOp::create(b, loc, in->get(),
                                      applyMap(b, loc, g.getMatchingIndexingMap(in), iv)));
  }
  for (auto [k, init] : llvm::enumerate(g.getDpsInitsMutable()))
    if (k < outs.size() && outs[k])
      m.map(g.getMatchingBlockArgument(&init), outs[k]);
  for (Operation &op : g.getBody()->without_terminator()) {
    if (&op == skip)
      continue;
    if (auto idx = dyn_cast<linalg::IndexOp>(op)) {
      m.map(idx.getResult(), iv[idx.getDim()]);
      continue;
    }
    b.clone(op, m);
  }
  return m;
}

/// Emits `g` at the point `iv` (its parallel indices) at `b`: its outputs
/// loaded where the payload or a reduction reads them, its reductions as
/// loops over `sizes` in order (their indices set in `iv`), its results
/// stored.
void emitPoint(OpBuilder &b, Location loc, linalg::GenericOp g, SmallVectorImpl<Value> &iv,
               ArrayRef<Value> sizes) {
  SmallVector<unsigned> red;
  for (auto [d, it] : llvm::enumerate(g.getIteratorTypesArray()))
    if (it == utils::IteratorType::reduction)
      red.push_back(unsigned(d));
  Block *body = g.getBody();
  SmallVector<Value> accs;
  SmallVector<SmallVector<Value>> outIdx;
  for (OpOperand &init : g.getDpsInitsMutable()) {
    outIdx.push_back(applyMap(b, loc, g.getMatchingIndexingMap(&init), iv));
    if (g.payloadUsesValueFromOperand(&init) || !red.empty())
      accs.push_back(memref::LoadOp::create(b, loc, init.get(), outIdx.back()));
    else
      accs.push_back(Value());
  }
  auto emitBody = [&](OpBuilder &bb, ArrayRef<Value> cur) {
    IRMapping m = clonePayload(bb, loc, g, iv, cur);
    SmallVector<Value> next;
    for (Value y : body->getTerminator()->getOperands())
      next.push_back(m.lookupOrDefault(y));
    return next;
  };
  SmallVector<Value> result;
  if (red.empty()) {
    result = emitBody(b, accs);
  } else {
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    std::function<SmallVector<Value>(OpBuilder &, unsigned, ValueRange)> nest =
        [&](OpBuilder &bb, unsigned k, ValueRange cur) -> SmallVector<Value> {
      if (k == red.size())
        return emitBody(bb, SmallVector<Value>(cur));
      auto l = scf::ForOp::create(bb, loc, zero, sizes[red[k]], one, cur);
      OpBuilder ib = OpBuilder::atBlockBegin(l.getBody());
      iv[red[k]] = l.getInductionVar();
      SmallVector<Value> n = nest(ib, k + 1, l.getRegionIterArgs());
      scf::YieldOp::create(ib, loc, n);
      return SmallVector<Value>(l.getResults());
    };
    result = nest(b, 0, accs);
  }
  for (auto [k, init] : llvm::enumerate(g.getDpsInitsMutable()))
    memref::StoreOp::create(b, loc, result[k], init.get(), outIdx[k]);
}

/// Rewrites `g` as a loop over its parallel points, point p run by thread
/// p mod `threads`; the reductions of a point run in order in its thread.
/// With a static point count the loop runs a static number of rounds
/// (point k * threads + tid in round k, the last round guarded when the
/// threads do not divide the points): LLVM unrolls it, and the thread's
/// part of each index becomes loop-invariant (hoisted out of the chunk
/// loop) with constant offsets per round. Otherwise the loop strides from
/// tid by the block size `bdim`.
scf::ForOp distribute(linalg::GenericOp g, Value tid, Value bdim, int64_t threads,
                      bool staticRounds, LoopInfo &info) {
  OpBuilder b(g);
  Location loc = g.getLoc();
  SmallVector<Range> ranges = cast<linalg::LinalgOp>(g.getOperation()).createLoopRanges(b, loc);
  SmallVector<Value> sizes;
  for (Range &r : ranges)
    sizes.push_back(getValueOrCreateConstantIndexOp(b, loc, r.size));
  SmallVector<utils::IteratorType> its = g.getIteratorTypesArray();
  SmallVector<unsigned> par, red;
  for (unsigned d = 0; d < its.size(); ++d)
    (its[d] == utils::IteratorType::parallel ? par : red).push_back(d);
  int64_t staticTotal = 1;
  Value dynTotal;
  for (unsigned d : par) {
    if (std::optional<int64_t> c = getConstantIntValue(sizes[d]))
      staticTotal *= *c;
    else
      dynTotal = dynTotal ? arith::MulIOp::create(b, loc, dynTotal, sizes[d]) : sizes[d];
  }
  Value total = arith::ConstantIndexOp::create(b, loc, staticTotal);
  if (dynTotal)
    total = staticTotal == 1 ? dynTotal : arith::MulIOp::create(b, loc, dynTotal, total);
  scf::ForOp loop;
  Value point;
  if (!dynTotal && staticRounds) {
    int64_t rounds = (staticTotal + threads - 1) / threads;
    loop = scf::ForOp::create(b, loc, arith::ConstantIndexOp::create(b, loc, 0),
                              arith::ConstantIndexOp::create(b, loc, rounds),
                              arith::ConstantIndexOp::create(b, loc, 1));
    b.setInsertionPointToStart(loop.getBody());
    point = arith::AddIOp::create(
        b, loc,
        arith::MulIOp::create(b, loc, loop.getInductionVar(),
                              arith::ConstantIndexOp::create(b, loc, threads)),
        tid);
    if (staticTotal % threads) {
      Value in = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, point, total);
      auto guard = scf::IfOp::create(b, loc, in, /*withElseRegion=*/false);
      b.setInsertionPoint(guard.getThenRegion().front().getTerminator());
    }
  } else {
    loop = scf::ForOp::create(b, loc, tid, total, bdim);
    b.setInsertionPointToStart(loop.getBody());
    point = loop.getInductionVar();
  }
  loop->setAttr(kDistributed, b.getUnitAttr());
  SmallVector<Value> iv(its.size());
  Value rem = point;
  for (int k = int(par.size()) - 1; k >= 0; --k) {
    unsigned d = par[k];
    if (k == 0) {
      iv[d] = rem;
      break;
    }
    iv[d] = arith::RemUIOp::create(b, loc, rem, sizes[d]);
    rem = arith::DivUIOp::create(b, loc, rem, sizes[d]);
  }
  emitPoint(b, loc, g, iv, sizes);
  // Record which parallel dimension each access index is.
  DenseMap<Value, int> parPos;
  for (auto [k, d] : llvm::enumerate(par))
    parPos[iv[d]] = int(k);
  info.total = total;
  for (unsigned d : par)
    info.sizes.push_back(sizes[d]);
  recordSignatures(loop, info, parPos);
  g.erase();
  return loop;
}

/// Whether `g` suits a row-to-warp mapping on `warps` warps: elementwise
/// (no reductions) over static [R, C] points with C a multiple of 32
/// (lanes take columns) or C = 1, or over [R] (lane 0 takes the row), and
/// at least a row per warp.
bool suitsRows(linalg::GenericOp g, int64_t warps) {
  if (!warps || g.getNumReductionLoops() || g.getNumLoops() < 1 || g.getNumLoops() > 2)
    return false;
  SmallVector<int64_t> bounds = g.getStaticLoopRanges();
  if (llvm::any_of(bounds, ShapedType::isDynamic) || bounds[0] < warps)
    return false;
  return bounds.size() == 1 || bounds[1] == 1 || bounds[1] % 32 == 0;
}

/// Rewrites the elementwise `g` so that warp w runs rows w, w + W, ... and,
/// within a row, lane l columns l, l + 32, ... (or lane 0 the row's one
/// point): a row's elements stay in one warp, as in a split sum's rows, so
/// that row-wise steps (a layer norm's sums and scalings) need only warp
/// barriers between them.
scf::ForOp distributeRows(linalg::GenericOp g, Value warp, Value lane, int64_t warps,
                          LoopInfo &info) {
  OpBuilder b(g);
  Location loc = g.getLoc();
  auto c = [&](OpBuilder &bb, int64_t v) {
    return arith::ConstantIndexOp::create(bb, loc, v).getResult();
  };
  SmallVector<int64_t> bounds = g.getStaticLoopRanges();
  int64_t R = bounds[0], C = bounds.size() > 1 ? bounds[1] : 1;
  // Static trip counts (LLVM unrolls them): round i is row warp + i W,
  // round j of a row column lane + 32 j.
  auto loop = scf::ForOp::create(b, loc, c(b, 0), c(b, (R + warps - 1) / warps), c(b, 1));
  loop->setAttr(kDistributed, b.getUnitAttr());
  OpBuilder ib = OpBuilder::atBlockBegin(loop.getBody());
  Value row = arith::AddIOp::create(
      ib, loc, warp, arith::MulIOp::create(ib, loc, loop.getInductionVar(), c(ib, warps)));
  SmallVector<Value> iv = {row};
  bool lane0 = C == 1;
  Value cond;
  if (R % warps)
    cond = arith::CmpIOp::create(ib, loc, arith::CmpIPredicate::ult, row, c(ib, R));
  if (lane0) {
    Value first = arith::CmpIOp::create(ib, loc, arith::CmpIPredicate::eq, lane, c(ib, 0));
    cond = cond ? arith::AndIOp::create(ib, loc, cond, first).getResult() : first;
  }
  if (cond) {
    auto ifOp = scf::IfOp::create(ib, loc, cond, /*withElseRegion=*/false);
    ib.setInsertionPoint(ifOp.getThenRegion().front().getTerminator());
  }
  if (lane0) {
    if (bounds.size() > 1)
      iv.push_back(c(ib, 0));
  } else {
    auto cols = scf::ForOp::create(ib, loc, c(ib, 0), c(ib, C / 32), c(ib, 1));
    ib = OpBuilder::atBlockBegin(cols.getBody());
    iv.push_back(arith::AddIOp::create(
        ib, loc, lane, arith::MulIOp::create(ib, loc, cols.getInductionVar(), c(ib, 32))));
  }
  emitPoint(ib, loc, g, iv, {});
  info.total = c(b, R * C);
  info.sizes = {c(b, R), c(b, C)};
  info.warps = warps;
  DenseMap<Value, int> dim;
  for (auto [k, v] : llvm::enumerate(iv))
    if (!getConstantIntValue(v))
      dim[v] = int(k);
  recordSignatures(loop, info, dim, [&](Operation *) { return lane0; });
  g.erase();
  return loop;
}

/// For a sum over one reduction dimension with fewer points than threads
/// (row sums of a chunk: 16 points, 64+ terms): the summand, the operation
/// adding it to the output, and the group size G (a power of two, at most
/// 32, so a group stays in one warp): G consecutive threads share a point.
struct SplitSum {
  arith::AddFOp add;
  Value term;
  int64_t points, extent, group;
};

std::optional<SplitSum> matchSplitSum(linalg::GenericOp g, int64_t threads) {
  if (g.getNumDpsInits() != 1 || g.getNumReductionLoops() != 1 || threads % 32)
    return std::nullopt;
  SmallVector<int64_t> bounds = g.getStaticLoopRanges();
  if (llvm::any_of(bounds, ShapedType::isDynamic))
    return std::nullopt;
  int64_t points = 1, extent = 1;
  for (auto [d, it] : llvm::enumerate(g.getIteratorTypesArray()))
    (it == utils::IteratorType::parallel ? points : extent) *= bounds[d];
  int64_t group = 1;
  while (group < 32 && points * group * 2 <= threads && group * 2 <= extent)
    group *= 2;
  if (group < 4)
    return std::nullopt;
  Block *body = g.getBody();
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  auto add = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
  BlockArgument out = body->getArguments().back();
  if (!add || !add.getType().isF32() || add->getBlock() != body)
    return std::nullopt;
  Value term = add.getLhs() == out ? add.getRhs() : add.getRhs() == out ? add.getLhs() : Value();
  if (!term || out.getNumUses() != 1)
    return std::nullopt;
  // The output is not also an input (no in-place reduction).
  Value outRoot = rootOf(g.getDpsInits()[0]);
  for (Value in : g.getDpsInputs())
    if (isa<MemRefType>(in.getType()) && rootOf(in) == outRoot)
      return std::nullopt;
  return SplitSum{add, term, points, extent, group};
}

/// Rewrites the sum `g` so that G threads share each point: each adds every
/// G-th term, the partial sums meet through warp shuffles (butterfly), and
/// the group's first thread adds the total to the output. All threads run
/// the same number of rounds (the shuffles need the whole warp).
scf::ForOp distributeSplitSum(linalg::GenericOp g, SplitSum s, Value tid,
                              int64_t threads, LoopInfo &info) {
  OpBuilder b(g);
  Location loc = g.getLoc();
  auto c = [&](int64_t v) { return arith::ConstantIndexOp::create(b, loc, v).getResult(); };
  SmallVector<int64_t> bounds = g.getStaticLoopRanges();
  SmallVector<utils::IteratorType> its = g.getIteratorTypesArray();
  int64_t perRound = threads / s.group;
  int64_t rounds = (s.points + perRound - 1) / perRound;
  Value lane = arith::RemUIOp::create(b, loc, tid, c(s.group));
  Value slot = arith::DivUIOp::create(b, loc, tid, c(s.group));
  auto loop = scf::ForOp::create(b, loc, c(0), c(rounds), c(1));
  b.setInsertionPointToStart(loop.getBody());
  Value p = arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, loop.getInductionVar(), c(perRound)), slot);
  Value active = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, p, c(s.points));
  // Threads past the last point compute on point 0 (in-bounds reads) and
  // drop the result.
  Value pc = arith::SelectOp::create(b, loc, active, p, c(0));
  SmallVector<Value> iv(its.size());
  unsigned redDim = 0;
  Value rem = pc;
  for (int d = int(its.size()) - 1; d >= 0; --d) {
    if (its[d] != utils::IteratorType::parallel) {
      redDim = d;
      continue;
    }
    bool outermost = llvm::none_of(llvm::seq<int>(0, d), [&](int e) {
      return its[e] == utils::IteratorType::parallel;
    });
    if (outermost) {
      iv[d] = rem;
      continue;
    }
    iv[d] = arith::RemUIOp::create(b, loc, rem, c(bounds[d]));
    rem = arith::DivUIOp::create(b, loc, rem, c(bounds[d]));
  }
  Value zero = arith::ConstantFloatOp::create(b, loc, b.getF32Type(), APFloat(0.0f));
  auto red = scf::ForOp::create(b, loc, lane, c(s.extent), c(s.group), ValueRange{zero});
  {
    OpBuilder rb = OpBuilder::atBlockBegin(red.getBody());
    iv[redDim] = red.getInductionVar();
    IRMapping m = clonePayload(rb, loc, g, iv, {}, s.add);
    Value acc = arith::AddFOp::create(rb, loc, red.getRegionIterArgs()[0], m.lookup(s.term));
    scf::YieldOp::create(rb, loc, acc);
  }
  Value sum = red.getResult(0);
  Value width = arith::ConstantIntOp::create(b, loc, b.getI32Type(), 32);
  for (int64_t off = s.group / 2; off >= 1; off /= 2) {
    Value o = arith::ConstantIntOp::create(b, loc, b.getI32Type(), off);
    Value other =
        gpu::ShuffleOp::create(b, loc, sum, o, width, gpu::ShuffleMode::XOR).getShuffleResult();
    sum = arith::AddFOp::create(b, loc, sum, other);
  }
  Value first = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, c(0));
  Value writes = arith::AndIOp::create(b, loc, active, first);
  auto ifOp = scf::IfOp::create(b, loc, writes, /*withElseRegion=*/false);
  {
    OpBuilder ib = OpBuilder::atBlockBegin(&ifOp.getThenRegion().front());
    OpOperand &init = g.getDpsInitsMutable()[0];
    SmallVector<Value> idx = applyMap(ib, loc, g.getMatchingIndexingMap(&init), iv);
    Value old = memref::LoadOp::create(ib, loc, init.get(), idx);
    memref::StoreOp::create(ib, loc, arith::AddFOp::create(ib, loc, old, sum), init.get(), idx);
  }
  // With whole warps per point and every round full, point p is warp
  // p mod W's, its term t lane t mod 32's, its output lane 0's: recorded
  // for the row-to-warp barrier rules (one parallel dimension of extent
  // above 1, the row; any other of extent 1).
  int64_t warps = threads / 32;
  std::optional<unsigned> rowDim;
  bool oneRowDim = true;
  for (unsigned d = 0; d < its.size(); ++d)
    if (its[d] == utils::IteratorType::parallel && bounds[d] > 1) {
      oneRowDim &= !rowDim;
      rowDim = d;
    }
  if (s.group == 32 && s.points % warps == 0 && rowDim && oneRowDim) {
    unsigned parDim = *rowDim;
    b.setInsertionPoint(loop);
    info.total = c(s.points * s.extent);
    info.sizes = {c(s.points), c(s.extent)};
    info.warps = warps;
    DenseMap<Value, int> dim = {{iv[parDim], 0}, {iv[redDim], 1}};
    recordSignatures(loop, info, dim, [&](Operation *op) { return ifOp->isAncestor(op); });
  }
  g.erase();
  return loop;
}

/// Whether `g` is C[M,N] += A[M,K] B[K,N] in f32 on static buffers whose
/// extents tile by the m16n8k8 tensor-core shape.
bool isTensorCoreMatmul(linalg::GenericOp g) {
  if (g.getNumDpsInputs() != 2 || g.getNumDpsInits() != 1 || g.getNumLoops() != 3)
    return false;
  MLIRContext *ctx = g.getContext();
  AffineExpr d0, d1, d2;
  bindDims(ctx, d0, d1, d2);
  auto maps = g.getIndexingMapsArray();
  if (maps[0] != AffineMap::get(3, 0, {d0, d1}, ctx) ||
      maps[1] != AffineMap::get(3, 0, {d1, d2}, ctx) ||
      maps[2] != AffineMap::get(3, 0, {d0, d2}, ctx))
    return false;
  auto its = g.getIteratorTypesArray();
  if (its[0] != utils::IteratorType::parallel || its[1] != utils::IteratorType::reduction ||
      its[2] != utils::IteratorType::parallel)
    return false;
  for (Value v : g->getOperands()) {
    auto t = dyn_cast<MemRefType>(v.getType());
    if (!t || !t.hasStaticShape() || !t.getElementType().isF32())
      return false;
  }
  auto a = cast<MemRefType>(g->getOperand(0).getType());
  auto b = cast<MemRefType>(g->getOperand(1).getType());
  int64_t M = a.getDimSize(0), K = a.getDimSize(1), N = b.getDimSize(1);
  if (M % 16 || K % 8 || N % 8)
    return false;
  // Body: out + in0 * in1.
  Block *body = g.getBody();
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  auto add = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
  if (!add || body->getOperations().size() != 3)
    return false;
  Value out = body->getArgument(2);
  Value prod = add.getLhs() == out ? add.getRhs() : add.getRhs() == out ? add.getLhs() : Value();
  auto mul = prod ? prod.getDefiningOp<arith::MulFOp>() : arith::MulFOp();
  if (!mul)
    return false;
  Value x = body->getArgument(0), y = body->getArgument(1);
  return (mul.getLhs() == x && mul.getRhs() == y) || (mul.getLhs() == y && mul.getRhs() == x);
}

/// A tensor-core matmul's warp tasks for C[M, N]: strips of R adjacent
/// m16n8 tiles (R the largest divisor of N / 8 at most `nTiles`; with
/// `nTiles` 0, the largest power of two up to 4 that leaves at least one
/// task per warp of `warps`).
int64_t tensorCoreTasks(int64_t M, int64_t N, int64_t nTiles, int64_t warps,
                        int64_t *R = nullptr) {
  int64_t tilesN = N / 8;
  if (nTiles == 0) {
    nTiles = 1;
    while (nTiles < 4 && tilesN % (nTiles * 2) == 0 && (M / 16) * (tilesN / (nTiles * 2)) >= warps)
      nTiles *= 2;
  }
  int64_t r = std::max<int64_t>(1, std::min(nTiles, tilesN));
  while (tilesN % r)
    --r;
  if (R)
    *R = r;
  return (M / 16) * (tilesN / r);
}

/// Rewrites the matmul `g` for tensor cores: each warp takes strips of
/// `nTiles` adjacent m16n8 tiles of C in turn (fewer where they do not
/// divide C's columns) and accumulates over K with `nvgpu.mma.sync` (m16n8k8,
/// tf32); a strip's tiles share the A fragments of each k step. With
/// `precision` "tf32x3", f32 accuracy comes from splitting each operand x
/// into a tf32 part hi and the rest lo (lo*hi + hi*lo + hi*hi); "tf32"
/// rounds each operand to the nearest tf32 value and takes one product
/// (about 3 significant digits); "tf32-rz" passes the f32 operands as they
/// are (the tensor cores read their top 19 bits: rounded toward zero).
/// Fragments follow the PTX layout of mma.m16n8k8 (lane = 4 g + t): A rows g, g+8 at columns t, t+4;
/// B rows t, t+4 at column g; C rows g, g+8 at columns 2t, 2t+1.
/// With `rotate`, tasks go to warps round-robin from warp `firstWarp` (task
/// t to warp (firstWarp + t) mod W), which advances past each matmul's
/// tasks: consecutive matmuls with fewer tasks than warps (in one barrier
/// phase) then run on different warps instead of all on the first ones.
/// With `kSplit` S > 1 (split-K), there are S tasks per strip, task s
/// summing k steps [s K / S, (s + 1) K / S): the first into C, the others
/// from zero into `partials`[s - 1] (an [S - 1, M, N] buffer), which a
/// later step adds to C.
/// `badFragment` (tests) swaps two A fragment registers.
scf::ForOp distributeTensorCore(linalg::GenericOp g, Value tid, int64_t threads,
                                int64_t chains, StringRef precision, int64_t nTiles,
                                int64_t &firstWarp, bool rotate, int64_t kSplit,
                                Value partials, bool badFragment) {
  OpBuilder b(g);
  Location loc = g.getLoc();
  Value A = g->getOperand(0), Bm = g->getOperand(1), Cm = g->getOperand(2);
  int64_t M = cast<MemRefType>(A.getType()).getDimSize(0);
  int64_t K = cast<MemRefType>(A.getType()).getDimSize(1);
  int64_t N = cast<MemRefType>(Bm.getType()).getDimSize(1);
  auto c = [&](int64_t v) { return arith::ConstantIndexOp::create(b, loc, v).getResult(); };
  Value lane = arith::RemUIOp::create(b, loc, tid, c(32));
  Value warp = arith::DivUIOp::create(b, loc, tid, c(32));
  Value gq = arith::DivUIOp::create(b, loc, lane, c(4));
  Value tq = arith::RemUIOp::create(b, loc, lane, c(4));
  // A warp's task: R adjacent m16n8 tiles of one row of tiles, which share
  // the A fragments (loaded and split once per k step for all R), over the
  // k steps of its split.
  int64_t R;
  int64_t stripTasks = tensorCoreTasks(M, N, nTiles, threads / 32, &R);
  int64_t strips = N / 8 / R;
  int64_t warps = threads / 32, tasks = stripTasks * kSplit;
  Value first = warp;
  if (int64_t off = firstWarp % warps; off && rotate) {
    Value w = arith::AddIOp::create(b, loc, warp, c(warps - off));
    first = llvm::isPowerOf2_64(warps)
                ? arith::AndIOp::create(b, loc, w, c(warps - 1)).getResult()
                : arith::RemUIOp::create(b, loc, w, c(warps)).getResult();
  }
  firstWarp = (firstWarp + tasks) % warps;
  auto loop = scf::ForOp::create(b, loc, first, c(tasks), c(warps));
  b.setInsertionPointToStart(loop.getBody());
  Value task = loop.getInductionVar(), split, kLo = c(0), kHi = c(K);
  if (kSplit > 1) {
    split = arith::DivUIOp::create(b, loc, task, c(stripTasks));
    task = arith::RemUIOp::create(b, loc, task, c(stripTasks));
    kLo = arith::MulIOp::create(b, loc, split, c(K / kSplit));
    kHi = arith::AddIOp::create(b, loc, kLo, c(K / kSplit));
  }
  Value tm = arith::DivUIOp::create(b, loc, task, c(strips));
  Value tn0 = arith::MulIOp::create(b, loc, arith::RemUIOp::create(b, loc, task, c(strips)), c(R));
  Value r0 = arith::AddIOp::create(b, loc, arith::MulIOp::create(b, loc, tm, c(16)), gq);
  Value r1 = arith::AddIOp::create(b, loc, r0, c(8));
  SmallVector<Value> col0s, col1s, bns;
  for (int64_t r = 0; r < R; ++r) {
    Value n8 = arith::MulIOp::create(b, loc, arith::AddIOp::create(b, loc, tn0, c(r)), c(8));
    Value col0 = arith::AddIOp::create(b, loc, n8, arith::MulIOp::create(b, loc, tq, c(2)));
    col0s.push_back(col0);
    col1s.push_back(arith::AddIOp::create(b, loc, col0, c(1)));
    bns.push_back(arith::AddIOp::create(b, loc, n8, gq));
  }
  auto f32 = b.getF32Type();
  auto ld = [&](OpBuilder &bb, Value m, Value i, Value j) {
    return memref::LoadOp::create(bb, loc, m, ValueRange{i, j}).getResult();
  };
  auto cT = VectorType::get({2, 2}, f32);
  // Accumulators, `chains` per tile: the sum so far, and with chains > 1
  // separate ones for the correction products (zero at first, added at the
  // end), so that consecutive mma.sync ops do not all wait on one another.
  SmallVector<Value> inits;
  auto zeros = [&](OpBuilder &bb) {
    return arith::ConstantOp::create(bb, loc, cT, DenseElementsAttr::get(cT, 0.0f)).getResult();
  };
  // Split-K: only the first split starts from C (the others must not read
  // it: the first split's warp writes it in the same phase).
  Value first0 = kSplit > 1 ? arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, split,
                                                    c(0))
                                  .getResult()
                            : Value();
  for (int64_t r = 0; r < R; ++r) {
    auto loadC = [&](OpBuilder &bb) {
      return vector::FromElementsOp::create(
                 bb, loc, cT,
                 ValueRange{ld(bb, Cm, r0, col0s[r]), ld(bb, Cm, r0, col1s[r]),
                            ld(bb, Cm, r1, col0s[r]), ld(bb, Cm, r1, col1s[r])})
          .getResult();
    };
    if (first0) {
      auto ifOp = scf::IfOp::create(
          b, loc, first0,
          [&](OpBuilder &bb, Location l) { scf::YieldOp::create(bb, l, loadC(bb)); },
          [&](OpBuilder &bb, Location l) { scf::YieldOp::create(bb, l, zeros(bb)); });
      inits.push_back(ifOp.getResult(0));
    } else {
      inits.push_back(loadC(b));
    }
    if (chains > 1)
      inits.append(chains - 1, zeros(b));
  }
  auto kLoop = scf::ForOp::create(b, loc, kLo, kHi, c(8), inits);
  {
    OpBuilder kb = OpBuilder::atBlockBegin(kLoop.getBody());
    Value kk = kLoop.getInductionVar();
    Value ka = arith::AddIOp::create(kb, loc, kk, tq);
    Value kb4 = arith::AddIOp::create(kb, loc, ka, arith::ConstantIndexOp::create(kb, loc, 4));
    SmallVector<Value> a = {ld(kb, A, r0, ka), ld(kb, A, r1, ka), ld(kb, A, r0, kb4),
                            ld(kb, A, r1, kb4)};
    if (badFragment)
      std::swap(a[1], a[2]);
    auto i32 = kb.getI32Type();
    // 3xTF32: hi is x with its low 13 mantissa bits cleared (a tf32 value),
    // lo = x - hi.
    auto split = [&](ArrayRef<Value> xs, SmallVector<Value> &his, SmallVector<Value> &los) {
      for (Value x : xs) {
        Value bits = arith::BitcastOp::create(kb, loc, i32, x);
        Value mask = arith::ConstantIntOp::create(kb, loc, i32, int64_t(0xffffe000));
        Value hi = arith::BitcastOp::create(kb, loc, f32, arith::AndIOp::create(kb, loc, bits, mask));
        his.push_back(hi);
        los.push_back(arith::SubFOp::create(kb, loc, x, hi));
      }
    };
    // tf32: rounded to the nearest (ties away, as cvt.rna.tf32.f32, which
    // ptxas expands to more instructions); tf32-rz: as they are (the
    // tensor cores drop the low bits).
    auto toTF32 = [&](SmallVector<Value> xs) {
      if (precision == "tf32")
        for (Value &x : xs) {
          Value bits = arith::BitcastOp::create(kb, loc, i32, x);
          Value half = arith::ConstantIntOp::create(kb, loc, i32, int64_t(0x1000));
          Value mask = arith::ConstantIntOp::create(kb, loc, i32, int64_t(0xffffe000));
          Value up = arith::AddIOp::create(kb, loc, bits, half);
          x = arith::BitcastOp::create(kb, loc, f32, arith::AndIOp::create(kb, loc, up, mask));
        }
      return xs;
    };
    auto aT = VectorType::get({4, 1}, f32), bT = VectorType::get({2, 1}, f32);
    auto vec = [&](VectorType t, ArrayRef<Value> xs) {
      return vector::FromElementsOp::create(kb, loc, t, xs).getResult();
    };
    auto mma = [&](Value av, Value bvv, Value cv) {
      return nvgpu::MmaSyncOp::create(kb, loc, av, bvv, cv, ArrayRef<int64_t>{16, 8, 8},
                                      /*tf32Enabled=*/true)
          .getResult();
    };
    bool three = precision == "tf32x3";
    SmallVector<Value> aHi, aLo, aOne;
    if (three)
      split(a, aHi, aLo);
    else
      aOne = toTF32(a);
    ValueRange args = kLoop.getRegionIterArgs();
    SmallVector<Value> out;
    for (int64_t r = 0; r < R; ++r) {
      ValueRange in = args.slice(r * chains, chains);
      SmallVector<Value> bv = {ld(kb, Bm, ka, bns[r]), ld(kb, Bm, kb4, bns[r])};
      if (!three) {
        out.push_back(mma(vec(aT, aOne), vec(bT, toTF32(bv)), in[0]));
        continue;
      }
      SmallVector<Value> bHi, bLo;
      split(bv, bHi, bLo);
      if (chains == 1) {
        Value cur = mma(vec(aT, aLo), vec(bT, bHi), in[0]);
        cur = mma(vec(aT, aHi), vec(bT, bLo), cur);
        out.push_back(mma(vec(aT, aHi), vec(bT, bHi), cur));
      } else if (chains == 2) {
        Value lo = mma(vec(aT, aLo), vec(bT, bHi), in[1]);
        out.push_back(mma(vec(aT, aHi), vec(bT, bHi), in[0]));
        out.push_back(mma(vec(aT, aHi), vec(bT, bLo), lo));
      } else {
        out.push_back(mma(vec(aT, aHi), vec(bT, bHi), in[0]));
        out.push_back(mma(vec(aT, aLo), vec(bT, bHi), in[1]));
        out.push_back(mma(vec(aT, aHi), vec(bT, bLo), in[2]));
      }
    }
    scf::YieldOp::create(kb, loc, out);
  }
  SmallVector<Value> results;
  SmallVector<std::pair<Value, Value>> where;
  for (int64_t r = 0; r < R; ++r) {
    Value rows[2] = {r0, r1}, cols[2] = {col0s[r], col1s[r]};
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) {
        auto at = [&](int64_t k) {
          return vector::ExtractOp::create(b, loc, kLoop.getResult(r * chains + k),
                                           ArrayRef<int64_t>{i, j})
              .getResult();
        };
        // The (small) corrections summed first, then added to the sum.
        Value corr;
        for (int64_t k = 1; k < chains; ++k)
          corr = corr ? arith::AddFOp::create(b, loc, corr, at(k)).getResult() : at(k);
        Value e = at(0);
        if (corr)
          e = arith::AddFOp::create(b, loc, e, corr);
        results.push_back(e);
        where.push_back({rows[i], cols[j]});
      }
  }
  auto storeAll = [&](OpBuilder &bb, Value m, Value part) {
    for (auto [e, rc] : llvm::zip(results, where)) {
      SmallVector<Value> idx = {rc.first, rc.second};
      if (part)
        idx.insert(idx.begin(), part);
      memref::StoreOp::create(bb, loc, e, m, idx);
    }
  };
  if (!first0) {
    storeAll(b, Cm, Value());
  } else {
    scf::IfOp::create(
        b, loc, first0,
        [&](OpBuilder &bb, Location l) {
          storeAll(bb, Cm, Value());
          scf::YieldOp::create(bb, l);
        },
        [&](OpBuilder &bb, Location l) {
          Value part = arith::SubIOp::create(bb, l, split,
                                             arith::ConstantIndexOp::create(bb, l, 1));
          storeAll(bb, partials, part);
          scf::YieldOp::create(bb, l);
        });
  }
  g.erase();
  return loop;
}

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

struct Distributor {
  explicit Distributor(gpu::LaunchOp launch) : launch(launch) {}
  gpu::LaunchOp launch;
  DenseMap<Operation *, LoopInfo> loops; // distributed loops
  /// Byte range of each shared buffer (buffers may share bytes).
  DenseMap<Value, std::pair<int64_t, int64_t>> extent;

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

  bool isRelevant(Value memref) {
    Space s = spaceOf(rootOf(memref), launch);
    return s == Space::Shared || s == Space::Global;
  }

  /// The shared and global accesses of `op` (and of the ops inside it).
  SmallVector<Access> accessesOf(Operation *op) {
    SmallVector<Access> acc;
    const LoopInfo *info = nullptr;
    if (auto it = loops.find(op); it != loops.end())
      info = &it->second;
    auto add = [&](Operation *o, Value m, bool write) {
      if (!isa<MemRefType>(m.getType()) || !isRelevant(m))
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

int64_t bufferBytes(MemRefType t) {
  int64_t n = t.getNumElements() * ((t.getElementTypeBitWidth() + 7) / 8);
  return (n + 15) / 16 * 16;
}

/// Every op using `v` or a view of it.
void collectUsers(Value v, SmallVectorImpl<Operation *> &users) {
  for (Operation *u : v.getUsers()) {
    users.push_back(u);
    if (auto view = dyn_cast<ViewLikeOpInterface>(u); view && view.getViewSource() == v)
      for (Value r : u->getResults())
        collectUsers(r, users);
  }
}

/// Whether `op` overwrites all of `buf` without reading it.
bool overwritesAll(Operation *op, Value buf) {
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

/// A buffer's live range in program order and its size.
struct Live {
  int64_t begin, end, size;
  bool wholeProgram() const { return begin == 0; }
};

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

struct TTTDistributeToThreadsPass
    : ttt::impl::TTTDistributeToThreadsBase<TTTDistributeToThreadsPass> {
  using Base::Base;

  /// Split-K (mma-k-split): a tensor-core matmul with fewer warp tasks than
  /// half the warps and at least 4 k steps spreads its k steps over S
  /// times as many tasks (S a power of two, at least 2 k steps each), where
  /// the buffers, its [S - 1, M, N] partial sums included, still fit apart
  /// in the shared memory of the target occupancy. The partial sums are
  /// added to C by an elementwise step right after it (marked
  /// ttt.k_split_sum; the matmul ttt.k_split = S), a barrier between.
  void splitK(gpu::LaunchOp launch) {
    Block &entry = launch.getBody().front();
    int64_t warps = threads / 32, bytes = 0;
    for (Operation &op : entry)
      if (auto a = dyn_cast<memref::AllocaOp>(op); a && a.getType().hasStaticShape())
        bytes += bufferBytes(a.getType());
    int64_t budget = std::min<int64_t>(occupancyKB, sharedKB) * 1024;
    SmallVector<linalg::GenericOp> mms;
    launch.walk([&](linalg::GenericOp g) {
      if (isTensorCoreMatmul(g))
        mms.push_back(g);
    });
    for (linalg::GenericOp g : mms) {
      auto ct = cast<MemRefType>(g.getDpsInits()[0].getType());
      int64_t M = ct.getDimSize(0), N = ct.getDimSize(1);
      int64_t K = cast<MemRefType>(g.getDpsInputs()[0].getType()).getDimSize(1);
      int64_t tasks = tensorCoreTasks(M, N, mmaNTiles, warps), S = 1;
      while (tasks * S * 2 <= warps && S * 2 <= K / 16)
        S *= 2;
      int64_t partBytes = (S - 1) * M * N * 4;
      if (S == 1 || bytes + partBytes > budget)
        continue;
      bytes += partBytes;
      Location loc = g.getLoc();
      OpBuilder eb = OpBuilder::atBlockBegin(&entry);
      auto f32 = eb.getF32Type();
      Value P = memref::AllocaOp::create(eb, loc, MemRefType::get({S - 1, M, N}, f32));
      OpBuilder b(g); // the partial sums' views before the matmul, their sum after
      SmallVector<Value> parts;
      for (int64_t s = 1; s < S; ++s) {
        SmallVector<OpFoldResult> offs = {b.getIndexAttr(s - 1), b.getIndexAttr(0),
                                          b.getIndexAttr(0)},
                                  sizes = {b.getIndexAttr(1), b.getIndexAttr(M),
                                           b.getIndexAttr(N)},
                                  ones(3, b.getIndexAttr(1));
        auto t = memref::SubViewOp::inferRankReducedResultType(
            {M, N}, cast<MemRefType>(P.getType()), offs, sizes, ones);
        parts.push_back(memref::SubViewOp::create(b, loc, t, P, offs, sizes, ones));
      }
      AffineMap id = b.getMultiDimIdentityMap(2);
      b.setInsertionPointAfter(g);
      auto sum = linalg::GenericOp::create(
          b, loc, parts, g.getDpsInits(), SmallVector<AffineMap>(parts.size() + 1, id),
          SmallVector<utils::IteratorType>(2, utils::IteratorType::parallel),
          [&](OpBuilder &bb, Location l, ValueRange args) {
            Value acc = args.back();
            for (Value p : args.drop_back())
              acc = arith::AddFOp::create(bb, l, acc, p);
            linalg::YieldOp::create(bb, l, acc);
          });
      sum->setAttr("ttt.k_split_sum", b.getUnitAttr());
      g->setAttr("ttt.k_split", b.getI64IntegerAttr(S));
    }
  }

  LogicalResult run(gpu::LaunchOp launch) {
    Block &entry = launch.getBody().front();
    if (mmaKSplit && tensorCores && threads % 32 == 0)
      splitK(launch);
    // Buffers of the program that can be shared by its threads, packed into
    // one allocation: buffers never live at the same time share bytes.
    SmallVector<memref::AllocaOp> shared;
    for (Operation &op : entry)
      if (auto a = dyn_cast<memref::AllocaOp>(op))
        if (a.getType().hasStaticShape() && onlyAccessed(a))
          shared.push_back(a);
    // Shared memory holds what fits (states first, then the smaller buffers);
    // the rest lives in a global scratch buffer, one slice per program.
    // Rows padded against bank conflicts where every use indexes the buffer.
    SmallVector<int64_t> pads, sizes;
    for (memref::AllocaOp a : shared) {
      pads.push_back(padRows ? rowPadding(a) : 0);
      sizes.push_back(bufferBytes(paddedType(a.getType(), pads.back(), {})));
    }
    // Buffers that share bytes in turn make barriers: a buffer written where
    // another one was just read by other threads must wait for them. Where
    // all of them fit apart within the shared memory that keeps the target
    // occupancy (`occupancy-kb`), none shares bytes.
    int64_t all = 0;
    for (int64_t n : sizes)
      all += n;
    SmallVector<Live> live;
    if (all <= std::min(occupancyKB, sharedKB) * 1024)
      for (int64_t n : sizes)
        live.push_back({0, std::numeric_limits<int64_t>::max(), n});
    else
      live = liveRanges(launch, shared, sizes);
    SmallVector<unsigned> order;
    for (unsigned i = 0; i < shared.size(); ++i)
      order.push_back(i);
    llvm::stable_sort(order, [&](unsigned x, unsigned y) {
      if (live[x].wholeProgram() != live[y].wholeProgram())
        return live[x].wholeProgram();
      return live[x].size < live[y].size;
    });
    int64_t budget = int64_t(sharedKB) * 1024;
    SmallVector<unsigned> inShared, inScratch;
    SmallVector<int64_t> smemOffsets, scratchOffsets, trial;
    int64_t bytes = 0;
    for (unsigned i : order) {
      inShared.push_back(i);
      int64_t total = pack(live, inShared, trial);
      if (total <= budget) {
        bytes = total;
        continue;
      }
      inShared.pop_back();
      inScratch.push_back(i);
    }
    pack(live, inShared, smemOffsets);
    int64_t scratchBytes = inScratch.empty() ? 0 : pack(live, inScratch, scratchOffsets);
    scratchBytes = (scratchBytes + 255) / 256 * 256;
    if (scratchBytes)
      launch.emitRemark("shared memory (")
          << budget / 1024 << " KB) holds " << inShared.size() << " of the program's "
          << shared.size() << " buffers; the other " << inScratch.size() << " ("
          << (scratchBytes + 1023) / 1024
          << " KB per program) live in global scratch memory (slower)";

    OpBuilder hb(launch);
    Location loc = launch.getLoc();
    Value nthreads = arith::ConstantIndexOp::create(hb, loc, threads);
    launch.getBlockSizeXMutable().assign(nthreads);
    if (bytes) {
      Value smemBytes = arith::ConstantIntOp::create(hb, loc, hb.getI32Type(), bytes);
      launch.getDynamicSharedMemorySizeMutable().assign(smemBytes);
    }
    Value scratch;
    if (scratchBytes) {
      // One slice per program (batch, head, column block).
      gpu::KernelDim3 grid = launch.getGridSizeOperandValues();
      Value n = arith::MulIOp::create(hb, loc, grid.x, grid.y);
      n = arith::MulIOp::create(hb, loc, n, grid.z);
      n = arith::MulIOp::create(hb, loc, n,
                                arith::ConstantIndexOp::create(hb, loc, scratchBytes));
      scratch = memref::AllocOp::create(hb, loc,
                                        MemRefType::get({ShapedType::kDynamic}, hb.getI8Type()),
                                        ValueRange{n}, hb.getI64IntegerAttr(256));
      // Bytes per program, for the launch runtime.
      scratch.getDefiningOp()->setAttr("ttt.scratch", hb.getI64IntegerAttr(scratchBytes));
    }

    auto ws = gpu::AddressSpaceAttr::get(launch.getContext(), gpu::AddressSpace::Workgroup);
    OpBuilder b = OpBuilder::atBlockBegin(&entry);
    Value smem, base;
    if (bytes) {
      auto smemType = MemRefType::get({ShapedType::kDynamic}, b.getI8Type(),
                                      MemRefLayoutAttrInterface(), ws);
      smem = gpu::DynamicSharedMemoryOp::create(b, loc, smemType);
    }
    if (scratch) {
      gpu::KernelDim3 bid = launch.getBlockIds(), gsz = launch.getGridSize();
      Value prog = arith::AddIOp::create(b, loc, arith::MulIOp::create(b, loc, bid.x, gsz.y),
                                         bid.y);
      prog = arith::AddIOp::create(b, loc, arith::MulIOp::create(b, loc, prog, gsz.z), bid.z);
      base = arith::MulIOp::create(b, loc, prog,
                                   arith::ConstantIndexOp::create(b, loc, scratchBytes));
    }
    Distributor dist(launch);
    for (auto [i, a] : llvm::enumerate(shared)) {
      b.setInsertionPoint(a);
      MemRefType t = a.getType();
      bool inSmem = smemOffsets[i] >= 0;
      Value view;
      if (inSmem) {
        MemRefType vt = paddedType(t, pads[i], ws);
        Value off = arith::ConstantIndexOp::create(b, loc, smemOffsets[i]);
        view = memref::ViewOp::create(b, a.getLoc(), vt, smem, off, ValueRange{});
        dist.extent[view] = {smemOffsets[i], sizes[i]};
      } else {
        MemRefType vt = paddedType(t, pads[i], {});
        Value off = arith::AddIOp::create(
            b, loc, base, arith::ConstantIndexOp::create(b, loc, scratchOffsets[i]));
        view = memref::ViewOp::create(b, a.getLoc(), vt, scratch, off, ValueRange{});
        // Scratch and shared memory never alias.
        dist.extent[view] = {(int64_t(1) << 40) + scratchOffsets[i], sizes[i]};
      }
      Value whole = view;
      if (pads[i]) {
        // The buffer's elements within its padded rows.
        SmallVector<OpFoldResult> zero(t.getRank(), b.getIndexAttr(0)),
            one(t.getRank(), b.getIndexAttr(1)), shape;
        for (int64_t d : t.getShape())
          shape.push_back(b.getIndexAttr(d));
        whole = memref::SubViewOp::create(b, a.getLoc(), view, zero, shape, one);
      }
      replaceRelayout(a.getResult(), whole);
      a.erase();
      if (inSmem)
        moveToWorkgroup(whole, ws);
    }

    // Linalg ops writing shared or global buffers run on all threads.
    SmallVector<linalg::LinalgOp> ops;
    launch.getBody().walk([&](linalg::LinalgOp op) {
      bool all = true;
      for (Value init : op.getDpsInits())
        all &= dist.isRelevant(init);
      if (all && op.hasPureBufferSemantics())
        ops.push_back(op);
    });
    if (fault == "drop-fill") {
      // The chunk loop's first fill of a shared buffer: its elements are
      // then read as whatever shared memory held.
      auto victim = llvm::find_if(ops, [&](linalg::LinalgOp op) {
        if (!isa<linalg::FillOp>(op) || !op->getParentOfType<scf::ForOp>())
          return false;
        auto t = cast<MemRefType>(op.getDpsInits()[0].getType());
        auto as = dyn_cast_or_null<gpu::AddressSpaceAttr>(t.getMemorySpace());
        return as && as.getValue() == gpu::AddressSpace::Workgroup;
      });
      if (victim != ops.end()) {
        victim->erase();
        ops.erase(victim);
      }
    }
    Value tid = launch.getThreadIds().x;
    Value bdim = launch.getBlockSize().x;
    // A thread's warp and lane, shared by the row-to-warp loops (one value
    // each, so that loops over the same rows can fuse).
    Value warp, lane;
    if (rowWarps && threads % 32 == 0) {
      OpBuilder wb = OpBuilder::atBlockBegin(&entry);
      Value w = arith::ConstantIndexOp::create(wb, loc, 32);
      warp = arith::DivUIOp::create(wb, loc, tid, w);
      lane = arith::RemUIOp::create(wb, loc, tid, w);
    }
    int64_t firstWarp = 0; // of the next tensor-core matmul's tasks
    for (linalg::LinalgOp op : ops) {
      IRRewriter rw(op.getContext());
      linalg::GenericOp g = dyn_cast<linalg::GenericOp>(op.getOperation());
      if (!g) {
        rw.setInsertionPoint(op);
        FailureOr<linalg::GenericOp> gen = linalg::generalizeNamedOp(rw, op);
        if (failed(gen))
          return op.emitError("ttt-distribute-to-threads: cannot generalize this op");
        g = *gen;
      }
      LoopInfo info;
      scf::ForOp loop;
      // Matmuls on tensor cores when whole warps run the program; their
      // accesses follow the fragment layout (no same-thread elision).
      if (tensorCores && threads % 32 == 0 && isTensorCoreMatmul(g)) {
        int64_t S = 1;
        Value partials;
        if (auto a = g->getAttrOfType<IntegerAttr>("ttt.k_split")) {
          // The partial sums: the buffer the next op (their sum) reads.
          auto sum = dyn_cast_or_null<linalg::GenericOp>(g->getNextNode());
          if (!sum || !sum->hasAttr("ttt.k_split_sum"))
            return g.emitError("ttt-distribute-to-threads: split-K matmul without its sum");
          S = a.getInt();
          partials = sum.getDpsInputs()[0].getDefiningOp<memref::SubViewOp>().getSource();
        }
        loop = distributeTensorCore(g, tid, threads, mmaChains, mmaPrecision, mmaNTiles,
                                    firstWarp, warpRotate, S, partials,
                                    fault == "bad-fragment");
      }
      else if (std::optional<SplitSum> s = matchSplitSum(g, threads))
        loop = distributeSplitSum(g, *s, tid, threads, info);
      else if (rowWarps && threads % 32 == 0 && suitsRows(g, threads / 32))
        loop = distributeRows(g, warp, lane, threads / 32, info);
      else
        loop = distribute(g, tid, bdim, threads, staticRounds, info);
      dist.loops[loop] = std::move(info);
    }
    Distributor::State st;
    dist.insertBarriers(entry, st);
    fuseAdjacentLoops(launch, dist);

    if (fault == "drop-warp-sync") {
      // The first warp barrier inside the chunk loop: a lane then reads a
      // row's value another lane of its warp may not have written yet.
      NVVM::SyncWarpOp victim;
      launch.walk([&](NVVM::SyncWarpOp w) {
        if (!victim && w->getParentOfType<scf::ForOp>())
          victim = w;
      });
      if (victim)
        victim.erase();
    }
    if (fault == "drop-barrier") {
      // The barrier before the chunk loop's first tensor-core matmul (else
      // its first reduction): threads then read operands other threads have
      // not written yet.
      gpu::BarrierOp victim;
      for (bool mmaOnly : {true, false}) {
        launch.walk([&](scf::ForOp loop) {
          if (victim || !dist.loops.count(loop) || !loop->getParentOfType<scf::ForOp>())
            return;
          bool reduces = false, mma = false;
          loop.getBody()->walk([&](Operation *op) {
            reduces |= isa<scf::ForOp>(op);
            mma |= isa<nvgpu::MmaSyncOp>(op);
          });
          if (!(mmaOnly ? mma : reduces))
            return;
          Operation *prev = loop->getPrevNode();
          while (prev && isPure(prev) && !prev->getNumRegions())
            prev = prev->getPrevNode();
          victim = dyn_cast_or_null<gpu::BarrierOp>(prev);
        });
      }
      if (victim)
        victim.erase();
    }
    return success();
  }

  void runOnOperation() override {
    if (!fault.empty() && fault != "drop-barrier" && fault != "bad-fragment" &&
        fault != "drop-fill" && fault != "drop-warp-sync") {
      getOperation().emitError("ttt-distribute-to-threads: unknown fault '") << fault << "'";
      return signalPassFailure();
    }
    if (mmaChains < 1 || mmaChains > 3) {
      getOperation().emitError("ttt-distribute-to-threads: mma-chains must be 1, 2 or 3");
      return signalPassFailure();
    }
    if (mmaPrecision != "tf32x3" && mmaPrecision != "tf32" && mmaPrecision != "tf32-rz") {
      getOperation().emitError("ttt-distribute-to-threads: mma-precision must be tf32x3, "
                               "tf32 or tf32-rz, not '")
          << mmaPrecision << "'";
      return signalPassFailure();
    }
    if (mmaNTiles < 0 || mmaNTiles > 8) {
      getOperation().emitError("ttt-distribute-to-threads: mma-n-tiles must be in [0, 8]");
      return signalPassFailure();
    }
    if (mmaPrecision != "tf32x3" && mmaChains != 1) {
      getOperation().emitError("ttt-distribute-to-threads: mma-chains applies to the three "
                               "products of mma-precision=tf32x3");
      return signalPassFailure();
    }
    if (threads < 1 || threads > 1024) {
      getOperation().emitError("ttt-distribute-to-threads: gpu-threads must be in [1, 1024]");
      return signalPassFailure();
    }
    SmallVector<gpu::LaunchOp> launches;
    getOperation().walk([&](gpu::LaunchOp l) { launches.push_back(l); });
    for (gpu::LaunchOp l : launches)
      if (failed(run(l)))
        return signalPassFailure();
  }
};
} // namespace
