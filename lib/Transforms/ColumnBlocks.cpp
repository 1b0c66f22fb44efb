//===- ColumnBlocks.cpp - split (b, h) programs over state column blocks ---===//
//
// A (b, h) program of a layer walks its chunks in series, so at small B * H
// a GPU has fewer programs than multiprocessors. When some dimension of the
// state is independent across its indices (the output columns of a linear
// memory: row i of q W, of k W - v and of the update touch column i alone),
// the program can be split over blocks of those columns.
//
// The analysis is a union-find over tensor dimensions: every (value, d) of
// the (b, h) body and every loop dimension of its linalg ops, united where
// an indexing map, a full slice, a cast, a reshape of one non-unit dimension
// or a loop-carried value ties them. A class can be split when nothing
// reduces over it, slices it partially or reshapes it with other
// dimensions, and its extent is one static size divisible by the block
// count. Values carrying the class shrink to one block; slices of the
// layer's arguments and outputs start at the block's offset; `linalg.index`
// of a split loop is offset likewise; the rest is recomputed per block.
//
//===----------------------------------------------------------------------===//

#include "dialect/LayerLoops.h"
#include "dialect/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/CSE.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/DenseSet.h"

namespace mlir::ttt {
#define GEN_PASS_DEF_TTTCOLUMNBLOCKS
#include "dialect/TTTPasses.h.inc"
} // namespace mlir::ttt

using namespace mlir;

namespace {
/// Union-find over tensor dimensions (value, d) and linalg loop dimensions
/// (op, d). Each class keeps its static extent (0: none seen, -1: dynamic
/// or conflicting) and the first op that prevents splitting it.
struct DimClasses {
  struct Info {
    int64_t size = 0;
    /// What prevents splitting the class: ops and what they do to it (the
    /// first few, for the diagnostic).
    SmallVector<std::pair<Operation *, std::string>, 2> blockers;
  };
  llvm::DenseMap<std::pair<const void *, unsigned>, int> ids;
  SmallVector<int> parent;
  SmallVector<Info> info;

  int id(const void *p, unsigned d) {
    auto [it, inserted] = ids.try_emplace({p, d}, int(parent.size()));
    if (inserted) {
      parent.push_back(int(parent.size()));
      info.emplace_back();
    }
    return it->second;
  }
  int find(int x) {
    while (parent[x] != x)
      x = parent[x] = parent[parent[x]];
    return x;
  }
  static void addSize(Info &c, int64_t s) {
    if (s == 0 || c.size == -1)
      return;
    c.size = c.size == 0 || c.size == s ? s : -1;
  }
  void unite(int a, int b) {
    a = find(a);
    b = find(b);
    if (a == b)
      return;
    parent[b] = a;
    addSize(info[a], info[b].size);
    for (auto &bl : info[b].blockers)
      addBlocker(info[a], bl.first, bl.second);
  }
  int dim(Value v, unsigned d) {
    int i = id(v.getAsOpaquePointer(), d);
    auto t = cast<RankedTensorType>(v.getType());
    addSize(info[find(i)], t.isDynamicDim(d) ? -1 : t.getDimSize(d));
    return i;
  }
  int loop(Operation *op, unsigned d) { return id(op, d); }
  static void addBlocker(Info &c, Operation *op, const std::string &why) {
    for (auto &bl : c.blockers)
      if (bl.first->getLoc() == op->getLoc() && bl.second == why)
        return;
    if (c.blockers.size() < 8)
      c.blockers.push_back({op, why});
  }
  void block(int x, Operation *op, const Twine &why) { addBlocker(info[find(x)], op, why.str()); }
  void blockAll(Value v, Operation *op, const Twine &why) {
    if (auto t = dyn_cast<RankedTensorType>(v.getType()))
      for (unsigned d = 0; d < t.getRank(); ++d)
        block(dim(v, d), op, why);
  }
  /// The class of (v, d), or -1 when (v, d) was never seen.
  int classOf(Value v, unsigned d) {
    auto it = ids.find({v.getAsOpaquePointer(), d});
    return it == ids.end() ? -1 : find(it->second);
  }
};

bool isTensor(Value v) { return isa<RankedTensorType>(v.getType()); }

/// tensor.empty, or a linalg op with no tensor inputs writing into one
/// (fills, broadcast scalars, masks): values made afresh, which the layer
/// lowering shares between unrelated uses (CSE). They are cloned per use
/// before the analysis so that a shared zero tile does not tie the
/// dimensions of its users together.
bool isFresh(Value v) {
  Operation *def = v.getDefiningOp();
  if (!def || !isTensor(v))
    return false;
  if (isa<tensor::EmptyOp>(def))
    return cast<RankedTensorType>(v.getType()).hasStaticShape();
  auto lop = dyn_cast<linalg::LinalgOp>(def);
  if (!lop || !lop.hasPureTensorSemantics() || def->getNumResults() != 1)
    return false;
  for (OpOperand *in : lop.getDpsInputOperands())
    if (isTensor(in->get()))
      return false;
  for (OpOperand &init : lop.getDpsInitsMutable())
    if (!isFresh(init.get()) || !lop.getMatchingIndexingMap(&init).isPermutation())
      return false;
  return true;
}

Value cloneFresh(Value v) {
  Operation *def = v.getDefiningOp();
  IRMapping map;
  for (Value operand : def->getOperands())
    if (isFresh(operand))
      map.map(operand, cloneFresh(operand));
  OpBuilder b(def->getContext());
  b.setInsertionPointAfter(def);
  return b.clone(*def, map)->getResult(cast<OpResult>(v).getResultNumber());
}

/// One private copy of each fresh value per use.
void unshareFresh(Block &body) {
  SmallVector<Value> fresh;
  body.walk([&](Operation *op) {
    for (Value r : op->getResults())
      if (isFresh(r) && !r.hasOneUse())
        fresh.push_back(r);
  });
  for (Value v : fresh) {
    SmallVector<OpOperand *> uses;
    for (OpOperand &u : v.getUses())
      uses.push_back(&u);
    for (size_t i = 1; i < uses.size(); ++i)
      uses[i]->set(cloneFresh(v));
  }
}

/// Values tied to the layer function's arguments (its inputs and the
/// destination tensors of its outputs): sliced at the block's offset, never
/// shrunk.
llvm::DenseSet<Value> globalValues(func::FuncOp f) {
  llvm::DenseSet<Value> g(f.getArguments().begin(), f.getArguments().end());
  bool changed = true;
  auto mark = [&](Value v) { changed |= g.insert(v).second; };
  while (changed) {
    changed = false;
    f.walk([&](Operation *op) {
      if (auto loop = dyn_cast<scf::ForOp>(op)) {
        auto yield = cast<scf::YieldOp>(loop.getBody()->getTerminator());
        for (unsigned i = 0; i < loop.getNumRegionIterArgs(); ++i)
          if (g.contains(loop.getInitArgs()[i]) || g.contains(yield.getOperand(i))) {
            mark(loop.getRegionIterArgs()[i]);
            mark(loop.getResult(i));
          }
      } else if (auto ins = dyn_cast<tensor::InsertSliceOp>(op)) {
        if (g.contains(ins.getDest()))
          mark(ins.getResult());
      } else if (auto iff = dyn_cast<scf::IfOp>(op)) {
        for (Region *r : {&iff.getThenRegion(), &iff.getElseRegion()})
          if (!r->empty())
            for (auto [i, v] : llvm::enumerate(r->front().getTerminator()->getOperands()))
              if (g.contains(v))
                mark(iff.getResult(i));
      }
    });
  }
  return g;
}

/// Per sliced dimension of a slice op: the dimension of its small (result
/// or source) side, or -1 where the slice drops it.
SmallVector<int> slicedToSmall(llvm::SmallBitVector dropped, unsigned rank) {
  SmallVector<int> m;
  int r = 0;
  for (unsigned j = 0; j < rank; ++j)
    m.push_back(dropped.test(j) ? -1 : r++);
  return m;
}

struct Analysis {
  DimClasses c;

  /// Ties the dimensions of a slice's big and small sides.
  void slice(Operation *op, Value big, Value small, ArrayRef<int64_t> offs,
             ArrayRef<int64_t> sizes, ArrayRef<int64_t> strides,
             llvm::SmallBitVector dropped) {
    auto bt = cast<RankedTensorType>(big.getType());
    SmallVector<int> m = slicedToSmall(dropped, bt.getRank());
    for (unsigned j = 0; j < bt.getRank(); ++j) {
      bool full = !bt.isDynamicDim(j) && offs[j] == 0 && sizes[j] == bt.getDimSize(j) &&
                  strides[j] == 1;
      if (full && m[j] >= 0) {
        c.unite(c.dim(big, j), c.dim(small, m[j]));
        continue;
      }
      c.block(c.dim(big, j), op, "slices it partially");
      if (m[j] >= 0)
        c.block(c.dim(small, m[j]), op, "slices it partially");
    }
  }

  void reshape(Operation *op, Value big, Value small,
               ArrayRef<ReassociationIndices> groups) {
    auto bt = cast<RankedTensorType>(big.getType());
    for (auto [g, group] : llvm::enumerate(groups)) {
      SmallVector<int64_t> nonUnit;
      for (int64_t j : group)
        if (bt.isDynamicDim(j) || bt.getDimSize(j) != 1)
          nonUnit.push_back(j);
      if (nonUnit.size() == 1) {
        c.unite(c.dim(big, nonUnit[0]), c.dim(small, g));
        continue;
      }
      for (int64_t j : group)
        c.block(c.dim(big, j), op, "reshapes it with other dimensions");
      c.block(c.dim(small, g), op, "reshapes it with other dimensions");
    }
  }

  void tieAll(Value a, Value b) {
    if (!isTensor(a) || !isTensor(b))
      return;
    for (unsigned d = 0; d < cast<RankedTensorType>(a.getType()).getRank(); ++d)
      c.unite(c.dim(a, d), c.dim(b, d));
  }

  void visit(Operation *op) {
    if (auto lop = dyn_cast<linalg::LinalgOp>(op)) {
      if (!lop.hasPureTensorSemantics()) {
        for (Value v : op->getOperands())
          c.blockAll(v, op, "is not understood");
        return;
      }
      for (auto [d, it] : llvm::enumerate(lop.getIteratorTypesArray()))
        if (it == utils::IteratorType::reduction)
          c.block(c.loop(op, d), op, "reduces over it");
      for (OpOperand &u : op->getOpOperands()) {
        if (!isTensor(u.get()))
          continue;
        AffineMap map = lop.getMatchingIndexingMap(&u);
        for (auto [i, e] : llvm::enumerate(map.getResults())) {
          if (auto d = dyn_cast<AffineDimExpr>(e)) {
            c.unite(c.dim(u.get(), i), c.loop(op, d.getPosition()));
          } else if (!isa<AffineConstantExpr>(e)) {
            c.block(c.dim(u.get(), i), op, "indexes it by an expression");
            e.walk([&](AffineExpr s) {
              if (auto d = dyn_cast<AffineDimExpr>(s))
                c.block(c.loop(op, d.getPosition()), op, "indexes it by an expression");
            });
          } else {
            c.block(c.dim(u.get(), i), op, "broadcasts it");
          }
        }
      }
      for (auto [r, init] : llvm::enumerate(lop.getDpsInits()))
        tieAll(op->getResult(r), init);
      return;
    }
    if (auto e = dyn_cast<tensor::ExtractSliceOp>(op))
      return slice(op, e.getSource(), e.getResult(), e.getStaticOffsets(),
                   e.getStaticSizes(), e.getStaticStrides(), e.getDroppedDims());
    if (auto i = dyn_cast<tensor::InsertSliceOp>(op)) {
      tieAll(i.getResult(), i.getDest());
      return slice(op, i.getDest(), i.getSource(), i.getStaticOffsets(), i.getStaticSizes(),
                   i.getStaticStrides(), i.getDroppedDims());
    }
    if (auto cs = dyn_cast<tensor::CollapseShapeOp>(op))
      return reshape(op, cs.getSrc(), cs.getResult(), cs.getReassociationIndices());
    if (auto es = dyn_cast<tensor::ExpandShapeOp>(op))
      return reshape(op, es.getResult(), es.getSrc(), es.getReassociationIndices());
    if (auto cast = dyn_cast<tensor::CastOp>(op))
      return tieAll(cast.getSource(), cast.getResult());
    if (auto loop = dyn_cast<scf::ForOp>(op)) {
      auto yield = cast<scf::YieldOp>(loop.getBody()->getTerminator());
      for (unsigned i = 0; i < loop.getNumRegionIterArgs(); ++i) {
        tieAll(loop.getInitArgs()[i], loop.getRegionIterArgs()[i]);
        tieAll(loop.getRegionIterArgs()[i], loop.getResult(i));
        tieAll(loop.getResult(i), yield.getOperand(i));
      }
      return;
    }
    if (auto iff = dyn_cast<scf::IfOp>(op)) {
      for (Region *r : {&iff.getThenRegion(), &iff.getElseRegion()})
        if (!r->empty())
          for (auto [i, v] : llvm::enumerate(r->front().getTerminator()->getOperands()))
            tieAll(iff.getResult(i), v);
      return;
    }
    if (auto dim = dyn_cast<tensor::DimOp>(op)) {
      // The extent it reads must stay the full one.
      if (std::optional<int64_t> d = dim.getConstantIndex())
        c.block(c.dim(dim.getSource(), unsigned(*d)), op, "reads its extent");
      else
        c.blockAll(dim.getSource(), op, "reads its extent");
      return;
    }
    if (isa<scf::YieldOp, tensor::EmptyOp>(op)) {
      for (Value v : op->getResults())
        if (isTensor(v))
          for (unsigned d = 0; d < cast<RankedTensorType>(v.getType()).getRank(); ++d)
            c.dim(v, d);
      return;
    }
    // tensor.dim, tensor constants and anything else: nothing of theirs is
    // split.
    for (Value v : op->getOperands())
      c.blockAll(v, op, "is not understood by the column split");
    for (Value v : op->getResults())
      c.blockAll(v, op, "is not understood by the column split");
  }
};

struct TTTColumnBlocksPass : ttt::impl::TTTColumnBlocksBase<TTTColumnBlocksPass> {
  using Base::Base;

  /// The head loop: func -> scf.for (batches) -> scf.for (heads).
  static scf::ForOp headLoop(func::FuncOp f) {
    scf::ForOp b = ttt::onlyLoop(f.front());
    return b ? ttt::onlyLoop(*b.getBody()) : scf::ForOp();
  }

  LogicalResult split(func::FuncOp f) {
    scf::ForOp h = headLoop(f);
    if (!h)
      return f.emitError("ttt-column-blocks expects a layer function looping over batches "
                         "and heads (after convert-ttt-to-linalg)");
    Block &body = *h.getBody();
    unshareFresh(body);
    llvm::DenseSet<Value> global = globalValues(f);

    Analysis a;
    a.visit(h);
    body.walk<WalkOrder::PreOrder>([&](Operation *op) {
      a.visit(op);
      return isa<linalg::LinalgOp>(op) ? WalkResult::skip() : WalkResult::advance();
    });

    // Candidates: the dimensions of the states carried across chunks.
    DimClasses &c = a.c;
    int chosen = -1;
    Value firstState;
    body.walk([&](scf::ForOp loop) {
      for (Value s : loop.getRegionIterArgs()) {
        if (global.contains(s) || !isTensor(s))
          continue;
        if (!firstState)
          firstState = s;
        for (unsigned d = 0; d < cast<RankedTensorType>(s.getType()).getRank(); ++d) {
          int k = c.classOf(s, d);
          const DimClasses::Info &in = c.info[k];
          if (!in.blockers.empty() || in.size <= 1 || in.size % blocks)
            continue;
          if (chosen < 0 || in.size > c.info[chosen].size)
            chosen = k;
        }
      }
    });
    if (chosen < 0) {
      InFlightDiagnostic diag = required ? f.emitError() : f.emitRemark();
      diag << "cannot split the layer's state into " << int64_t(blocks) << " column blocks";
      if (firstState) {
        auto t = cast<RankedTensorType>(firstState.getType());
        const DimClasses::Info &in = c.info[c.classOf(firstState, t.getRank() - 1)];
        if (!in.blockers.empty()) {
          diag << ": its columns (the last dimension of a state), or a dimension "
                  "computed with them, are reduced over or mixed (notes)";
          for (auto &[op, why] : in.blockers)
            diag.attachNote(op->getLoc()) << "'" << op->getName().getStringRef() << "' " << why;
        } else if (in.size > 0 && in.size % blocks) {
          diag << ": its " << in.size << " columns are not a multiple of " << int64_t(blocks);
        }
      } else {
        diag << ": it has no state carried across chunks";
      }
      return failure(required);
    }
    int64_t blk = c.info[chosen].size / blocks;
    auto isSplit = [&](Value v, unsigned d) { return c.classOf(v, d) == chosen; };

    // The block loop, inside the head loop around its whole body.
    Location loc = h.getLoc();
    auto yieldH = cast<scf::YieldOp>(body.getTerminator());
    OpBuilder b(&body, body.begin());
    Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
    Value cN = arith::ConstantIndexOp::create(b, loc, blocks);
    Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
    auto cb = scf::ForOp::create(b, loc, c0, cN, c1, h.getRegionIterArgs());
    cb->setAttr("ttt.column_blocks", b.getI64IntegerAttr(blocks));
    Block &cbBody = *cb.getBody();
    cbBody.getOperations().splice(cbBody.end(), body.getOperations(),
                                  std::next(Block::iterator(cb)), Block::iterator(yieldH));
    for (auto [hArg, cbArg] : llvm::zip(h.getRegionIterArgs(), cb.getRegionIterArgs()))
      replaceAllUsesInRegionWith(hArg, cbArg, cb.getRegion());
    OpBuilder yb = OpBuilder::atBlockEnd(&cbBody);
    scf::YieldOp::create(yb, loc, yieldH.getOperands());
    yieldH->setOperands(cb.getResults());
    for (Value v : cb.getRegionIterArgs())
      global.insert(v);
    for (Value v : cb.getResults())
      global.insert(v);

    OpBuilder ob = OpBuilder::atBlockBegin(&cbBody);
    Value offset =
        arith::MulIOp::create(ob, loc, cb.getInductionVar(),
                              arith::ConstantIndexOp::create(ob, loc, blk));
    Value isFirst = arith::CmpIOp::create(ob, loc, arith::CmpIPredicate::eq,
                                          cb.getInductionVar(), c0);

    // Shrink every local value carrying the class to one block.
    auto shrink = [&](Value v) {
      auto t = dyn_cast<RankedTensorType>(v.getType());
      if (!t || global.contains(v))
        return;
      SmallVector<int64_t> shape(t.getShape());
      for (unsigned d = 0; d < shape.size(); ++d)
        if (isSplit(v, d))
          shape[d] = blk;
      v.setType(t.clone(shape));
    };
    SmallVector<Operation *> slices, reshapes, linalgs, globalWrites;
    cbBody.walk<WalkOrder::PreOrder>([&](Operation *op) {
      for (Value r : op->getResults())
        shrink(r);
      for (Region &r : op->getRegions())
        for (Block &blockR : r)
          for (BlockArgument arg : blockR.getArguments())
            shrink(arg);
      if (isa<tensor::ExtractSliceOp, tensor::InsertSliceOp>(op))
        slices.push_back(op);
      if (isa<tensor::ExpandShapeOp>(op))
        reshapes.push_back(op);
      if (auto lop = dyn_cast<linalg::LinalgOp>(op)) {
        linalgs.push_back(op);
        return WalkResult::skip();
      }
      return WalkResult::advance();
    });

    // Slices: a split dimension is taken whole within the block; slices of
    // the layer's arguments and outputs start at the block's offset. All
    // decided before any is rebuilt (the analysis knows the old values).
    struct SlicePlan {
      Operation *op;
      SmallVector<OpFoldResult> offsets, sizes;
    };
    SmallVector<SlicePlan> plans;
    for (Operation *op : slices) {
      auto s = cast<OffsetSizeAndStrideOpInterface>(op);
      auto e = dyn_cast<tensor::ExtractSliceOp>(op);
      auto i = dyn_cast<tensor::InsertSliceOp>(op);
      Value small = e ? e.getResult() : i.getSource();
      bool bigIsGlobal = global.contains(e ? e.getSource() : i.getDest());
      SlicePlan p{op, s.getMixedOffsets(), s.getMixedSizes()};
      SmallVector<int> m = slicedToSmall(e ? e.getDroppedDims() : i.getDroppedDims(),
                                         unsigned(p.sizes.size()));
      bool any = false;
      for (unsigned j = 0; j < m.size(); ++j)
        if (m[j] >= 0 && isSplit(small, m[j])) {
          p.sizes[j] = b.getIndexAttr(blk);
          if (bigIsGlobal && fault != "column-offset")
            p.offsets[j] = offset;
          any = true;
        }
      if (any)
        plans.push_back(std::move(p));
      else if (i && bigIsGlobal)
        globalWrites.push_back(op);
    }
    for (SlicePlan &p : plans) {
      OpBuilder sb(p.op);
      Operation *n;
      if (auto e = dyn_cast<tensor::ExtractSliceOp>(p.op))
        n = tensor::ExtractSliceOp::create(sb, p.op->getLoc(),
                                           cast<RankedTensorType>(e.getResult().getType()),
                                           e.getSource(), p.offsets, p.sizes,
                                           e.getMixedStrides());
      else {
        auto i = cast<tensor::InsertSliceOp>(p.op);
        n = tensor::InsertSliceOp::create(sb, p.op->getLoc(), i.getSource(), i.getDest(),
                                          p.offsets, p.sizes, i.getMixedStrides());
      }
      p.op->replaceAllUsesWith(n);
      p.op->erase();
    }
    for (Operation *op : reshapes) {
      auto es = cast<tensor::ExpandShapeOp>(op);
      OpBuilder sb(op);
      auto n = tensor::ExpandShapeOp::create(sb, op->getLoc(), es.getResultType(), es.getSrc(),
                                             es.getReassociationIndices());
      es.getResult().replaceAllUsesWith(n.getResult());
      es.erase();
    }
    // Loop indices of split dimensions count from the block's offset.
    for (Operation *op : linalgs) {
      op->walk([&](linalg::IndexOp idx) {
        if (c.find(c.loop(op, idx.getDim())) != chosen)
          return;
        OpBuilder ib(idx->getContext());
        ib.setInsertionPointAfter(idx);
        auto add = arith::AddIOp::create(ib, idx.getLoc(), idx.getResult(), offset);
        idx.getResult().replaceAllUsesExcept(add.getResult(), add);
      });
    }
    // Outputs that carry no column of the block: written once, by block 0.
    for (Operation *op : globalWrites) {
      auto ins = cast<tensor::InsertSliceOp>(op);
      OpBuilder ib(op);
      auto iff = scf::IfOp::create(ib, op->getLoc(), TypeRange{ins.getType()}, isFirst,
                                   /*withElseRegion=*/true);
      ins.getResult().replaceAllUsesWith(iff.getResult(0));
      Block &thenB = iff.getThenRegion().front(), &elseB = iff.getElseRegion().front();
      op->moveBefore(&thenB, thenB.end());
      OpBuilder tb = OpBuilder::atBlockEnd(&thenB);
      scf::YieldOp::create(tb, op->getLoc(), ins.getResult());
      OpBuilder eb = OpBuilder::atBlockEnd(&elseB);
      scf::YieldOp::create(eb, op->getLoc(), ins.getDest());
    }
    return success();
  }

  void runOnOperation() override {
    if (blocks < 1) {
      getOperation().emitError("ttt-column-blocks: blocks must be >= 1");
      return signalPassFailure();
    }
    if (!fault.empty() && fault != "column-offset") {
      getOperation().emitError("ttt-column-blocks: unknown fault '") << fault << "'";
      return signalPassFailure();
    }
    if (blocks == 1)
      return;
    for (auto f : llvm::to_vector(getOperation().getOps<func::FuncOp>())) {
      if (f.isExternal())
        continue;
      if (failed(split(f)))
        return signalPassFailure();
    }
    IRRewriter rw(&getContext());
    DominanceInfo dom(getOperation());
    eliminateCommonSubExpressions(rw, dom, getOperation());
  }
};
} // namespace
