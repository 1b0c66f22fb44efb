//===- PointLoops.cpp - linalg ops as loops over a block's threads -------===//
//
// Part of ttt-distribute-to-threads (Distribute.h). A linalg op of a program
// becomes a loop over its parallel points: strided over the threads (static
// rounds where the point count is static), a row per warp for row-wise
// elementwise steps, or, for sums with fewer points than threads, a split
// sum whose partial sums meet through warp shuffles. Each loop records which
// parallel dimension each index of its loads and stores is (LoopInfo), from
// which the barrier placement proves accesses same-thread.
//
//===----------------------------------------------------------------------===//

#include "Distribute.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/IRMapping.h"

using namespace mlir;

namespace mlir::ttt::distribution {
constexpr llvm::StringLiteral kDistributed = "ttt.distributed";

static Value applyResult(OpBuilder &b, Location loc, AffineMap map, unsigned i,
                  ArrayRef<Value> iv) {
  AffineExpr e = map.getResult(i);
  if (auto d = dyn_cast<AffineDimExpr>(e))
    return iv[d.getPosition()];
  if (auto c = dyn_cast<AffineConstantExpr>(e))
    return arith::ConstantIndexOp::create(b, loc, c.getValue());
  return affine::AffineApplyOp::create(b, loc, map.getSubMap({i}), iv);
}

static SmallVector<Value> applyMap(OpBuilder &b, Location loc, AffineMap map, ArrayRef<Value> iv) {
  SmallVector<Value> r;
  for (unsigned i = 0; i < map.getNumResults(); ++i)
    r.push_back(applyResult(b, loc, map, i, iv));
  return r;
}

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
static Value sameIndexing(Value m) {
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
static void recordSignatures(scf::ForOp loop, LoopInfo &info, const DenseMap<Value, int> &dimOf,
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
static IRMapping clonePayload(OpBuilder &b, Location loc, linalg::GenericOp g, ArrayRef<Value> iv,
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
static void emitPoint(OpBuilder &b, Location loc, linalg::GenericOp g, SmallVectorImpl<Value> &iv,
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
} // namespace mlir::ttt::distribution
