//===- PrefetchNextChunk.cpp - next chunk's inputs loaded a step early ----===//
//
// A chunk step starts by copying its tokens' inputs from global memory into
// shared memory; every thread then waits for those loads (hundreds of
// cycles) before the first barrier. This pass pipelines them by one step:
// the loads of chunk c + 1 are issued during step c, `ahead` block barriers
// before its end, held in registers, and stored where step c + 1 stores
// them today; the loads of the first chunk move before the loop.
//
// A load moves when it reads global memory that nothing in the launch
// writes (a layer's inputs, not its outputs, states or scratch), and all it
// depends on inside the step is pure index arithmetic of the chunk index
// (the guard that zero-fills rows past the sequence's end included). The
// step of chunk c + 1 exists only below the loop's bound: past it the
// prefetch yields zeros (loads there could read outside the inputs: the
// last chunk's row guard does not cover the one after it).
//
//===----------------------------------------------------------------------===//

#include "dialect/GPU/Passes.h"
#include "ChunkLoops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Utils/Utils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include <functional>

namespace mlir::ttt {
#define GEN_PASS_DEF_TTTPREFETCHNEXTCHUNK
#include "dialect/GPU/Passes.h.inc"
} // namespace mlir::ttt

using namespace mlir;

namespace {
/// The buffer a memref value views (through subviews, views, casts).
Value rootOf(Value m) {
  auto mv = dyn_cast<MemrefValue>(m);
  return mv ? memref::skipViewLikeOps(mv) : m;
}

bool isGlobal(Value memref) {
  auto t = dyn_cast<MemRefType>(memref.getType());
  return t && !t.getMemorySpace();
}

/// Whether `op` holds a load of global memory.
bool loadsGlobal(Operation *op) {
  return op
      ->walk([](memref::LoadOp l) {
        return isGlobal(l.getMemRef()) ? WalkResult::interrupt() : WalkResult::advance();
      })
      .wasInterrupted();
}

struct Prefetcher {
  scf::ForOp loop;
  int64_t ahead; // block barriers between the loads and the step's end
  bool stale;    // fault: load this chunk's inputs for the next step
  DenseSet<Value> written; // roots of buffers the launch writes

  /// Whether `op` (and what it holds) reads unwritten global memory and
  /// otherwise only computes.
  bool readsOnlyInputs(Operation *op) {
    if (!isa<memref::LoadOp, scf::IfOp>(op) || op->getNumResults() == 0)
      return false;
    bool loads = false;
    WalkResult r = op->walk([&](Operation *inner) {
      if (auto load = dyn_cast<memref::LoadOp>(inner)) {
        loads = true;
        return isGlobal(load.getMemRef()) && !written.contains(rootOf(load.getMemRef()))
                   ? WalkResult::advance()
                   : WalkResult::interrupt();
      }
      // An scf.if has no effects of its own: its regions' ops are checked.
      if (isa<scf::YieldOp>(inner) || inner == op || isPure(inner))
        return WalkResult::advance();
      return WalkResult::interrupt();
    });
    return loads && !r.wasInterrupted();
  }

  /// Adds to `deps` the ops of the loop body that `values` depend on; false
  /// when one of them is not pure index arithmetic at the body's top level,
  /// or when none depends on the chunk index (a loop-invariant load: the
  /// same value in every step).
  bool dependencies(ArrayRef<Value> values, DenseSet<Operation *> &deps) {
    SmallVector<Value> worklist(values);
    bool onIndex = false;
    while (!worklist.empty()) {
      Value v = worklist.pop_back_val();
      onIndex |= v == loop.getInductionVar();
      Operation *def = v.getDefiningOp();
      if (!def || !loop->isProperAncestor(def))
        continue; // the chunk index, or defined outside the loop
      if (def->getBlock() != loop.getBody() || def->getNumRegions() || !isPure(def))
        return false;
      if (deps.insert(def).second)
        llvm::append_range(worklist, def->getOperands());
    }
    return onIndex;
  }

  /// Moves pure ops out of the scf.if regions under `op` (recursively)
  /// where their operands allow, so that guards' conditions and loads'
  /// indices computed inside a guard become ops of the step itself.
  void hoistFromGuards(Operation *op) {
    auto ifOp = dyn_cast<scf::IfOp>(op);
    if (!ifOp || !loadsGlobal(ifOp))
      return;
    for (Region &r : ifOp->getRegions())
      for (Operation &inner : llvm::make_early_inc_range(r.getOps())) {
        bool outside = llvm::all_of(inner.getOperands(), [&](Value v) {
          return !ifOp->isAncestor(v.getParentRegion()->getParentOp());
        });
        if (outside && isPure(&inner) && inner.getNumRegions() == 0 &&
            !inner.hasTrait<OpTrait::IsTerminator>())
          inner.moveBefore(ifOp);
        else
          hoistFromGuards(&inner);
      }
  }

  /// A load of inputs to prefetch: the op, and the scf.if ops it is under
  /// (outermost first) whose conditions it needs.
  struct Fetch {
    Operation *op;
    SmallVector<Value> conditions; // of the guards
  };

  /// Finds the fetches at or under `op` (through scf.if regions only).
  void collect(Operation *op, SmallVector<scf::IfOp> &guards, SmallVector<Fetch> &fetches,
               DenseSet<Operation *> &deps) {
    if (readsOnlyInputs(op)) {
      SmallVector<Value> used;
      op->walk([&](Operation *inner) {
        for (Value v : inner->getOperands()) {
          Operation *def = v.getDefiningOp();
          if (!op->isAncestor(def ? def : cast<BlockArgument>(v).getOwner()->getParentOp()))
            used.push_back(v);
        }
      });
      SmallVector<Value> conditions;
      for (scf::IfOp g : guards)
        conditions.push_back(g.getCondition());
      used.append(conditions);
      DenseSet<Operation *> mine;
      if (dependencies(used, mine)) {
        fetches.push_back({op, conditions});
        deps.insert(mine.begin(), mine.end());
      }
      return;
    }
    auto ifOp = dyn_cast<scf::IfOp>(op);
    if (!ifOp)
      return;
    guards.push_back(ifOp);
    for (Region &r : ifOp->getRegions())
      for (Operation &inner : r.getOps())
        collect(&inner, guards, fetches, deps);
    guards.pop_back();
  }

  LogicalResult run() {
    Operation *launch = loop->getParentOfType<gpu::LaunchOp>();
    launch->walk([&](Operation *op) {
      auto mem = dyn_cast<MemoryEffectOpInterface>(op);
      if (!mem) {
        // Unknown effects: every buffer it is handed counts as written.
        if (!isPure(op) && !op->hasTrait<OpTrait::HasRecursiveMemoryEffects>())
          for (Value v : op->getOperands())
            if (isa<MemRefType>(v.getType()))
              written.insert(rootOf(v));
        return;
      }
      SmallVector<MemoryEffects::EffectInstance> effects;
      mem.getEffects(effects);
      for (auto &e : effects)
        if (isa<MemoryEffects::Write>(e.getEffect()) && e.getValue())
          written.insert(rootOf(e.getValue()));
    });

    // Static round loops that load inputs run unrolled, so that each load
    // is an op of the step itself.
    SmallVector<scf::ForOp> rounds;
    for (Operation &op : *loop.getBody())
      if (auto inner = dyn_cast<scf::ForOp>(op)) {
        std::optional<APInt> trips = inner.getStaticTripCount();
        if (loadsGlobal(inner) && trips && trips->ule(8))
          rounds.push_back(inner);
      }
    for (scf::ForOp r : rounds)
      if (failed(loopUnrollFull(r)))
        return failure();

    for (Operation &op : llvm::make_early_inc_range(*loop.getBody()))
      hoistFromGuards(&op);
    SmallVector<Fetch> fetches;
    DenseSet<Operation *> deps;
    SmallVector<scf::IfOp> guards;
    for (Operation &op : *loop.getBody())
      collect(&op, guards, fetches, deps);
    if (fetches.empty())
      return success();
    SmallVector<Type> types;
    for (const Fetch &f : fetches)
      llvm::append_range(types, f.op->getResultTypes());

    // Clones the fetches, under their guards, for chunk index `iv`; zeros
    // where a guard fails or past the loop's bound.
    auto zerosOf = [&](OpBuilder &b, Location loc, TypeRange ts) {
      SmallVector<Value> zeros;
      for (Type t : ts)
        zeros.push_back(arith::ConstantOp::create(b, loc, cast<TypedAttr>(b.getZeroAttr(t))));
      return zeros;
    };
    auto emit = [&](OpBuilder &b, Value iv) {
      Location loc = loop.getLoc();
      Value inRange =
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, iv, loop.getUpperBound());
      auto outer = scf::IfOp::create(b, loc, types, inRange, /*withElseRegion=*/true);
      OpBuilder eb = outer.getElseBodyBuilder();
      scf::YieldOp::create(eb, loc, zerosOf(eb, loc, types));
      OpBuilder tb = outer.getThenBodyBuilder();
      IRMapping map;
      map.map(loop.getInductionVar(), iv);
      for (Operation &op : *loop.getBody())
        if (deps.contains(&op))
          tb.clone(op, map);
      SmallVector<Value> got;
      for (const Fetch &f : fetches) {
        // fetch(level): the op under guards[level..].
        std::function<SmallVector<Value>(OpBuilder &, size_t)> under = [&](OpBuilder &gb,
                                                                            size_t level) {
          if (level == f.conditions.size())
            return SmallVector<Value>(gb.clone(*f.op, map)->getResults());
          TypeRange ts = f.op->getResultTypes();
          auto g = scf::IfOp::create(gb, loc, ts, map.lookupOrDefault(f.conditions[level]),
                                     /*withElseRegion=*/true);
          OpBuilder gt = g.getThenBodyBuilder(), ge = g.getElseBodyBuilder();
          scf::YieldOp::create(gt, loc, under(gt, level + 1));
          scf::YieldOp::create(ge, loc, zerosOf(ge, loc, ts));
          return SmallVector<Value>(g.getResults());
        };
        llvm::append_range(got, under(tb, 0));
      }
      scf::YieldOp::create(tb, loc, got);
      return SmallVector<Value>(outer.getResults());
    };

    OpBuilder pre(loop);
    SmallVector<Value> first = emit(pre, loop.getLowerBound());
    IRRewriter rw(loop.getContext());
    FailureOr<LoopLikeOpInterface> grown = loop.replaceWithAdditionalYields(
        rw, first, /*replaceInitOperandUsesInLoop=*/false,
        [&](OpBuilder &b, Location loc, ArrayRef<BlockArgument>) {
          // The next chunk's inputs, loaded at the top of this step.
          scf::ForOp l = loop;
          OpBuilder tb = OpBuilder::atBlockBegin(l.getBody());
          SmallVector<Operation *> bars;
          for (Operation &op : *l.getBody())
            if (isa<gpu::BarrierOp>(op))
              bars.push_back(&op);
          if (ahead <= int64_t(bars.size()))
            tb.setInsertionPoint(bars[bars.size() - ahead]);
          Value next = stale ? l.getInductionVar()
                             : arith::AddIOp::create(tb, loc, l.getInductionVar(), l.getStep());
          return emit(tb, next);
        });
    if (failed(grown))
      return failure();
    loop = cast<scf::ForOp>(grown->getOperation());
    // This step's inputs: the values the previous step (or the prologue)
    // loaded.
    ArrayRef<BlockArgument> carried =
        loop.getRegionIterArgs().take_back(first.size());
    unsigned i = 0;
    for (const Fetch &f : fetches)
      for (Value r : f.op->getResults())
        r.replaceAllUsesWith(carried[i++]);
    for (const Fetch &f : llvm::reverse(fetches))
      f.op->erase();
    return success();
  }
};

struct TTTPrefetchNextChunkPass : ttt::impl::TTTPrefetchNextChunkBase<TTTPrefetchNextChunkPass> {
  using Base::Base;
  void runOnOperation() override {
    if (ahead < 1) {
      getOperation().emitError("ttt-prefetch-next-chunk: prefetch must be at least 1");
      return signalPassFailure();
    }
    if (!fault.empty() && fault != "stale-prefetch") {
      getOperation().emitError("ttt-prefetch-next-chunk: unknown fault '") << fault << "'";
      return signalPassFailure();
    }
    SmallVector<scf::ForOp> loops;
    getOperation().walk(
        [&](gpu::LaunchOp launch) { loops.append(ttt::chunkLoops(launch.getBody().front())); });
    for (scf::ForOp loop : loops) {
      Prefetcher p{loop, ahead, fault == "stale-prefetch", {}};
      if (failed(p.run())) {
        loop.emitError("ttt-prefetch-next-chunk: cannot pipeline this chunk loop");
        return signalPassFailure();
      }
    }
  }
};
} // namespace
