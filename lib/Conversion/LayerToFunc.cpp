//===- LayerToFunc.cpp - chunked layer -> func with (b, h, chunk) loops ---===//
//
// The function takes the inputs and the output destinations described by
// `getLayerSignature` as tensors with dynamic B, T, H (initial states as
// [Bi, H, ...] with Bi = 1 (shared) or B, or Bi = 0 for an omitted optional
// state) and returns the filled outputs. Per (b, h) the states are carried
// across an scf.for over chunks; each chunk's tokens are copied into
// zero-padded [C, n] tensors, the `ttt.chunk_step` body is inlined, and the
// real rows of the readouts are written back.
//
//===----------------------------------------------------------------------===//

#include "dialect/ChunkUtils.h"
#include "dialect/Passes.h"
#include "dialect/Signature.h"
#include "dialect/TTTOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir::ttt {
#define GEN_PASS_DEF_TTTLOWERLAYERTOFUNC
#include "dialect/TTTPasses.h.inc"
} // namespace mlir::ttt

using namespace mlir;
using namespace mlir::ttt;

namespace {
constexpr int64_t kDyn = ShapedType::kDynamic;

class LayerLowering {
public:
  LayerLowering(LayerOp layer, Type io) : layer(layer), b(layer), loc(layer.getLoc()), io(io) {}

  LogicalResult run() {
    ChunkStepOp step;
    for (Operation &op : layer.getBodyBlock())
      if (auto s = dyn_cast<ChunkStepOp>(op))
        step = s;
    if (!step || !layer.getHeadDim())
      return layer.emitOpError("run ttt-dual-form before ttt-lower-layer-to-func");
    D = *layer.getHeadDim();
    C = layer.getChunkSize() ? *layer.getChunkSize() : layer.getMiniBatch();
    f32 = b.getF32Type();

    // Declarations, in the chunk step's block-argument order.
    SmallVector<Operation *> decls;
    for (Operation &op : layer.getBodyBlock())
      if (isa<InputOp, PositionInputOp, ParamOp, StateOp>(op))
        decls.push_back(&op);
    Block &sb = step.getBody().front();
    if (sb.getNumArguments() != decls.size() + 1)
      return step.emitOpError("block arguments do not match the declarations");
    if (!llvm::any_of(decls, [](Operation *d) {
          return isa<InputOp>(d) && isa<VecType>(d->getResult(0).getType());
        }))
      return layer.emitOpError("needs at least one per-token vector input");

    // Function type.
    SmallVector<Type> argTypes;
    SmallVector<Type> outTypes;
    for (Operation *d : decls) {
      Type t = d->getResult(0).getType();
      SmallVector<int64_t> inner = specShape(t, D);
      if (isa<InputOp>(d))
        argTypes.push_back(tensor({kDyn, kDyn, kDyn}, inner, io));
      else if (isa<PositionInputOp>(d))
        argTypes.push_back(tensor({kDyn}, {}));
      else if (isa<ParamOp>(d))
        argTypes.push_back(tensor({kDyn}, inner));
      else if (cast<StateOp>(d).getInit())
        argTypes.push_back(tensor({kDyn, kDyn}, inner));
    }
    auto yield = cast<YieldOp>(sb.getTerminator());
    unsigned numReadouts = step.getReadouts().size();
    for (unsigned i = 0; i < numReadouts; ++i)
      outTypes.push_back(tensor({kDyn, kDyn, kDyn},
                                {cast<RankedTensorType>(yield.getValues()[i].getType())
                                     .getDimSize(1)},
                                io));
    SmallVector<StateOp> states;
    for (Operation *d : decls)
      if (auto s = dyn_cast<StateOp>(d))
        states.push_back(s);
    for (StateOp s : states)
      if (s.getFinal())
        outTypes.push_back(tensor({kDyn, kDyn}, specShape(s.getType(), D)));
    SmallVector<Type> allArgs = argTypes;
    allArgs.append(outTypes);

    b.setInsertionPoint(layer);
    auto func = func::FuncOp::create(b, loc, layer.getSymName(),
                                     b.getFunctionType(allArgs, outTypes));
    func->setAttr("llvm.emit_c_interface", b.getUnitAttr());
    Block *entry = func.addEntryBlock();
    b.setInsertionPointToStart(entry);

    // Bind declarations to function arguments.
    unsigned argNo = 0;
    DenseMap<Operation *, Value> declArg;
    Value firstToken;
    for (Operation *d : decls) {
      if (auto s = dyn_cast<StateOp>(d); s && !s.getInit())
        continue;
      declArg[d] = entry->getArgument(argNo++);
      if (!firstToken && isa<InputOp>(d) && isa<VecType>(d->getResult(0).getType()))
        firstToken = declArg[d];
    }
    SmallVector<Value> outs(entry->getArguments().begin() + argNo,
                            entry->getArguments().end());

    Value c0 = idx(0), c1 = idx(1), cC = idx(C);
    Value B = tensor::DimOp::create(b, loc, firstToken, 0);
    Value T = tensor::DimOp::create(b, loc, firstToken, 1);
    Value H = tensor::DimOp::create(b, loc, firstToken, 2);
    Value numChunks = arith::CeilDivSIOp::create(b, loc, T, cC);

    // for b, for h: carry the output tensors.
    LogicalResult status = success();
    auto bLoop = scf::ForOp::create(
        b, loc, c0, B, c1, outs,
        [&](OpBuilder &, Location, Value bi, ValueRange bOuts) {
          auto hLoop = scf::ForOp::create(
              b, loc, c0, H, c1, bOuts,
              [&](OpBuilder &, Location, Value hi, ValueRange hOuts) {
                // Everything per (b, h) is computed inside the loops (device
                // code, on the GPU path): the position inputs too.
                DenseMap<Operation *, Value> positionValue;
                if (failed(positionInputs(decls, declArg, positionValue)))
                  status = failure();
                SmallVector<Value> r = perHead(decls, declArg, positionValue, step,
                                               bi, hi, T, numChunks, hOuts, status);
                scf::YieldOp::create(b, loc, r);
              });
          scf::YieldOp::create(b, loc, hLoop.getResults());
        });
    if (failed(status))
      return failure();
    func::ReturnOp::create(b, loc, bLoop.getResults());
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
  LogicalResult positionInputs(ArrayRef<Operation *> decls,
                               DenseMap<Operation *, Value> &declArg,
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

  /// The body of the h loop: initial states, the chunk loop, final states.
  SmallVector<Value> perHead(ArrayRef<Operation *> decls,
                             DenseMap<Operation *, Value> &declArg,
                             DenseMap<Operation *, Value> &positionValue,
                             ChunkStepOp step, Value bi, Value hi, Value T,
                             Value numChunks, ValueRange outs,
                             LogicalResult &status) {
    Block &sb = step.getBody().front();
    IRMapping fixed; // per-(b, h) block arguments
    SmallVector<Value> stateInit;
    for (auto [i, d] : llvm::enumerate(decls)) {
      Type ct = sb.getArgument(i).getType();
      auto ctt = cast<RankedTensorType>(ct);
      if (isa<PositionInputOp>(d)) {
        fixed.map(sb.getArgument(i), positionValue[d]);
      } else if (auto p = dyn_cast<ParamOp>(d)) {
        Value arg = declArg[d];
        if (isa<VecType>(p.getType())) {
          int64_t n = ctt.getDimSize(1);
          fixed.map(sb.getArgument(i),
                    tensor::ExtractSliceOp::create(b, loc, ctt, arg,
                                                   {OpFoldResult(hi), b.getIndexAttr(0)},
                                                   attrs({1, n}), attrs({1, 1})));
        } else {
          Value s = tensor::ExtractSliceOp::create(
              b, loc, RankedTensorType::get({1}, f32), arg, {OpFoldResult(hi)},
              attrs({1}), attrs({1}));
          fixed.map(sb.getArgument(i),
                    tensor::ExpandShapeOp::create(b, loc, ctt, s,
                                                  ArrayRef<ReassociationIndices>{{0, 1}}));
        }
      } else if (auto s = dyn_cast<StateOp>(d)) {
        stateInit.push_back(initialState(s, ctt, declArg.lookup(d), bi, hi));
      }
    }

    // The chunk loop carries the states and the readout outputs.
    unsigned numReadouts = step.getReadouts().size();
    SmallVector<Value> iter = stateInit;
    iter.append(outs.begin(), outs.begin() + numReadouts);
    unsigned numStates = stateInit.size();
    auto cLoop = scf::ForOp::create(
        b, loc, idx(0), numChunks, idx(1), iter,
        [&](OpBuilder &, Location, Value ci, ValueRange args) {
          Value t0 = arith::MulIOp::create(b, loc, ci, idx(C));
          Value valid = arith::MinSIOp::create(
              b, loc, idx(C), arith::SubIOp::create(b, loc, T, t0));
          IRMapping m = fixed;
          unsigned stateNo = 0;
          for (auto [i, d] : llvm::enumerate(decls)) {
            Value arg = sb.getArgument(i);
            if (auto in = dyn_cast<InputOp>(d))
              m.map(arg, loadTokens(declArg[d], cast<RankedTensorType>(arg.getType()),
                                    bi, hi, t0, valid, isa<VecType>(in.getType())));
            else if (isa<StateOp>(d))
              m.map(arg, args[stateNo++]);
          }
          m.map(sb.getArgument(sb.getNumArguments() - 1), valid);
          for (Operation &op : sb.without_terminator())
            b.clone(op, m);
          auto y = cast<YieldOp>(sb.getTerminator());
          SmallVector<Value> next;
          // The next states are written over the carried ones (a copy that
          // bufferizes in place), so the loop needs no new state buffer per
          // chunk.
          for (unsigned s = 0; s < numStates; ++s)
            next.push_back(linalg::CopyOp::create(b, loc, m.lookup(y.getValues()[numReadouts + s]),
                                                  args[s])
                               .getResult(0));
          for (unsigned r = 0; r < numReadouts; ++r)
            next.push_back(storeTokens(m.lookup(y.getValues()[r]), args[numStates + r],
                                       bi, hi, t0, valid));
          scf::YieldOp::create(b, loc, next);
        });

    SmallVector<Value> result;
    for (unsigned r = 0; r < numReadouts; ++r)
      result.push_back(cLoop.getResult(numStates + r));
    unsigned finalNo = numReadouts, stateNo = 0;
    for (Operation *d : decls) {
      auto s = dyn_cast<StateOp>(d);
      if (!s)
        continue;
      Value v = cLoop.getResult(stateNo++);
      if (!s.getFinal())
        continue;
      result.push_back(storeState(v, outs[finalNo++], bi, hi));
    }
    (void)status;
    return result;
  }

  Value initialState(StateOp s, RankedTensorType ct, Value arg, Value bi, Value hi) {
    if (!arg)
      return zeros(ct.getShape());
    // The initial states of every program (dimension 0 of size 1) or one
    // per batch row.
    Value dim0 = tensor::DimOp::create(b, loc, arg, 0);
    Value shared = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, dim0, idx(1));
    Value row = arith::SelectOp::create(b, loc, shared, idx(0), bi);
    SmallVector<int64_t> inner = specShape(s.getType(), D);
    if (!s.getInitOptional()) {
      SmallVector<OpFoldResult> off{row, hi}, sizes = attrs({1, 1}), strides = attrs({1, 1});
      for (int64_t n : inner) {
        off.push_back(b.getIndexAttr(0));
        sizes.push_back(b.getIndexAttr(n));
        strides.push_back(b.getIndexAttr(1));
      }
      return tensor::ExtractSliceOp::create(b, loc, ct, arg, off, sizes, strides);
    }
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

  Value storeState(Value v, Value dest, Value bi, Value hi) {
    auto t = cast<RankedTensorType>(v.getType());
    auto dt = cast<RankedTensorType>(dest.getType());
    SmallVector<OpFoldResult> off{bi, hi}, sizes = attrs({1, 1}), strides = attrs({1, 1});
    for (int64_t i = 2; i < dt.getRank(); ++i) {
      off.push_back(b.getIndexAttr(0));
      sizes.push_back(b.getIndexAttr(dt.getDimSize(i)));
      strides.push_back(b.getIndexAttr(1));
    }
    // A vector state is [1, n] at chunk level, [n] in the destination.
    if (t.getRank() == 2 && dt.getRank() == 3)
      v = tensor::CollapseShapeOp::create(b, loc, RankedTensorType::get({t.getDimSize(1)}, f32),
                                          v, ArrayRef<ReassociationIndices>{{0, 1}});
    return tensor::InsertSliceOp::create(b, loc, v, dest, off, sizes, strides);
  }
};

struct TTTLowerLayerToFuncPass
    : ttt::impl::TTTLowerLayerToFuncBase<TTTLowerLayerToFuncPass> {
  using Base::Base;
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    Type io;
    if (ioType == "f32")
      io = Float32Type::get(ctx);
    else if (ioType == "bf16")
      io = BFloat16Type::get(ctx);
    else if (ioType == "f16")
      io = Float16Type::get(ctx);
    else {
      getOperation().emitError("ttt-lower-layer-to-func: io-dtype must be f32, bf16 or f16, got '")
          << ioType << "'";
      return signalPassFailure();
    }
    SmallVector<LayerOp> layers;
    getOperation().walk([&](LayerOp l) { layers.push_back(l); });
    for (LayerOp l : layers)
      if (failed(LayerLowering(l, io).run()))
        return signalPassFailure();
  }
};
} // namespace
