//===- DistributeToThreads.cpp - one-thread programs -> thread blocks -----===//
//
// A program of a gpu.launch (one (batch, head) pair, looping over chunks)
// runs on a block of threads: its buffers move to shared memory, its linalg
// ops become loops over their parallel points strided by the block size, and
// barriers separate what one thread writes from what another reads. This
// file is the pass: buffer placement (shared memory, else global scratch),
// the choice of mapping per op, split-K and the injected faults; the pieces
// are in Distribute.h.
//
//===----------------------------------------------------------------------===//

#include "dialect/GPU/Passes.h"

#include "Distribute.h"

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

using namespace mlir::ttt::distribution;

namespace {
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
    dist.insertBarriers();
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
