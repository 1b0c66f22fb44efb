//===- LayerLowering.h - the chunked layer as functions ---------*- C++ -*-===//
//
// Internal to lib/Conversion: what the forward (LayerToFunc.cpp) and the
// backward (LayerBackward.cpp) functions of a chunked layer share: its
// declarations in block-argument order, the function signature, and the
// tensor plumbing between [B, T, H, ...] arrays and chunk tiles.
//
//===----------------------------------------------------------------------===//
#ifndef TTTC_LIB_CONVERSION_LAYERLOWERING_H
#define TTTC_LIB_CONVERSION_LAYERLOWERING_H

#include "dialect/ChunkUtils.h"
#include "dialect/Signature.h"
#include "dialect/TTTOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir::ttt::detail {
constexpr int64_t kDyn = ShapedType::kDynamic;

class LayerLowering {
public:
  LayerLowering(LayerOp layer, Type io, int64_t checkpointEvery = 1, bool resume = false,
                bool partialSums = false)
      : layer(layer), b(layer), loc(layer.getLoc()), io(io), checkpointEvery(checkpointEvery),
        resume(resume), partialSums(partialSums) {}

  /// Replaces the layer by its function (and, when the layer holds a
  /// ttt.chunk_backward, by `<name>_forward_train` and `<name>_backward`
  /// too; with `resume`, by `<name>_resume` too).
  LogicalResult run() {
    if (failed(prepare()) || failed(emitForward(Entry::Forward)) ||
        (resume && failed(emitForward(Entry::Resume))) ||
        (bwd && (failed(emitForward(Entry::Train)) || failed(emitBackward()))))
      return failure();
    // The tokens per chunk step, for callers that size what depends on it
    // (the saved states): module attribute ttt.chunk_sizes = {name = C}.
    if (auto m = layer->getParentOfType<ModuleOp>()) {
      NamedAttrList sizes;
      if (auto d = m->getAttrOfType<DictionaryAttr>("ttt.chunk_sizes"))
        sizes.append(d.getValue());
      sizes.set(layer.getSymName(), b.getI64IntegerAttr(C));
      m->setAttr("ttt.chunk_sizes", sizes.getDictionary(b.getContext()));
    }
    layer.erase();
    return success();
  }

private:
  LayerOp layer;
  OpBuilder b;
  Location loc;
  int64_t D = 0, C = 0;
  Type f32;
  Type io; // per-token inputs and readouts in memory
  /// The backward's memory strategy: the chunk-start states stored every
  /// this many chunks (1: every chunk), the others recomputed.
  int64_t checkpointEvery;
  /// Whether `<name>_resume` is emitted too.
  bool resume;
  /// Whether the backward writes the gradients its (b, h) programs share
  /// (parameters, position inputs, initial states) as per-program partials
  /// [B, H, ...] for the caller to sum, rather than summing them itself (GPU
  /// kernels: no two programs write one element).
  bool partialSums;
  ChunkStepOp step;
  ChunkBackwardOp bwd; // null: no backward requested
  /// Declarations, in the chunk step's block-argument order.
  SmallVector<Operation *> decls;
  /// The forward function's inputs and outputs (readouts, final states).
  SmallVector<Type> argTypes, outTypes;
  /// What a training forward saves for the backward: per state, its
  /// starting values at every checkpoint, [B, H, S, ...] float32 (S =
  /// ceil(ceil(T / C) / checkpointEvery)).
  SmallVector<Type> savedTypes;
  unsigned numReadouts = 0;

  LogicalResult prepare();
  /// The forward's variants: the forward itself, the training forward, and
  /// the forward resumed from given values of every state.
  enum class Entry { Forward, Train, Resume };
  /// The forward `<name>`; `<name>_forward_train`: the same outputs, and
  /// the chunk-start states at the checkpoints written into trailing `saved`
  /// arguments; `<name>_resume`: the forward from a required [Bi, H, ...]
  /// value of every state (whether the spec gives it an init or not; after
  /// the other inputs), returning the readouts and the final value of every
  /// state (whether the spec names it or not). A decoder runs it from a
  /// chunk boundary (LayerToFunc.cpp).
  LogicalResult emitForward(Entry entry);
  /// `<name>_backward` from the inputs, the saved states and the outputs'
  /// cotangents (LayerBackward.cpp).
  LogicalResult emitBackward();
  /// The backward's out-of-line chunk functions (LayerBackward.cpp).
  func::FuncOp stepFn, chunkFn;
  /// A private, not inlined function of `blk`'s arguments returning the
  /// values `results` of it.
  func::FuncOp outline(Block &blk, ArrayRef<Value> results, StringRef name);
  /// The body of the forward's h loop: initial states, the chunk loop,
  /// final states.
  /// final states; with `saved` (a training forward) the chunk-start states
  /// of every checkpoint stored into it. Returns the outputs, then `saved`.
  /// With `everyState` (the resume entry) every state has a required
  /// initial value and a final output.
  SmallVector<Value> perHead(DenseMap<Operation *, Value> &declArg,
                             DenseMap<Operation *, Value> &positionValue, Value bi, Value hi,
                             Value T, Value numChunks, ValueRange outs, ValueRange saved,
                             bool everyState = false);
  /// The reverse sweep of one (b, h): see LayerBackward.cpp.
  SmallVector<Value> perHeadBackward(DenseMap<Operation *, Value> &declArg,
                                     DenseMap<Operation *, Value> &positionValue,
                                     ArrayRef<Value> saved, ArrayRef<Value> cotangents, Value bi,
                                     Value hi, Value T, Value numChunks, ValueRange grads);

  /// Maps each declaration with a function argument to it (states without
  /// an `init` have none); returns the number of arguments bound.
  /// With `everyState` (the resume entry): the declarations other than
  /// states, then every state.
  unsigned bindArguments(Block *entry, DenseMap<Operation *, Value> &declArg,
                         bool everyState = false) {
    unsigned argNo = 0;
    for (Operation *d : decls) {
      if (auto s = dyn_cast<StateOp>(d); s && (!s.getInit() || everyState))
        continue;
      declArg[d] = entry->getArgument(argNo++);
    }
    if (everyState)
      for (Operation *d : decls)
        if (isa<StateOp>(d))
          declArg[d] = entry->getArgument(argNo++);
    return argNo;
  }
  Value firstTokenArg(DenseMap<Operation *, Value> &declArg) {
    for (Operation *d : decls)
      if (isa<InputOp>(d) && isa<VecType>(d->getResult(0).getType()))
        return declArg[d];
    return {};
  }

  /// The per-(b, h) block arguments of the chunk step: position inputs and
  /// parameters (their head's slice).
  IRMapping bindFixed(Block &sb, DenseMap<Operation *, Value> &declArg,
                      DenseMap<Operation *, Value> &positionValue, Value hi) {
    IRMapping fixed;
    for (auto [i, d] : llvm::enumerate(decls)) {
      if (isa<PositionInputOp>(d))
        fixed.map(sb.getArgument(i), positionValue[d]);
      else if (isa<ParamOp>(d))
        fixed.map(sb.getArgument(i),
                  paramSlice(declArg[d], cast<RankedTensorType>(sb.getArgument(i).getType()), hi));
    }
    return fixed;
  }
  /// Head `hi`'s row of a parameter ([H, n] or [H]) as a [1, n] tile.
  Value paramSlice(Value arg, RankedTensorType ctt, Value hi) {
    if (cast<RankedTensorType>(arg.getType()).getRank() == 2)
      return tensor::ExtractSliceOp::create(b, loc, ctt, arg,
                                            {OpFoldResult(hi), b.getIndexAttr(0)},
                                            attrs({1, ctt.getDimSize(1)}), attrs({1, 1}));
    Value s = tensor::ExtractSliceOp::create(b, loc, RankedTensorType::get({1}, f32), arg,
                                             {OpFoldResult(hi)}, attrs({1}), attrs({1}));
    return tensor::ExpandShapeOp::create(b, loc, ctt, s, ArrayRef<ReassociationIndices>{{0, 1}});
  }


  RankedTensorType tensor(ArrayRef<int64_t> outer, ArrayRef<int64_t> inner,
                          Type elt = nullptr) {
    SmallVector<int64_t> s(outer);
    s.append(inner.begin(), inner.end());
    return RankedTensorType::get(s, elt ? elt : f32);
  }

  /// `t` converted elementwise to element type `to` (f32 <-> io).
  Value convert(Value t, Type to) {
    auto tt = cast<RankedTensorType>(t.getType());
    if (tt.getElementType() == to)
      return t;
    SmallVector<Value> dyn;
    for (int64_t i = 0; i < tt.getRank(); ++i)
      if (tt.isDynamicDim(i))
        dyn.push_back(tensor::DimOp::create(b, loc, t, i));
    Value init = tensor::EmptyOp::create(b, loc, tt.getShape(), to, dyn);
    AffineMap id = b.getMultiDimIdentityMap(tt.getRank());
    SmallVector<utils::IteratorType> its(tt.getRank(), utils::IteratorType::parallel);
    bool widen = to.getIntOrFloatBitWidth() > tt.getElementType().getIntOrFloatBitWidth();
    return linalg::GenericOp::create(
               b, loc, init.getType(), t, init, ArrayRef<AffineMap>{id, id}, its,
               [&](OpBuilder &nb, Location nl, ValueRange a) {
                 Value c = widen ? arith::ExtFOp::create(nb, nl, to, a[0]).getResult()
                                 : arith::TruncFOp::create(nb, nl, to, a[0]).getResult();
                 linalg::YieldOp::create(nb, nl, c);
               })
        .getResult(0);
  }
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value zeros(ArrayRef<int64_t> shape, Type elem = {}) {
    if (!elem)
      elem = f32;
    Value e = tensor::EmptyOp::create(b, loc, shape, elem);
    Value z = arith::ConstantOp::create(b, loc, b.getFloatAttr(elem, 0.0));
    return linalg::FillOp::create(b, loc, z, e).getResult(0);
  }
  static SmallVector<OpFoldResult> ofr(ArrayRef<Value> vs) {
    return SmallVector<OpFoldResult>(vs.begin(), vs.end());
  }
  SmallVector<OpFoldResult> attrs(ArrayRef<int64_t> vs) {
    SmallVector<OpFoldResult> r;
    for (int64_t v : vs)
      r.push_back(b.getIndexAttr(v));
    return r;
  }

  /// Position inputs: the caller's [C] values, or the spec's default.
  LogicalResult positionInputs(DenseMap<Operation *, Value> &declArg,
                               DenseMap<Operation *, Value> &positionValue) {
    Value c0 = idx(0);
    for (Operation *d : decls) {
      auto p = dyn_cast<PositionInputOp>(d);
      if (!p)
        continue;
      Value arg = declArg[d];
      Value given = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne,
                                          tensor::DimOp::create(b, loc, arg, 0), c0);
      Type colT = RankedTensorType::get({C, 1}, f32);
      // The default (a few ops on C values) is computed either way; one
      // elementwise op then picks the caller's value or it. A tensor of
      // either origin joined by scf.if would be two buffers of different
      // layouts, one of them private to each thread in a GPU kernel.
      IRMapping m;
      Block &db = p.getDefaultBody().front();
      m.map(db.getArgument(0), PositionOp::create(b, loc, colT).getResult());
      for (Operation &op : db.without_terminator())
        if (!cloneAtChunkLevel(b, &op, m, D))
          return failure();
      Value dflt = m.lookup(cast<YieldOp>(db.getTerminator()).getValues()[0]);
      if (dflt.getType() != colT) // a constant default
        dflt = BroadcastOp::create(b, loc, colT, dflt);
      AffineMap id = b.getMultiDimIdentityMap(2);
      SmallVector<utils::IteratorType> its(2, utils::IteratorType::parallel);
      positionValue[d] =
          linalg::GenericOp::create(
              b, loc, TypeRange{colT}, ValueRange{dflt},
              ValueRange{tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{C, 1}, f32)},
              ArrayRef<AffineMap>{id, id}, its,
              [&](OpBuilder &nb, Location nl, ValueRange args) {
                Value i = linalg::IndexOp::create(nb, nl, 0);
                auto ifOp = scf::IfOp::create(nb, nl, TypeRange{f32}, given, true);
                OpBuilder tb = OpBuilder::atBlockBegin(&ifOp.getThenRegion().front());
                scf::YieldOp::create(tb, nl,
                                     tensor::ExtractOp::create(tb, nl, arg, ValueRange{i})
                                         .getResult());
                OpBuilder eb = OpBuilder::atBlockBegin(&ifOp.getElseRegion().front());
                scf::YieldOp::create(eb, nl, args[0]);
                linalg::YieldOp::create(nb, nl, ifOp.getResult(0));
              })
              .getResult(0);
    }

    return success();
  }

  Value initialState(StateOp s, RankedTensorType ct, Value arg, Value bi, Value hi,
                     bool required = false) {
    if (!arg)
      return zeros(ct.getShape());
    // The initial states of every program (dimension 0 of size 1) or one
    // per batch row.
    Value dim0 = tensor::DimOp::create(b, loc, arg, 0);
    Value shared = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, dim0, idx(1));
    Value row = arith::SelectOp::create(b, loc, shared, idx(0), bi);
    SmallVector<int64_t> inner = specShape(s.getType(), D);
    if (required || !s.getInitOptional())
      return stateSlice(arg, ct, row, hi);
    // Omitted (dimension 0 of size 0): zeros. One elementwise op writes
    // zeros or the input's element: zeros as a tensor of their own would be
    // a second buffer, joined to the input's slice by a layout cast, and in
    // a GPU kernel a private copy in every thread's local memory.
    Value absent = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, dim0, idx(0));
    int64_t rank = ct.getRank(), innerRank = int64_t(inner.size());
    Value dest = tensor::EmptyOp::create(b, loc, ct.getShape(), f32);
    AffineMap id = b.getMultiDimIdentityMap(rank);
    SmallVector<utils::IteratorType> its(rank, utils::IteratorType::parallel);
    return linalg::GenericOp::create(
               b, loc, TypeRange{ct}, ValueRange{}, ValueRange{dest}, ArrayRef<AffineMap>{id}, its,
               [&](OpBuilder &nb, Location nl, ValueRange) {
                 SmallVector<Value> at{row, hi};
                 for (int64_t d = rank - innerRank; d < rank; ++d)
                   at.push_back(linalg::IndexOp::create(nb, nl, d));
                 auto ifOp = scf::IfOp::create(nb, nl, TypeRange{f32}, absent, true);
                 OpBuilder tb = OpBuilder::atBlockBegin(&ifOp.getThenRegion().front());
                 scf::YieldOp::create(
                     tb, nl, arith::ConstantOp::create(tb, nl, tb.getFloatAttr(f32, 0.0)).getResult());
                 OpBuilder eb = OpBuilder::atBlockBegin(&ifOp.getElseRegion().front());
                 scf::YieldOp::create(eb, nl, tensor::ExtractOp::create(eb, nl, arg, at).getResult());
                 linalg::YieldOp::create(nb, nl, ifOp.getResult(0));
               })
        .getResult(0);
  }

  /// Rows t0 .. t0+valid of (b, h), zero-padded to a [C, n] tensor.
  Value loadTokens(Value arg, RankedTensorType ct, Value bi, Value hi, Value t0,
                   Value valid, bool vector) {
    int64_t n = ct.getDimSize(1);
    Value slice;
    if (vector)
      slice = tensor::ExtractSliceOp::create(
          b, loc, RankedTensorType::get({kDyn, n}, io), arg,
          {OpFoldResult(bi), OpFoldResult(t0), OpFoldResult(hi), b.getIndexAttr(0)},
          {b.getIndexAttr(1), OpFoldResult(valid), b.getIndexAttr(1), b.getIndexAttr(n)},
          attrs({1, 1, 1, 1}));
    else
      slice = tensor::ExtractSliceOp::create(
          b, loc, RankedTensorType::get({kDyn}, io), arg,
          {OpFoldResult(bi), OpFoldResult(t0), OpFoldResult(hi)},
          {b.getIndexAttr(1), OpFoldResult(valid), b.getIndexAttr(1)}, attrs({1, 1, 1}));
    // The chunk's `valid` rows go into a zero tile of the I/O type, which is
    // then widened whole: every buffer has the chunk's static shape (a
    // dynamic one would be a heap allocation per chunk in a GPU kernel).
    Value tile = tensor::InsertSliceOp::create(b, loc, slice, zeros(ct.getShape(), io),
                                               attrs({0, 0}),
                                               {OpFoldResult(valid), b.getIndexAttr(n)},
                                               attrs({1, 1}));
    return convert(tile, f32);
  }

  Value storeTokens(Value rows, Value dest, Value bi, Value hi, Value t0, Value valid) {
    int64_t n = cast<RankedTensorType>(rows.getType()).getDimSize(1);
    // Narrowed whole (static shape), then its `valid` rows stored.
    Value real = tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get({kDyn, n}, io), convert(rows, io), attrs({0, 0}),
        {OpFoldResult(valid), b.getIndexAttr(n)}, attrs({1, 1}));
    return tensor::InsertSliceOp::create(
        b, loc, real, dest,
        {OpFoldResult(bi), OpFoldResult(t0), OpFoldResult(hi), b.getIndexAttr(0)},
        {b.getIndexAttr(1), OpFoldResult(valid), b.getIndexAttr(1), b.getIndexAttr(n)},
        attrs({1, 1, 1, 1}));
  }

  /// Entry (row, hi) of a [Bi, H, ...] state array as its chunk-level tile
  /// (with `slot`: entry (row, hi, slot) of a [B, H, S, ...] saved array).
  Value stateSlice(Value arg, RankedTensorType ct, Value row, Value hi, Value slot = {}) {
    auto at = cast<RankedTensorType>(arg.getType());
    SmallVector<OpFoldResult> off{row, hi}, sizes = attrs({1, 1}), strides = attrs({1, 1});
    if (slot) {
      off.push_back(slot);
      sizes.push_back(b.getIndexAttr(1));
      strides.push_back(b.getIndexAttr(1));
    }
    for (int64_t i = off.size(); i < at.getRank(); ++i) {
      off.push_back(b.getIndexAttr(0));
      sizes.push_back(b.getIndexAttr(at.getDimSize(i)));
      strides.push_back(b.getIndexAttr(1));
    }
    return tensor::ExtractSliceOp::create(b, loc, ct, arg, off, sizes, strides);
  }

  /// A [C, 1] tile's `valid` rows stored into a [B, T, H] array at (b, t0, h).
  Value storeScalarTokens(Value rows, Value dest, Value bi, Value hi, Value t0, Value valid) {
    Value real = tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get({kDyn}, io), convert(rows, io), attrs({0, 0}),
        {OpFoldResult(valid), b.getIndexAttr(1)}, attrs({1, 1}));
    return tensor::InsertSliceOp::create(
        b, loc, real, dest, {OpFoldResult(bi), OpFoldResult(t0), OpFoldResult(hi)},
        {b.getIndexAttr(1), OpFoldResult(valid), b.getIndexAttr(1)}, attrs({1, 1, 1}));
  }

  /// `g` plus a [1, n] tile at head `hi` of a parameter array ([H, n] or [H]).
  Value addParam(Value g, Value tile, Value hi) {
    auto tt = cast<RankedTensorType>(tile.getType());
    Value sum = AddOp::create(b, loc, paramSlice(g, tt, hi), tile);
    if (cast<RankedTensorType>(g.getType()).getRank() == 2)
      return tensor::InsertSliceOp::create(b, loc, sum, g, {OpFoldResult(hi), b.getIndexAttr(0)},
                                           attrs({1, tt.getDimSize(1)}), attrs({1, 1}));
    Value flat = tensor::CollapseShapeOp::create(b, loc, RankedTensorType::get({1}, f32), sum,
                                                 ArrayRef<ReassociationIndices>{{0, 1}});
    return tensor::InsertSliceOp::create(b, loc, flat, g, {OpFoldResult(hi)}, attrs({1}),
                                         attrs({1}));
  }

  /// A parameter's [1, n] (vector) or [1, 1] (scalar) tile, or a position
  /// input's [C, 1] tile, stored at (bi, hi) of its [B, H, ...] partial.
  Value storePartial(Value tile, Value dest, Value bi, Value hi) {
    auto tt = cast<RankedTensorType>(tile.getType());
    auto dt = cast<RankedTensorType>(dest.getType());
    SmallVector<OpFoldResult> off{bi, hi}, sizes = attrs({1, 1}), strides = attrs({1, 1});
    for (int64_t i = 2; i < dt.getRank(); ++i) {
      off.push_back(b.getIndexAttr(0));
      sizes.push_back(b.getIndexAttr(dt.getDimSize(i)));
      strides.push_back(b.getIndexAttr(1));
    }
    // [C, 1] -> [C]; [1, n] and [1, 1] drop their unit rows in the insert.
    if (dt.getRank() == 3 && tt.getDimSize(1) == 1 && tt.getDimSize(0) != 1)
      tile = tensor::CollapseShapeOp::create(
          b, loc, RankedTensorType::get({tt.getDimSize(0)}, f32), tile,
          ArrayRef<ReassociationIndices>{{0, 1}});
    return tensor::InsertSliceOp::create(b, loc, tile, dest, off, sizes, strides);
  }

  /// `g` ([C]) plus a [C, 1] tile.
  Value addPosition(Value g, Value tile) {
    auto colT = RankedTensorType::get({C}, f32);
    Value cur = tensor::ExtractSliceOp::create(b, loc, colT, g, attrs({0}), attrs({C}), attrs({1}));
    Value flat = tensor::CollapseShapeOp::create(b, loc, colT, tile,
                                                 ArrayRef<ReassociationIndices>{{0, 1}});
    Value sum = AddOp::create(b, loc, cur, flat);
    return tensor::InsertSliceOp::create(b, loc, sum, g, attrs({0}), attrs({C}), attrs({1}));
  }

  /// `then()` where `g` (an optional input's array) is present (dimension 0
  /// not of size 0), else `g`.
  Value ifPresent(Value g, llvm::function_ref<Value()> then) {
    Value present = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne,
                                          tensor::DimOp::create(b, loc, g, 0), idx(0));
    auto ifOp = scf::IfOp::create(b, loc, TypeRange{g.getType()}, present, true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    scf::YieldOp::create(b, loc, then());
    b.setInsertionPointToStart(&ifOp.getElseRegion().front());
    scf::YieldOp::create(b, loc, g);
    return ifOp.getResult(0);
  }

  /// A chunk-level state tile stored at (bi, hi) of a [B, H, ...] array
  /// (with `slot`: at (bi, hi, slot) of a [B, H, S, ...] saved array).
  Value storeState(Value v, Value dest, Value bi, Value hi, Value slot = {}) {
    auto t = cast<RankedTensorType>(v.getType());
    auto dt = cast<RankedTensorType>(dest.getType());
    SmallVector<OpFoldResult> off{bi, hi}, sizes = attrs({1, 1}), strides = attrs({1, 1});
    if (slot) {
      off.push_back(slot);
      sizes.push_back(b.getIndexAttr(1));
      strides.push_back(b.getIndexAttr(1));
    }
    int64_t outer = off.size();
    for (int64_t i = outer; i < dt.getRank(); ++i) {
      off.push_back(b.getIndexAttr(0));
      sizes.push_back(b.getIndexAttr(dt.getDimSize(i)));
      strides.push_back(b.getIndexAttr(1));
    }
    // A vector state is [1, n] at chunk level, [n] in the destination.
    if (t.getRank() == 2 && dt.getRank() == outer + 1)
      v = tensor::CollapseShapeOp::create(b, loc, RankedTensorType::get({t.getDimSize(1)}, f32),
                                          v, ArrayRef<ReassociationIndices>{{0, 1}});
    return tensor::InsertSliceOp::create(b, loc, v, dest, off, sizes, strides);
  }
};

} // namespace mlir::ttt::detail

#endif
