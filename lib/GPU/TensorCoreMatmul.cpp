//===- TensorCoreMatmul.cpp - f32 matmuls on mma.sync tensor cores -------===//
//
// Part of ttt-distribute-to-threads (Distribute.h). A program's matmul
// C[M,N] += A[M,K] B[K,N] on static buffers that tile by m16n8k8 runs on
// tensor cores: warps take strips of adjacent m16n8 tiles (sharing A
// fragments), optionally split over K onto idle warps and rotated across
// consecutive matmuls, with f32 accuracy from three tf32 products (or one,
// by option). Fragment indexing follows the PTX layout of mma.m16n8k8.
//
//===----------------------------------------------------------------------===//

#include "Distribute.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

namespace mlir::ttt::distribution {
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
                        int64_t *R) {
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
} // namespace mlir::ttt::distribution
